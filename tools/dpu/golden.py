#!/usr/bin/env python3
"""Write dpu/ref/testdata/layers.json: int8 layers computed with PyTorch.

Accumulators come from torch (float64 convolutions and pooling of integer
values, exact below 2^53); the DPU requantisation (32-bit wrapping, bias
shift, power-of-two shift with three rounding modes, activations,
saturation) is applied with numpy. dpu/ref's tests hold the Go reference
layers to these outputs bit for bit.

Run: python3 tools/dpu/golden.py   (needs torch and numpy)
"""
import json
import random

import numpy as np
import torch
import torch.nn.functional as F

rng = random.Random(20240521)
torch.manual_seed(0)


def rnd(x, s, mode):
    v = x / float(2 ** s)
    if mode == 0:  # dpu: halves toward +inf
        return np.floor(v + 0.5)
    if mode == 1:  # standard: halves away from zero
        return np.sign(v) * np.floor(np.abs(v) + 0.5)
    return np.round(v)  # numpy rounds halves to even, like Python 3


def requant(acc, cut, act, fix, mode):
    acc = acc.astype(np.float64)
    if act == 1:
        v = rnd(np.maximum(acc, 0), cut, mode)
    elif act == 2:
        v = np.minimum(rnd(np.maximum(acc, 0), cut, mode), 6 * 2 ** fix)
    elif act == 3:
        v = np.where(acc < 0, rnd(acc * 26, cut + 8, mode), rnd(acc, cut, mode))
    else:
        v = rnd(acc, cut, mode)
    return np.clip(v, -128, 127).astype(np.int64)


def wrap32(a):
    a = a.astype(np.int64)
    return ((a + 2 ** 31) % 2 ** 32) - 2 ** 31


def ints(n):
    return [rng.randint(-128, 127) for _ in range(n)]


def nchw(hwc, h, w, c):
    return torch.tensor(hwc, dtype=torch.float64).reshape(1, h, w, c).permute(0, 3, 1, 2)


def hwc(t):
    return t[0].permute(1, 2, 0).reshape(-1).numpy()


cases = []
for i in range(60):
    op = ["conv", "depthwise", "maxpool", "avgpool", "add", "mul"][i % 6]
    h, w, c = rng.randint(1, 8), rng.randint(1, 8), rng.randint(1, 12)
    kh, kw = rng.randint(1, 4), rng.randint(1, 4)
    sh, sw = rng.randint(1, 3), rng.randint(1, 3)
    top, bottom, left, right = (rng.randint(0, 2) for _ in range(4))
    while h + top + bottom < kh:
        bottom += 1
    while w + left + right < kw:
        right += 1
    case = dict(op=op, h=h, w=w, c=c, kh=kh, kw=kw, sh=sh, sw=sw, top=top, bottom=bottom, left=left,
                right=right, shift_bias=rng.randint(0, 7), shift_cut=rng.randint(0, 12), act=rng.randint(0, 3),
                act_fix=rng.randint(0, 5), round=rng.randint(0, 2), mult=rng.randint(0, 255),
                shift_a=rng.randint(0, 7), shift_b=rng.randint(0, 7), oc=rng.randint(1, 12))
    x = ints(h * w * c)
    case["input"] = x
    xt = nchw(x, h, w, c)
    padded = F.pad(xt, (left, right, top, bottom))
    if op == "conv":
        oc = case["oc"]
        wt = ints(oc * kh * kw * c)
        b = ints(oc)
        wtt = torch.tensor(wt, dtype=torch.float64).reshape(oc, kh, kw, c).permute(0, 3, 1, 2)
        acc = hwc(F.conv2d(padded, wtt, stride=(sh, sw)))
        acc = wrap32(acc + np.tile(np.array(b, dtype=np.float64) * 2 ** case["shift_bias"], acc.size // oc))
        case.update(weights=wt, bias=b)
        out = requant(acc, case["shift_cut"], case["act"], case["act_fix"], case["round"])
    elif op == "depthwise":
        wt = ints(kh * kw * c)
        b = ints(c)
        wtt = torch.tensor(wt, dtype=torch.float64).reshape(kh, kw, c).permute(2, 0, 1).reshape(c, 1, kh, kw)
        acc = hwc(F.conv2d(padded, wtt, stride=(sh, sw), groups=c))
        acc = wrap32(acc + np.tile(np.array(b, dtype=np.float64) * 2 ** case["shift_bias"], acc.size // c))
        case.update(weights=wt, bias=b)
        out = requant(acc, case["shift_cut"], case["act"], case["act_fix"], case["round"])
    elif op == "maxpool":
        p = F.pad(xt, (left, right, top, bottom), value=-1000.0)
        out = np.maximum(hwc(F.max_pool2d(p, (kh, kw), stride=(sh, sw))), -128).astype(np.int64)
    elif op == "avgpool":
        ones = torch.ones(c, 1, kh, kw, dtype=torch.float64)
        s = hwc(F.conv2d(padded, ones, stride=(sh, sw), groups=c))
        out = requant(s * case["mult"], case["shift_cut"], 0, 0, case["round"])
    else:
        y = ints(h * w * c)
        case["input2"] = y
        a = np.array(x, dtype=np.float64) * 2 ** case["shift_a"]
        bb = np.array(y, dtype=np.float64) * 2 ** case["shift_b"]
        acc = a + bb if op == "add" else a * bb
        out = requant(acc, case["shift_cut"], case["act"], case["act_fix"], case["round"])
    case["output"] = [int(v) for v in out]
    cases.append(case)

with open("dpu/ref/testdata/layers.json", "w") as f:
    json.dump({"generator": "tools/dpu/golden.py", "torch": torch.__version__, "cases": cases}, f, separators=(",", ":"))
    f.write("\n")
print(len(cases), "cases")
