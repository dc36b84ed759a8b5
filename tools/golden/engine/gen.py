#!/usr/bin/env python3
"""Generate PyTorch reference values for the autograd engine's ops.

For every case the script draws fixed inputs, runs the op forward, and
back-propagates a fixed random weighting of the output (the gradient of
sum(w * out)), then writes inputs, output, weights and input gradients to
autograd/testdata/golden/<op>.json (the segmentation cases of issue 20 all
to segmentation.json). The Go test autograd/golden_test.go replays each case
and compares forward and backward values.

Run from the repository root with Debian's python3-torch (1.13) and
python3-torchvision:

    python3 tools/golden/engine/gen.py
"""

import json
import os
import sys

import torch
import torch.nn.functional as F
import torchvision

OUT = os.path.join("autograd", "testdata", "golden")

cases = {}  # op -> list of case dicts
seed = [1000]


def next_gen():
    seed[0] += 1
    g = torch.Generator()
    g.manual_seed(seed[0])
    return g


def randn(*shape):
    return torch.randn(tuple(shape), generator=next_gen(), dtype=torch.float32)


def uniform(lo, hi, *shape):
    return lo + (hi - lo) * torch.rand(tuple(shape), generator=next_gen(), dtype=torch.float32)


def enc(t):
    t = t.detach().to(torch.float32).contiguous()
    return {"shape": list(t.shape), "data": [float(v) for v in t.reshape(-1).tolist()]}


def add(op, name, fn, inputs, params=None, consts=None, extra=None):
    """Record one case: fn(*inputs) is the output; extra(*inputs) may return
    additional named tensors to compare (indices, updated statistics)."""
    params = params or {}
    consts = consts or {}
    xs = [x.clone().requires_grad_(True) for x in inputs]
    snapshot = {k: v.clone() for k, v in consts.items()}
    out = fn(*xs)
    w = uniform(-1, 1, *out.shape)
    (out * w).sum().backward()
    case = {
        "name": name,
        "op": op,
        "params": params,
        "consts": {k: enc(v) for k, v in snapshot.items()},
        "inputs": [enc(x) for x in inputs],
        "output": enc(out),
        "weight": enc(w),
        "grads": [enc(x.grad) if x.grad is not None else None for x in xs],
    }
    if extra is not None:
        case["extra"] = {k: enc(v) for k, v in extra().items()}
    cases.setdefault(op, []).append(case)


def binary():
    shapes = [((2, 3), (2, 3)), ((2, 3, 4), (3, 1)), ((2, 1, 3), (1, 4, 1)), ((1,), (2, 3)), ((2, 3), ()), ((1, 1), (1, 1))]
    for op, fn in [("add", torch.add), ("sub", torch.sub), ("mul", torch.mul), ("div", torch.div)]:
        for sa, sb in shapes:
            a = randn(*sa)
            b = uniform(0.5, 2, *sb) if op == "div" else randn(*sb)
            add(op, f"{op}{list(sa)}{list(sb)}", fn, [a, b])


def unary():
    u = [
        ("neg", lambda x: -x, randn(3, 4), {}),
        ("scale", lambda x: 2.5 * x, randn(5), {"s": 2.5}),
        ("add_scalar", lambda x: x - 1.5, randn(2, 1, 3), {"s": -1.5}),
        ("exp", torch.exp, randn(3, 3), {}),
        ("log", torch.log, uniform(0.2, 3, 3, 3), {}),
        ("sqrt", torch.sqrt, uniform(0.2, 3, 3, 3), {}),
        ("pow", lambda x: torch.pow(x, 2.0), randn(6), {"p": 2.0}),
        ("pow", lambda x: torch.pow(x, 1.5), uniform(0.2, 2, 6), {"p": 1.5}),
        ("pow", lambda x: torch.pow(x, -0.5), uniform(0.2, 2, 2, 3), {"p": -0.5}),
        ("abs", torch.abs, randn(2, 5), {}),
        ("clamp", lambda x: torch.clamp(x, -0.5, 0.7), randn(4, 4), {"lo": -0.5, "hi": 0.7}),
        ("relu", F.relu, randn(4, 5), {}),
        ("leaky_relu", lambda x: F.leaky_relu(x, 0.1), randn(4, 5), {"slope": 0.1}),
        ("gelu", F.gelu, 3 * randn(3, 4), {}),
        ("sigmoid", torch.sigmoid, 3 * randn(3, 4), {}),
        ("tanh", torch.tanh, randn(3, 4), {}),
        ("softplus", F.softplus, 10 * randn(3, 4), {}),
    ]
    for op, fn, x, p in u:
        add(op, f"{op}{list(x.shape)}{p}", fn, [x], p)


def linear():
    add("linear", "linear", F.linear, [randn(4, 3), randn(5, 3), randn(5)])
    add("linear", "linear3d-nobias", lambda x, w: F.linear(x, w), [randn(2, 2, 3), randn(1, 3)])
    add("matmul", "matmul", torch.matmul, [randn(3, 4), randn(4, 2)])
    add("batch_matmul", "bmm", torch.matmul, [randn(2, 3, 4), randn(2, 4, 2)])
    add("batch_matmul", "bmm-shared", torch.matmul, [randn(2, 2, 3, 4), randn(4, 2)])


def conv():
    specs = [
        ("conv", (2, 3, 5, 6), (4, 3, 3, 3), True, dict(stride=[1, 1], padding=[1, 1], dilation=[1, 1], groups=1)),
        ("stride-dil", (1, 2, 7, 6), (3, 2, 3, 2), True, dict(stride=[2, 1], padding=[2, 1], dilation=[2, 2], groups=1)),
        ("groups", (2, 4, 4, 4), (6, 2, 3, 3), False, dict(stride=[1, 1], padding=[1, 1], dilation=[1, 1], groups=2)),
        ("depthwise", (1, 3, 4, 5), (3, 1, 3, 3), True, dict(stride=[2, 2], padding=[1, 1], dilation=[1, 1], groups=3)),
        ("1x1", (2, 3, 3, 2), (2, 3, 1, 1), True, dict(stride=[1, 1], padding=[0, 0], dilation=[1, 1], groups=1)),
        ("resnet-stem", (1, 3, 12, 11), (4, 3, 7, 7), False, dict(stride=[2, 2], padding=[3, 3], dilation=[1, 1], groups=1)),
        ("1x1-stride2", (2, 4, 5, 5), (3, 4, 1, 1), False, dict(stride=[2, 2], padding=[0, 0], dilation=[1, 1], groups=1)),
    ]
    for name, xs, ws, bias, p in specs:
        ins = [randn(*xs), randn(*ws)] + ([randn(ws[0])] if bias else [])
        add("conv2d", name, lambda x, w, b=None: F.conv2d(x, w, b, **p), ins, p)
    tspecs = [
        ("convT", (2, 3, 3, 4), (3, 2, 3, 3), True, dict(stride=[2, 2], padding=[1, 1], output_padding=[1, 0], dilation=[1, 1], groups=1)),
        ("convT-groups", (1, 4, 3, 3), (4, 1, 2, 3), True, dict(stride=[1, 2], padding=[0, 0], output_padding=[0, 1], dilation=[2, 1], groups=2)),
    ]
    for name, xs, ws, bias, p in tspecs:
        ins = [randn(*xs), randn(*ws)] + ([randn(ws[1] * p["groups"])] if bias else [])
        add("conv_transpose2d", name, lambda x, w, b=None: F.conv_transpose2d(x, w, b, **p), ins, p)


def pool():
    mp = [
        ("max", (2, 2, 5, 6), dict(kernel=[2, 3], stride=[2, 2], padding=[1, 1], dilation=[1, 1], ceil=False)),
        ("max-ceil-dil", (1, 2, 7, 7), dict(kernel=[3, 3], stride=[2, 2], padding=[0, 0], dilation=[2, 1], ceil=True)),
        ("max-default-stride", (1, 1, 6, 6), dict(kernel=[2, 2], stride=[2, 2], padding=[0, 0], dilation=[1, 1], ceil=False)),
        ("max-2x2-odd", (2, 3, 5, 7), dict(kernel=[2, 2], stride=[2, 2], padding=[0, 0], dilation=[1, 1], ceil=False)),
        ("max-resnet", (1, 2, 9, 8), dict(kernel=[3, 3], stride=[2, 2], padding=[1, 1], dilation=[1, 1], ceil=False)),
    ]
    for name, xs, p in mp:
        add("max_pool2d", name, lambda x: F.max_pool2d(x, p["kernel"], p["stride"], p["padding"], p["dilation"], ceil_mode=p["ceil"]), [randn(*xs)], p)
    ap = [
        ("avg-ceil", (2, 2, 5, 6), dict(kernel=[3, 2], stride=[2, 2], padding=[1, 1], ceil=True, exclude_pad=False)),
        ("avg-exclude", (1, 2, 5, 5), dict(kernel=[3, 3], stride=[1, 1], padding=[1, 1], ceil=False, exclude_pad=True)),
    ]
    for name, xs, p in ap:
        add("avg_pool2d", name, lambda x: F.avg_pool2d(x, p["kernel"], p["stride"], p["padding"], ceil_mode=p["ceil"], count_include_pad=not p["exclude_pad"]), [randn(*xs)], p)
    for xs, o in [((2, 2, 5, 7), [3, 4]), ((1, 3, 4, 4), [1, 1]), ((1, 1, 3, 5), [5, 2])]:
        add("adaptive_avg_pool2d", f"adaptive{list(xs)}{o}", lambda x: F.adaptive_avg_pool2d(x, o), [randn(*xs)], {"out": o})


def norms():
    for name, xs, train in [("train", (3, 2, 2, 3), True), ("eval", (2, 2, 2, 2), False), ("train-1d", (5, 3), True)]:
        c = xs[1]
        rm, rv = randn(c) * 0.1, uniform(0.5, 2, c)
        rm2, rv2 = rm.clone(), rv.clone()
        state = {}

        def fn(x, w, b, rm2=rm2, rv2=rv2):
            return F.batch_norm(x, rm2, rv2, w, b, training=train, momentum=0.1, eps=1e-5)

        add("batch_norm", name, fn, [randn(*xs), randn(c), randn(c)], {"training": train, "momentum": 0.1},
            consts={"running_mean": rm, "running_var": rv},
            extra=lambda rm2=rm2, rv2=rv2: {"running_mean": rm2, "running_var": rv2})
    add("layer_norm", "ln", lambda x, w, b: F.layer_norm(x, [3, 4], w, b), [randn(2, 3, 4), randn(3, 4), randn(3, 4)], {"shape": [3, 4]})
    add("layer_norm", "ln-last", lambda x, w, b: F.layer_norm(x, [5], w, b, eps=1e-6), [randn(4, 5), randn(5), randn(5)], {"shape": [5], "eps": 1e-6})
    add("group_norm", "gn", lambda x, w, b: F.group_norm(x, 2, w, b), [randn(2, 4, 2, 3), randn(4), randn(4)], {"groups": 2})
    add("group_norm", "gn-inst", lambda x, w, b: F.group_norm(x, 3, w, b), [randn(1, 3, 5), randn(3), randn(3)], {"groups": 3})


def softmax():
    add("softmax", "softmax-1", lambda x: F.softmax(x, 1), [randn(2, 3, 4)], {"axis": 1})
    add("softmax", "softmax-last", lambda x: F.softmax(x, -1), [3 * randn(3, 5)], {"axis": -1})
    add("log_softmax", "logsoftmax-last", lambda x: F.log_softmax(x, -1), [3 * randn(3, 5)], {"axis": -1})
    add("log_softmax", "logsoftmax-0", lambda x: F.log_softmax(x, 0), [randn(4, 2, 2)], {"axis": 0})
    # Attention-style masking: -inf scores get zero probability and gradient.
    m = uniform(0, 1, 2, 3, 4) > 0.6
    m[..., 0] = False
    add("masked_softmax", "masked-softmax", lambda x: F.softmax(x.masked_fill(m, float("-inf")), -1), [randn(2, 3, 4)],
        {"mask": m.reshape(-1).tolist()})


def losses():
    t = [2, 0, 4, 1, -100, 3]
    tt = torch.tensor(t)
    w = torch.tensor([0.5, 1, 2, 1.5, 0.7])
    add("cross_entropy", "ce", lambda x: F.cross_entropy(x, tt), [randn(6, 5)], {"targets": t})
    add("cross_entropy", "ce-smooth", lambda x: F.cross_entropy(x, tt, label_smoothing=0.2), [randn(6, 5)], {"targets": t, "smoothing": 0.2})
    add("cross_entropy", "ce-weight", lambda x: F.cross_entropy(x, tt, weight=w), [randn(6, 5)], {"targets": t}, consts={"weight": w})
    t2 = [2, 0, 4, 1, 255, 3]
    add("cross_entropy", "ce-all", lambda x: F.cross_entropy(x, torch.tensor(t2), weight=w, label_smoothing=0.2, ignore_index=255),
        [randn(6, 5)], {"targets": t2, "smoothing": 0.2, "ignore": 255}, consts={"weight": w})
    t3 = [0, 1, 2, 1, -100, 2, 0, 0]
    add("cross_entropy", "ce-spatial", lambda x: F.cross_entropy(x, torch.tensor(t3).reshape(2, 2, 2), label_smoothing=0.1),
        [randn(2, 3, 2, 2)], {"targets": t3, "smoothing": 0.1})
    y = torch.tensor([[1, 0, 0, 1], [0.3, 1, 0, 0], [1, 0, 1, 0]])
    bw, pw = uniform(0.5, 1.5, 4), torch.tensor([1.0, 2, 0.5, 3])
    add("bce_with_logits", "bce", lambda x: F.binary_cross_entropy_with_logits(x, y), [3 * randn(3, 4)], {"reduction": "mean"}, consts={"target": y})
    add("bce_with_logits", "bce-weights", lambda x: F.binary_cross_entropy_with_logits(x, y, weight=bw, pos_weight=pw, reduction="sum"),
        [3 * randn(3, 4)], {"reduction": "sum"}, consts={"target": y, "weight": bw, "pos_weight": pw})
    yb = (uniform(0, 1, 3, 4) > 0.5).float()
    add("sigmoid_focal_loss", "focal", lambda x: torchvision.ops.sigmoid_focal_loss(x, yb), [2 * randn(3, 4)],
        {"alpha": 0.25, "gamma": 2.0, "reduction": "none"}, consts={"target": yb})
    add("sigmoid_focal_loss", "focal-sum", lambda x: torchvision.ops.sigmoid_focal_loss(x, yb, alpha=-1, gamma=1.5, reduction="sum"), [2 * randn(3, 4)],
        {"alpha": -1.0, "gamma": 1.5, "reduction": "sum"}, consts={"target": yb})
    add("l1_loss", "l1", F.l1_loss, [randn(3, 4), randn(3, 4)], {"reduction": "mean"})
    add("mse_loss", "mse", lambda a, b: F.mse_loss(a, b, reduction="sum"), [randn(3, 4), randn(3, 4)], {"reduction": "sum"})
    add("smooth_l1_loss", "smoothl1", lambda a, b: F.smooth_l1_loss(a, b, reduction="none", beta=0.5), [randn(3, 4), randn(3, 4)],
        {"reduction": "none", "beta": 0.5})
    add("smooth_l1_loss", "smoothl1-mean", lambda a, b: F.smooth_l1_loss(a, b, beta=1.0), [2 * randn(5), 2 * randn(5)],
        {"reduction": "mean", "beta": 1.0})


def shapes():
    add("reshape", "reshape", lambda x: torch.tanh(x.reshape(4, -1)), [randn(2, 3, 4)], {"shape": [4, -1]})
    add("flatten", "flatten", lambda x: torch.flatten(x, 1), [randn(2, 3, 2, 2)], {"start": 1, "end": -1})
    add("permute", "permute", lambda x: x.permute(2, 0, 1), [randn(2, 3, 4)], {"perm": [2, 0, 1]})
    add("transpose", "transpose", lambda x: x.transpose(0, 2), [randn(2, 3, 4)], {"a": 0, "b": 2})
    add("slice", "slice", lambda x: x[:, 1:4], [randn(3, 5, 2)], {"axis": 1, "start": 1, "end": 4})
    add("split", "split", lambda x: torch.cat([p * (i + 1) for i, p in enumerate(torch.split(x, [2, 3], 1))], 1), [randn(4, 5)], {"axis": 1, "sizes": [2, 3]})
    add("concat", "concat", lambda a, b: torch.cat([a, b, a], 1), [randn(2, 3, 2), randn(2, 1, 2)], {"axis": 1})
    add("stack", "stack", lambda a, b: torch.stack([a, b], 1), [randn(2, 3), randn(2, 3)], {"axis": 1})
    add("index_select", "index_select", lambda x: torch.index_select(x, 1, torch.tensor([3, 0, 3])), [randn(3, 4)], {"axis": 1, "index": [3, 0, 3]})
    idx = torch.tensor([[[0, 3, 1], [2, 2, 0]], [[1, 1, 3], [0, 2, 3]]])
    add("gather", "gather", lambda x: torch.gather(x, 1, idx), [randn(2, 4, 3)],
        {"axis": 1, "index": idx.reshape(-1).tolist(), "index_shape": list(idx.shape)})
    mask = uniform(0, 1, 3, 4) > 0.5
    add("where", "where", lambda a, b: torch.where(mask, a, b), [randn(3, 4), randn(4)], {"mask": mask.reshape(-1).tolist()})
    add("masked_fill", "masked_fill", lambda x: x.masked_fill(mask, -3.0), [randn(3, 4)], {"mask": mask.reshape(-1).tolist(), "value": -3.0})
    ei = [4, 1, 1, 0]
    add("embedding", "embedding", lambda w: F.embedding(torch.tensor(ei).reshape(2, 2), w), [randn(5, 3)], {"index": ei, "shape": [2, 2]})


def reductions():
    add("sum", "sum-all", lambda x: x.sum(), [randn(3, 4)], {})
    add("mean", "mean-all", lambda x: x.mean(), [randn(3, 4)], {})
    add("sum_axes", "sum-0-2", lambda x: x.sum((0, 2)), [randn(2, 3, 4)], {"axes": [0, 2], "keep": False})
    add("sum_axes", "sum-1-keep", lambda x: x.sum(1, keepdim=True), [randn(2, 3, 4)], {"axes": [1], "keep": True})
    add("mean_axes", "mean-keep", lambda x: x.mean((-1, 1), keepdim=True), [randn(2, 1, 4)], {"axes": [-1, 1], "keep": True})
    add("mean_axes", "mean-0", lambda x: x.mean(0), [randn(3, 2)], {"axes": [0], "keep": False})
    x = randn(2, 5, 3)
    add("max", "max-1", lambda x: x.max(1).values, [x], {"axis": 1, "keep": False}, extra=lambda: {"indices": x.max(1).indices.float()})
    x2 = randn(3, 4)
    add("max", "max-last-keep", lambda x: x.max(-1, keepdim=True).values, [x2], {"axis": -1, "keep": True},
        extra=lambda: {"indices": x2.max(-1, keepdim=True).indices.float()})
    x3 = randn(2, 6)
    add("topk", "topk", lambda x: x.topk(3, 1).values, [x3], {"k": 3, "axis": 1, "largest": True}, extra=lambda: {"indices": x3.topk(3, 1).indices.float()})
    x4 = randn(5, 2)
    add("topk", "topk-smallest", lambda x: x.topk(2, 0, largest=False).values, [x4], {"k": 2, "axis": 0, "largest": False},
        extra=lambda: {"indices": x4.topk(2, 0, largest=False).indices.float()})


def resize():
    for xs, o, ac in [((1, 2, 3, 4), [5, 7], False), ((1, 1, 6, 5), [4, 2], False), ((2, 1, 3, 3), [5, 4], True), ((1, 1, 4, 4), [1, 3], True)]:
        add("resize_bilinear", f"bilinear{list(xs)}{o}-{ac}", lambda x: F.interpolate(x, size=o, mode="bilinear", align_corners=ac), [randn(*xs)],
            {"out": o, "align_corners": ac})


def attention():
    """Scaled dot-product attention fused into one op, and DropPath and the
    ViT's patch embedding (a strided convolution, flattened)."""
    for name, qs, ks, scale in [("sdpa", (2, 3, 4, 8), (2, 3, 5, 8), 8 ** -0.5), ("sdpa-square", (1, 2, 6, 4), (1, 2, 6, 4), 0.5),
                                ("sdpa-3d", (3, 1, 5), (3, 7, 5), 1.0)]:
        add("attention", name, lambda q, k, v: torch.softmax(scale * q @ k.transpose(-2, -1), -1) @ v,
            [randn(*qs), randn(*ks), randn(*ks)], {"scale": scale})
    keep = [True, False, True, True]
    for p in [0.25, 0.5]:
        mask = torch.tensor(keep, dtype=torch.float32).reshape(4, 1, 1) / (1 - p)
        add("drop_path", f"drop_path-{p}", lambda x: x * mask, [randn(4, 3, 2)], {"p": p, "keep": keep})
    for name, xs, ws in [("patch16", (1, 3, 32, 16), (4, 3, 16, 16)), ("patch4", (1, 2, 8, 4), (5, 2, 4, 4))]:
        pt = ws[2]
        add("patch_embed", name, lambda x, w, b: F.conv2d(x, w, b, stride=pt).flatten(2).transpose(1, 2),
            [randn(*xs), 0.1 * randn(*ws), randn(ws[0])], {"patch": pt})


def boxes_in(n, w, h, lo, hi):
    """n xyxy boxes with corners in the w×h image widened by lo..hi pixels."""
    c = uniform(0, 1, n, 2) * torch.tensor([w, h])
    s = uniform(lo, hi, n, 2)
    return torch.cat([c - s / 2, c + s / 2], 1)


def roi_align():
    # Boxes reach over the border, are smaller than a feature pixel or
    # empty, so that clamping, the one-pixel margin and the adaptive grid
    # are all exercised.
    cases = [
        ("aligned-sr2", (2, 3, 12, 14), 0.25, [7, 7], 2, True, boxes_in(5, 56, 48, 2, 40)),
        ("unaligned-adaptive", (2, 2, 9, 8), 0.5, [3, 2], 0, False, boxes_in(4, 16, 18, 0.5, 20)),
        ("aligned-adaptive", (1, 2, 10, 10), 1.0, [2, 3], 0, True, boxes_in(4, 10, 10, 0.2, 9)),
        ("unaligned-sr1-outside", (1, 1, 6, 7), 0.5, [4, 4], 1, False, boxes_in(3, 14, 12, 10, 30) + torch.tensor([4.0, -6, 4, -6])),
    ]
    for name, xs, scale, out, sr, al, b in cases:
        b[-1, 2] = b[-1, 0]  # an empty box
        batch = [i % xs[0] for i in range(b.shape[0])]
        rois = torch.cat([torch.tensor(batch, dtype=torch.float32)[:, None], b], 1)
        add("roi_align", name, lambda x: torchvision.ops.roi_align(x, rois, out, scale, sr, al), [randn(*xs)],
            {"batch": batch, "out": out, "scale": scale, "sampling": sr, "aligned": al}, consts={"boxes": b})


def multiscale_roi_align():
    # torchvision's pooler, aligned=False, on P2–P5 of a size×size canvas.
    for name, n, c, size, canonical, out, sr in [
        ("canonical32", 2, 2, 64, 32, [3, 3], 2),
        ("canonical224", 1, 1, 128, 224, [2, 2], 0),
    ]:
        feats = [randn(n, c, size >> l, size >> l) for l in range(2, 6)]
        sides = torch.tensor([4.0, 9, 16, 24, 31, 32, 47, 64, 90, 128])[: 5 * n]
        ctr = uniform(0, size, len(sides), 2)
        b = torch.cat([ctr - sides[:, None] / 2, ctr + sides[:, None] / 2], 1)
        batch = [i * n // len(sides) for i in range(len(sides))]
        per = [b[[i for i, k in enumerate(batch) if k == j]] for j in range(n)]
        pool = torchvision.ops.MultiScaleRoIAlign(["p2", "p3", "p4", "p5"], out, sr, canonical_scale=canonical)

        def fn(*fs, per=per, pool=pool, n=n, size=size):
            return pool(dict(zip(["p2", "p3", "p4", "p5"], fs)), per, [(size, size)] * n)

        add("multiscale_roi_align", name, fn, feats,
            {"batch": batch, "out": out, "sampling": sr, "canonical": canonical}, consts={"boxes": b})


def resize_nearest():
    for xs, o in [((1, 2, 3, 4), [6, 8]), ((1, 1, 5, 7), [3, 4]), ((2, 1, 3, 3), [7, 5]), ((1, 1, 4, 4), [4, 4])]:
        add("resize_nearest", f"nearest{list(xs)}{o}", lambda x: F.interpolate(x, size=o, mode="nearest"), [randn(*xs)], {"out": o})


def seg_engine():
    """The cases PSPNet-R18-D8 needs (issue 20), written to segmentation.json
    so that the other files stay as they are: dilated 3×3 convolutions with
    padding = dilation, adaptive average pooling to the pyramid bins from
    sizes they do not divide, bilinear resizing with align_corners False up
    and down, and mmsegmentation's per-pixel cross-entropy."""
    for d, xs in [(2, (2, 3, 9, 10)), (4, (1, 4, 11, 9))]:
        p = dict(stride=[1, 1], padding=[d, d], dilation=[d, d], groups=1)
        ins = [randn(*xs), randn(5, xs[1], 3, 3), randn(5)]
        add("conv2d", f"seg-dilated{d}", lambda x, w, b, p=p: F.conv2d(x, w, b, **p), ins, p)
    p = dict(stride=[2, 2], padding=[2, 2], dilation=[2, 2], groups=1)
    add("conv2d", "seg-dilated2-stride2", lambda x, w, p=p: F.conv2d(x, w, None, **p), [randn(1, 2, 9, 8), randn(3, 2, 3, 3)], p)
    for xs in [(2, 3, 7, 10), (1, 2, 13, 11)]:
        for b in [1, 2, 3, 6]:
            add("adaptive_avg_pool2d", f"seg-bins{list(xs)}-{b}", lambda x, b=b: F.adaptive_avg_pool2d(x, b), [randn(*xs)], {"out": [b, b]})
    for xs, o in [((1, 2, 1, 1), [7, 10]), ((2, 2, 2, 2), [7, 10]), ((1, 3, 3, 3), [13, 11]), ((1, 2, 6, 6), [7, 10]),
                  ((1, 2, 8, 9), [32, 36]), ((1, 2, 13, 11), [4, 5]), ((2, 1, 16, 12), [8, 6])]:
        add("resize_bilinear", f"seg-bilinear{list(xs)}{o}", lambda x, o=o: F.interpolate(x, size=o, mode="bilinear", align_corners=False),
            [randn(*xs)], {"out": o, "align_corners": False})
    # mmsegmentation's CrossEntropyLoss: the per-pixel loss with
    # reduction='none', then a sum over the pixels divided by the number of
    # all pixels (ignored ones included) or, with avg_non_ignore, by the
    # number of non-ignored pixels.
    g = next_gen()
    for name, shape, c, w, avg_non_ignore in [("mmseg", (2, 4, 3, 5), 4, None, False), ("mmseg-non-ignore", (2, 4, 3, 5), 4, None, True),
                                               ("mmseg-weight", (1, 5, 4, 4), 5, [0.8, 1.2, 2.0, 0.5, 1.0], False),
                                               ("mmseg-weight-non-ignore", (1, 5, 4, 4), 5, [0.8, 1.2, 2.0, 0.5, 1.0], True)]:
        n, _, h, wd = shape
        lab = torch.randint(0, c, (n, h, wd), generator=g)
        lab[torch.rand((n, h, wd), generator=g) < 0.3] = 255
        wt = torch.tensor(w) if w is not None else None
        den = float((lab != 255).sum()) if avg_non_ignore else float(lab.numel())

        def fn(x, lab=lab, wt=wt, den=den):
            return F.cross_entropy(x, lab, weight=wt, reduction="none", ignore_index=255).sum() / den
        params = {"labels": [int(v) for v in lab.reshape(-1).tolist()], "ignore": 255, "avg_non_ignore": avg_non_ignore}
        add("seg_cross_entropy", name, fn, [randn(*shape)], params, consts={"weight": wt} if wt is not None else None)


def gem():
    # The common re-ID GeM (the strong baseline's GeneralizedMeanPooling):
    # avg_pool(x.clamp(min=eps)^p)^(1/p) with a learnable p. Inputs mix
    # negatives and zeros (ReLU outputs) that the clamp lifts to eps.
    def fn(x, p, eps=1e-6):
        return F.adaptive_avg_pool2d(x.clamp(min=eps).pow(p), 1).pow(1.0 / p).flatten(1)
    for name, xs, p0 in [("gem-p3", (2, 3, 4, 3), 3.0), ("gem-p1.5", (1, 2, 5, 2), 1.5)]:
        x = torch.relu(randn(*xs)) + 0.5 * uniform(0, 1, *xs) * (randn(*xs) > 0)
        add("gem", name, lambda x, p: fn(x, p), [x, torch.tensor([p0])], {"eps": 1e-6})


SEG_FILE = "segmentation.json"


def main():
    torch.set_num_threads(1)
    for f in [binary, unary, linear, conv, pool, norms, softmax, losses, shapes, reductions, resize, attention, roi_align, multiscale_roi_align,
              resize_nearest, gem]:
        f()
    os.makedirs(OUT, exist_ok=True)
    # The segmentation cases go to a file of their own, drawn after the
    # others so that their seeds stay as they were.
    before = {op: list(cs) for op, cs in cases.items()}
    cases.clear()
    seg_engine()
    seg = [c for cs in cases.values() for c in cs]
    with open(os.path.join(OUT, SEG_FILE), "w") as fh:
        json.dump({"torch": torch.__version__, "cases": seg}, fh, separators=(",", ":"))
    cases.clear()
    cases.update(before)
    for op, cs in sorted(cases.items()):
        with open(os.path.join(OUT, op + ".json"), "w") as fh:
            json.dump({"torch": torch.__version__, "cases": cs}, fh, separators=(",", ":"))
    print(f"wrote {sum(len(c) for c in cases.values())} cases for {len(cases)} ops to {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
