"""Writes box/testdata/golden.json and boxloss/testdata/golden.json from
torchvision.ops (Debian python3-torchvision 0.14): box_iou,
generalized_box_iou, nms, batched_nms, clip_boxes_to_image, the BoxCoder of
torchvision.models.detection._utils and generalized_box_iou_loss with its
gradient by torch autograd.

Run from the repository root with Debian's Python (python3-torch,
python3-torchvision, python3-scipy, python3-pot installed): python3 tools/golden/detection/box_golden.py
"""
import json
import math

import torch
import torchvision
from torchvision.models.detection._utils import BoxCoder
from torchvision.ops import (batched_nms, box_iou, clip_boxes_to_image,
                             generalized_box_iou, generalized_box_iou_loss,
                             nms)

torch.manual_seed(0)


def rand_boxes(n, size=100.0):
    xy = torch.rand(n, 2, dtype=torch.float64) * size
    wh = torch.rand(n, 2, dtype=torch.float64) * size * 0.5 + 1.0
    return torch.cat([xy, xy + wh], dim=1)


def flat(t):
    return [float(v) for v in t.reshape(-1).tolist()]


cases = []
for n, m in [(1, 1), (5, 7), (20, 13), (40, 40)]:
    a, b = rand_boxes(n), rand_boxes(m)
    cases.append({"a": flat(a), "b": flat(b), "iou": flat(box_iou(a, b)),
                  "giou": flat(generalized_box_iou(a, b))})

nms_cases = []
for n, thr in [(10, 0.5), (60, 0.3), (200, 0.5), (200, 0.7)]:
    bx = rand_boxes(n, 60.0)
    # Distinct scores: torch's sort breaks ties in no documented order.
    scores = torch.randperm(n, dtype=torch.float64) / n + 0.001
    classes = torch.randint(0, 4, (n,))
    nms_cases.append({"boxes": flat(bx), "scores": flat(scores),
                      "classes": classes.tolist(), "thr": thr,
                      "keep": nms(bx, scores, thr).tolist(),
                      "batched": batched_nms(bx, scores, classes, thr).tolist()})

coder_cases = []
for weights, clip in [((10.0, 10.0, 5.0, 5.0), math.log(1000.0 / 16)),
                      ((2.0, 2.0, 1.0, 1.0), math.log(100000.0 / 16))]:
    coder = BoxCoder(weights, bbox_xform_clip=clip)
    ref, tgt = rand_boxes(30), rand_boxes(30)
    deltas = coder.encode_single(tgt, ref)
    big = torch.randn(30, 4, dtype=torch.float64) * 4  # some dw/dh hit the clamp
    coder_cases.append({"weights": list(weights), "clamp": clip,
                        "ref": flat(ref), "target": flat(tgt),
                        "deltas": flat(deltas),
                        "big": flat(big),
                        "decoded": flat(coder.decode_single(big, ref))})

clip_boxes = rand_boxes(20, 120.0) - 10
clip_case = {"boxes": flat(clip_boxes), "width": 100.0, "height": 80.0,
             "clipped": flat(clip_boxes_to_image(clip_boxes, (80, 100)))}

with open("box/testdata/golden.json", "w") as f:
    json.dump({"pairs": cases, "nms": nms_cases, "coder": coder_cases,
               "clip": clip_case, "torchvision": torchvision.__version__}, f)

loss_cases = []
for n in [1, 8, 50]:
    p = rand_boxes(n, 50.0).float()
    t = rand_boxes(n, 50.0).float()
    if n == 50:
        t[:10] = p[:10] + torch.rand(10, 4) * 2  # overlapping pairs
    w = torch.rand(n)
    pv, tv = p.clone().requires_grad_(True), t.clone().requires_grad_(True)
    loss = generalized_box_iou_loss(pv, tv, reduction="none")
    (loss * w).sum().backward()
    pm, tm = p.clone().requires_grad_(True), t.clone().requires_grad_(True)
    mean = generalized_box_iou_loss(pm, tm, reduction="mean")
    mean.backward()
    loss_cases.append({"pred": flat(p), "target": flat(t), "weights": flat(w),
                       "loss": flat(loss.detach()), "grad_pred": flat(pv.grad),
                       "grad_target": flat(tv.grad), "mean": float(mean),
                       "mean_grad_pred": flat(pm.grad)})
with open("boxloss/testdata/golden.json", "w") as f:
    json.dump({"cases": loss_cases, "torchvision": torchvision.__version__}, f)
