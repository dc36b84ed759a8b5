"""Golden training step of a reduced ATSS detector under each assigner.

A reduced model (a small strided-convolution backbone giving P3–P7 of 16
channels, and ATSS's head with 4 tower blocks, GroupNorm of 4 groups (a group of 2 channels on the 1×1 P7 would
normalise 2 values, whose gradient cancels to rounding), 3
classes) is written with seeded weights to
detect/atss/testdata/atss_step_init.safetensors. For a batch of two 128×128
images and their ground truths (among them a thin box with no anchor centre
inside, two identical boxes and a degenerate one), and for each assigner
(atss, topk, simota, hps), this script computes in float64 the assignment,
the three loss terms (sigmoid focal / max(positives, 1); 2 × GIoU weighted
by the centerness targets / their sum; centerness BCE / max(positives, 1))
and the gradient of their sum with respect to every parameter. It writes
detect/atss/testdata/atss_step.json (inputs, targets, assignments, loss
terms) and atss_step_grads.safetensors (the input images, "input", and the
gradients, named <assigner>/<parameter>).

The assigners are written here from their descriptions in
docs/methods/hps-det.md: ATSS's adaptive threshold as the official code
(sfzhang15/ATSS) computes it, its TOPK mode, SimOTA as YOLOX with the
centerness as objectness, HPS; each followed by the rule that gives a ground
truth without a positive its preferred free anchor. The loss uses
torchvision's sigmoid_focal_loss and generalized_box_iou_loss.

Run from the repository root: /usr/bin/python3 tools/golden/detection/atss_step.py
"""
import json
import math
import os
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.ops import box_iou, generalized_box_iou_loss, sigmoid_focal_loss

OUT = os.path.join("detect", "atss", "testdata")
CH, GROUPS, CONVS, CLASSES = 16, 4, 4, 3
STRIDES = [8, 16, 32, 64, 128]
SIZE, OCTAVE, PRIOR = 128, 8.0, 0.01
STDS = [0.1, 0.1, 0.2, 0.2]
MAX_RATIO = abs(math.log(16.0 / 1000))
CASES = {
    "atss": {"kind": "atss", "topk": 9},
    "topk": {"kind": "topk", "k": 9},
    "simota": {"kind": "simota", "q": 10, "radius": 2.5},
    "hps": {"kind": "hps", "bands": [32.0, 96.0], "k": [3, 6, 12], "radius": 2.5},
}


class Backbone(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, stride=4, padding=1)
        self.p3 = nn.Conv2d(8, CH, 3, stride=2, padding=1)
        self.p4 = nn.Conv2d(CH, CH, 3, stride=2, padding=1)
        self.p5 = nn.Conv2d(CH, CH, 3, stride=2, padding=1)
        self.p6 = nn.Conv2d(CH, CH, 3, stride=2, padding=1)
        self.p7 = nn.Conv2d(CH, CH, 3, stride=2, padding=1)

    def forward(self, x):
        x = F.relu(self.stem(x))
        p3 = self.p3(x)
        p4 = self.p4(F.relu(p3))
        p5 = self.p5(F.relu(p4))
        p6 = self.p6(F.relu(p5))
        p7 = self.p7(F.relu(p6))
        return [p3, p4, p5, p6, p7]


class Scale(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1))

    def forward(self, x):
        return x * self.scale


class Head(nn.Module):
    """ATSS's head with the official code's names."""

    def __init__(self, ch=CH, groups=GROUPS, convs=CONVS, classes=CLASSES):
        super().__init__()
        def tower():
            layers = []
            for _ in range(convs):
                layers += [nn.Conv2d(ch, ch, 3, padding=1), nn.GroupNorm(groups, ch), nn.ReLU()]
            return nn.Sequential(*layers)
        self.classes = classes
        self.cls_tower = tower()
        self.bbox_tower = tower()
        self.cls_logits = nn.Conv2d(ch, classes, 3, padding=1)
        self.bbox_pred = nn.Conv2d(ch, 4, 3, padding=1)
        self.centerness = nn.Conv2d(ch, 1, 3, padding=1)
        self.scales = nn.ModuleList([Scale() for _ in STRIDES])

    def forward(self, feats):
        cls, box, ctr, levels = [], [], [], []
        for l, f in enumerate(feats):
            n, _, h, w = f.shape
            levels.append((h, w, STRIDES[l]))
            ct, bt = self.cls_tower(f), self.bbox_tower(f)
            cls.append(self.cls_logits(ct).permute(0, 2, 3, 1).reshape(n, -1, self.classes))
            box.append(self.scales[l](self.bbox_pred(bt)).permute(0, 2, 3, 1).reshape(n, -1, 4))
            ctr.append(self.centerness(bt).permute(0, 2, 3, 1).reshape(n, -1))
        return torch.cat(cls, 1), torch.cat(box, 1), torch.cat(ctr, 1), levels


class Detector(nn.Module):
    def __init__(self, backbone=None, head=None):
        super().__init__()
        self.backbone = backbone if backbone is not None else Backbone()
        self.head = head if head is not None else Head()

    def forward(self, x):
        return self.head(self.backbone(x))


def init_weights(m, g):
    """Seeded weights, larger than ATSS's N(0, 0.01) so that the
    predictions (and so the prediction-aware assignments) are far from
    ties; the classifier keeps the prior bias."""
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name.endswith("scale"):
                p.copy_(1 + 0.2 * (torch.rand(p.shape, generator=g) - 0.5))
            elif ".1.weight" in name or ".4.weight" in name or ".7.weight" in name or ".10.weight" in name:
                p.copy_(1 + 0.2 * (torch.rand(p.shape, generator=g) - 0.5))  # GroupNorm
            elif name.endswith("weight"):
                fan = p.shape[1] * p.shape[2] * p.shape[3]
                p.copy_(torch.randn(p.shape, generator=g) * (1.5 / math.sqrt(fan)))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
        m.head.cls_logits.bias.add_(-math.log((1 - PRIOR) / PRIOR))


def anchors_of(levels):
    a = []
    for h, w, s in levels:
        half = OCTAVE * s / 2
        for y in range(h):
            for x in range(w):
                cx, cy = (x + 0.5) * s, (y + 0.5) * s
                a.append([cx - half, cy - half, cx + half, cy + half])
    return np.array(a, dtype=np.float64)


def strides_of(levels):
    return np.concatenate([np.full(h * w, float(s)) for h, w, s in levels])


def iou(boxes, anchors):
    return box_iou(torch.from_numpy(boxes), torch.from_numpy(anchors)).numpy()


class Geometry:
    def __init__(self, anchors, boxes):
        self.g, self.n = len(boxes), len(anchors)
        self.iou = iou(boxes, anchors)
        self.cx = (anchors[:, 0] + anchors[:, 2]) / 2
        self.cy = (anchors[:, 1] + anchors[:, 3]) / 2
        gx = (boxes[:, 0] + boxes[:, 2]) / 2
        gy = (boxes[:, 1] + boxes[:, 3]) / 2
        self.dist = np.sqrt((self.cx[None] - gx[:, None]) ** 2 + (self.cy[None] - gy[:, None]) ** 2)
        l = self.cx[None] - boxes[:, 0:1]
        t = self.cy[None] - boxes[:, 1:2]
        r = boxes[:, 2:3] - self.cx[None]
        b = boxes[:, 3:4] - self.cy[None]
        self.inside = np.minimum(np.minimum(l, t), np.minimum(r, b)) > 0.01

    def by_iou(self, i):
        return list(np.lexsort((np.arange(self.n), self.dist[i], -self.iou[i])))

    def resolve(self, pos):
        out = []
        for j in range(self.n):
            best, o = -math.inf, -1
            for i in range(self.g):
                if pos[i, j] and self.iou[i, j] > best:
                    best, o = self.iou[i, j], i
            out.append(o)
        return out


def ensure_positive(assigned, g, prefs):
    count = [0] * g
    for o in assigned:
        if o >= 0:
            count[o] += 1
    for i in range(g):
        if count[i] > 0:
            continue
        done = False
        for lst in prefs(i):
            for j in lst:
                o = assigned[j]
                if o < 0 or count[o] > 1:
                    if o >= 0:
                        count[o] -= 1
                    assigned[j] = i
                    count[i] += 1
                    done = True
                    break
            if done:
                break


def assign_atss(anchors, levels, boxes, topk):
    geo = Geometry(anchors, boxes)
    pos = np.zeros((geo.g, geo.n), dtype=bool)
    cands = []
    for i in range(geo.g):
        c, start = [], 0
        for h, w, _ in levels:
            m = h * w
            idx = start + np.argsort(geo.dist[i, start:start + m], kind="stable")
            c += list(idx[:min(topk, m)])
            start += m
        cands.append(c)
        v = geo.iou[i, c]
        thr = v.mean() + (v.std(ddof=1) if len(v) > 1 else math.nan)
        for j in c:
            if geo.iou[i, j] >= thr and geo.inside[i, j]:
                pos[i, j] = True
    out = geo.resolve(pos)
    ensure_positive(out, geo.g, lambda i: [sorted(cands[i], key=lambda j: -geo.iou[i, j]), geo.by_iou(i)])
    return out


def assign_topk(anchors, boxes, k):
    geo = Geometry(anchors, boxes)
    pos = np.zeros((geo.g, geo.n), dtype=bool)
    orders = []
    for i in range(geo.g):
        orders.append(geo.by_iou(i))
        for j in orders[i][:k]:
            if geo.inside[i, j]:
                pos[i, j] = True
    out = geo.resolve(pos)
    ensure_positive(out, geo.g, lambda i: [orders[i]])
    return out


def cls_cost(scores, ctr, label):
    s = 0.0
    for c, v in enumerate(scores):
        pr = math.sqrt(v * ctr)
        if c == label:
            s -= max(math.log(pr), -100) if pr > 0 else 100
        else:
            s -= max(math.log(1 - pr), -100) if pr < 1 else 100
    return s


def assign_dynamic(anchors, levels, boxes, labels, scores, ctr, pred, radius, q):
    geo = Geometry(anchors, boxes)
    g, n = geo.g, geo.n
    stride = strides_of(levels)
    in_both = np.zeros((g, n), dtype=bool)
    cand = []
    for j in range(n):
        anyc = False
        for i in range(g):
            b = boxes[i]
            gx, gy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
            r = radius * stride[j]
            in_c = gx - r < geo.cx[j] < gx + r and gy - r < geo.cy[j] < gy + r
            in_b = min(geo.cx[j] - b[0], geo.cy[j] - b[1], b[2] - geo.cx[j], b[3] - geo.cy[j]) > 0
            in_both[i, j] = in_b and in_c
            anyc = anyc or in_b or in_c
        if anyc:
            cand.append(j)
    if not cand:
        cand = list(range(n))
    m = len(cand)
    ious = iou(boxes, pred[cand])
    cost = np.zeros((g, m))
    for i in range(g):
        for c, j in enumerate(cand):
            cost[i, c] = cls_cost(scores[j], ctr[j], labels[i]) + 3 * -math.log(ious[i, c] + 1e-8) + (0 if in_both[i, j] else 1e5)
    ks = [max(1, int(np.sort(ious[i])[::-1][:min(q[i], m)].sum())) for i in range(g)]
    count, owner = [0] * m, [-1] * m
    for i in range(g):
        for c in np.argsort(cost[i], kind="stable")[:min(ks[i], m)]:
            count[c] += 1
            owner[c] = i
    for c in range(m):
        if count[c] > 1:
            owner[c] = int(np.argmin(cost[:, c]))
    out = [-1] * n
    for c, j in enumerate(cand):
        out[j] = owner[c]
    ensure_positive(out, g, lambda i: [[cand[c] for c in np.argsort(cost[i], kind="stable")], geo.by_iou(i)])
    return out


def band(bands, b):
    s = math.sqrt(max(b[2] - b[0], 0) * max(b[3] - b[1], 0))
    return sum(1 for t in bands if s >= t)


def decode(deltas, anchors):
    d = deltas * torch.tensor(STDS, dtype=deltas.dtype)
    a = torch.from_numpy(anchors).to(deltas.dtype)
    pxy = (a[:, :2] + a[:, 2:]) * 0.5
    pwh = a[:, 2:] - a[:, :2]
    gxy = pxy + pwh * d[:, :2]
    gwh = pwh * d[:, 2:].clamp(min=-MAX_RATIO, max=MAX_RATIO).exp()
    return torch.cat([gxy - gwh * 0.5, gxy + gwh * 0.5], dim=1)


def centerness_target(a, b):
    cx, cy = (a[0] + a[2]) / 2, (a[1] + a[3]) / 2
    l, t, r, bt = max(cx - b[0], 0), max(cy - b[1], 0), max(b[2] - cx, 0), max(b[3] - cy, 0)
    def ratio(x, y):
        return min(x, y) / max(x, y) if max(x, y) > 0 else 0.0
    return math.sqrt(ratio(l, r) * ratio(t, bt))


def step(model, x, targets, case):
    """One forward and backward pass: the assignment, the loss terms and
    the gradients."""
    model.zero_grad()
    logits, deltas, ctr, levels = model(x)
    nimg, na, classes = logits.shape
    anchors = anchors_of(levels)
    cls_t = torch.zeros(nimg * na, classes, dtype=logits.dtype)
    pos, gt_pos, anc_pos, assigned_all = [], [], [], []
    for n, (boxes, labels) in enumerate(targets):
        boxes = np.array(boxes, dtype=np.float64).reshape(-1, 4)
        boxes[:, 2] = np.maximum(boxes[:, 2], boxes[:, 0])
        boxes[:, 3] = np.maximum(boxes[:, 3], boxes[:, 1])
        kind = case["kind"]
        if kind == "atss":
            a = assign_atss(anchors, levels, boxes, case["topk"])
        elif kind == "topk":
            a = assign_topk(anchors, boxes, case["k"])
        else:
            with torch.no_grad():
                scores = torch.sigmoid(logits[n]).numpy()
                c = torch.sigmoid(ctr[n]).numpy()
                pred = decode(deltas[n], anchors).numpy()
            if kind == "simota":
                q = [case["q"]] * len(labels)
            else:
                q = [case["k"][band(case["bands"], b)] for b in boxes]
            a = assign_dynamic(anchors, levels, boxes, labels, scores, c, pred, case["radius"], q)
        a = [int(v) for v in a]
        assigned_all.append(a)
        for j, g in enumerate(a):
            if g < 0:
                continue
            cls_t[n * na + j, labels[g]] = 1
            pos.append(n * na + j)
            gt_pos.append(boxes[g])
            anc_pos.append(anchors[j])
    norm = max(len(pos), 1)
    cls = sigmoid_focal_loss(logits.reshape(-1, classes), cls_t, alpha=0.25, gamma=2, reduction="sum") / norm
    ctr_t = torch.tensor([centerness_target(a, b) for a, b in zip(anc_pos, gt_pos)], dtype=logits.dtype)
    boxes = decode(deltas.reshape(-1, 4)[pos], np.array(anc_pos))
    giou = generalized_box_iou_loss(boxes, torch.tensor(np.array(gt_pos), dtype=logits.dtype), reduction="none")
    s = ctr_t.sum()
    reg = 2 * (giou * ctr_t).sum() / s if s > 0 else 2 * giou.sum() / len(pos)
    cen = F.binary_cross_entropy_with_logits(ctr.reshape(-1)[pos], ctr_t, reduction="sum") / norm
    (cls + reg + cen).backward()
    grads = {k: p.grad.detach().clone() for k, p in model.named_parameters()}
    return {"assigned": assigned_all, "positives": len(pos), "cls": cls.item(), "reg": reg.item(),
            "centerness": cen.item()}, grads


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for k, t in tensors.items():
        b = t.detach().to(torch.float32).contiguous().numpy().tobytes()
        header[k] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def main():
    g = torch.Generator().manual_seed(17)
    model = Detector()
    init_weights(model, g)
    # The Go side loads these float32 weights; compute in float64 from them.
    state = {k: v.to(torch.float32) for k, v in model.state_dict().items()}
    write_safetensors(os.path.join(OUT, "atss_step_init.safetensors"), state)
    model.load_state_dict({k: v for k, v in state.items()})
    model.double()
    x = torch.rand(2, 3, SIZE, SIZE, generator=g).to(torch.float32).double()
    targets = [
        ([10.3, 12.7, 58.1, 49.9, 70.2, 20.4, 121.6, 110.8, 40.2, 44.1, 47.5, 51.3,
          # thin: no anchor centre (x = 4, 12, 20, ...) strictly inside 13..19.5
          13.0, 60.5, 19.5, 100.2], [0, 2, 1, 1]),
        ([30.6, 30.2, 90.4, 95.7, 30.6, 30.2, 90.4, 95.7, 5.2, 80.3, 27.9, 126.1,
          # degenerate: zero width
          64.0, 10.0, 64.0, 40.0], [1, 1, 0, 2]),
    ]
    out = {"size": SIZE, "channels": CH, "groups": GROUPS, "convs": CONVS, "classes": CLASSES,
           "strides": STRIDES, "octave": OCTAVE, "input_shape": list(x.shape),
           "targets": [{"boxes": b, "labels": l} for b, l in targets], "cases": {}}
    grads = {"input": x}
    for name, case in CASES.items():
        res, gr = step(model, x, targets, case)
        res["config"] = case
        out["cases"][name] = res
        for k, v in gr.items():
            grads[name + "/" + k] = v
    with open(os.path.join(OUT, "atss_step.json"), "w") as f:
        json.dump(out, f)
    write_safetensors(os.path.join(OUT, "atss_step_grads.safetensors"), grads)
    for name, r in out["cases"].items():
        print(name, r["positives"], r["cls"], r["reg"], r["centerness"])


if __name__ == "__main__":
    main()
