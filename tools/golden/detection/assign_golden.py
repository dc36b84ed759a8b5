"""Writes assign/testdata/golden.json: linear_sum_assignment from scipy,
log-domain Sinkhorn plans from POT (ot.bregman.sinkhorn_log), OTA-style
transport assignments (row-rescaled argmax of the plan), OTA's dynamic k,
YOLOX's SimOTA rule written in torch as YOLOX writes it, and Sparse R-CNN's
HungarianMatcher cost (focal + L1 + GIoU, torchvision's generalized_box_iou)
with scipy's assignment of it.

Run from the repository root with Debian's Python (python3-torch,
python3-torchvision, python3-scipy, python3-pot installed): python3 tools/golden/detection/assign_golden.py
"""
import json

import numpy as np
import ot
import scipy
import torch
from scipy.optimize import linear_sum_assignment

rng = np.random.default_rng(4)
torch.manual_seed(4)


def flat(a):
    return [float(v) for v in np.asarray(a, dtype=np.float64).reshape(-1)]


hungarian = []
shapes = [(1, 1), (3, 3), (5, 8), (8, 5), (30, 30), (50, 100), (100, 300), (300, 100)]
for r, c in shapes:
    kinds = ["uniform", "integer", "negative"] if r * c <= 5000 else ["uniform", "integer"]
    for kind in kinds:
        if kind == "uniform":
            m = rng.random((r, c))
        elif kind == "integer":
            m = rng.integers(0, 4, (r, c)).astype(np.float64)  # many ties
        else:
            m = rng.normal(size=(r, c)) * 100
        ri, ci = linear_sum_assignment(m)
        hungarian.append({"rows": r, "cols": c, "cost": flat(m),
                          "row_ind": ri.tolist(), "col_ind": ci.tolist(),
                          "total": float(m[ri, ci].sum())})

sinkhorn = []
for g, n, eps, iters, tol in [(3, 10, 0.1, 50, 0.0), (10, 60, 0.1, 50, 1e-9),
                              (20, 100, 1e-3, 100, 0.0), (30, 300, 1e-3, 100, 0.0), (5, 300, 0.05, 200, 1e-6)]:
    cost = rng.random((g + 1, n)) * 3
    ious = rng.random((g, n)) ** 3
    k = np.maximum(1, np.floor(np.sort(ious, axis=1)[:, ::-1][:, :min(20, n)].sum(1)))
    if k.sum() >= n:  # the background needs a positive supply
        k = np.ones(g)
    a = np.concatenate([k, [n - k.sum()]]).astype(np.float64)
    b = np.ones(n)
    plan, log = ot.bregman.sinkhorn_log(a, b, cost, eps, numItermax=iters,
                                        stopThr=tol, log=True, warn=False)
    scaled = plan / plan.max(axis=1, keepdims=True)
    arg = scaled.argmax(axis=0)
    arg = np.where(arg == g, -1, arg)
    sinkhorn.append({"g": g, "n": n, "eps": eps, "iters": iters, "tol": tol,
                     "cost": flat(cost), "ious": flat(ious), "k": k.astype(int).tolist(),
                     "supply": flat(a), "plan": flat(plan),
                     "niter": int(log["niter"]) + 1, "assigned": arg.tolist()})

simota = []
for g, n in [(1, 5), (4, 30), (12, 200)]:
    cost = torch.rand(g, n, dtype=torch.float64) * 5
    ious = torch.rand(g, n, dtype=torch.float64) ** 2
    # YOLOX dynamic_k_matching.
    matching = torch.zeros_like(cost)
    k_top = min(10, ious.size(1))
    topk_ious, _ = torch.topk(ious, k_top, dim=1)
    dynamic_ks = torch.clamp(topk_ious.sum(1).int(), min=1).tolist()
    for gi in range(g):
        _, pos = torch.topk(cost[gi], k=dynamic_ks[gi], largest=False)
        matching[gi][pos] = 1.0
    per_anchor = matching.sum(0)
    if (per_anchor > 1).sum() > 0:
        _, cost_argmin = torch.min(cost[:, per_anchor > 1], dim=0)
        matching[:, per_anchor > 1] *= 0.0
        matching[cost_argmin, per_anchor > 1] = 1.0
    fg = matching.sum(0) > 0
    owner = torch.where(fg, matching.argmax(0), torch.full((n,), -1)).tolist()
    simota.append({"g": g, "n": n, "cost": flat(cost), "ious": flat(ious),
                   "ks": dynamic_ks, "assigned": owner})

matchcost = []
for n, g, classes in [(10, 3, 5), (100, 20, 80)]:
    from torchvision.ops import generalized_box_iou
    w, h = 640.0, 480.0
    xy = torch.rand(n, 2, dtype=torch.float64) * torch.tensor([w, h]) * 0.8
    boxes = torch.cat([xy, xy + torch.rand(n, 2, dtype=torch.float64) * 100 + 1], 1)
    gxy = torch.rand(g, 2, dtype=torch.float64) * torch.tensor([w, h]) * 0.8
    gt = torch.cat([gxy, gxy + torch.rand(g, 2, dtype=torch.float64) * 100 + 1], 1)
    prob = torch.rand(n, classes, dtype=torch.float64)
    labels = torch.randint(0, classes, (g,))
    alpha, gamma = 0.25, 2.0
    neg = (1 - alpha) * (prob ** gamma) * (-(1 - prob + 1e-8).log())
    pos = alpha * ((1 - prob) ** gamma) * (-(prob + 1e-8).log())
    cost_class = pos[:, labels] - neg[:, labels]
    size = torch.tensor([w, h, w, h], dtype=torch.float64)
    cost_bbox = torch.cdist(boxes / size, gt / size, p=1)
    cost_giou = -generalized_box_iou(boxes, gt)
    c = 5.0 * cost_bbox + 2.0 * cost_class + 2.0 * cost_giou
    ri, ci = linear_sum_assignment(c.numpy())
    matchcost.append({"n": n, "g": g, "classes": classes, "width": w, "height": h,
                      "probs": flat(prob), "boxes": flat(boxes), "gt": flat(gt),
                      "labels": labels.tolist(), "cost": flat(c),
                      "row_ind": ri.tolist(), "col_ind": ci.tolist()})

with open("assign/testdata/golden.json", "w") as f:
    json.dump({"hungarian": hungarian, "sinkhorn": sinkhorn, "simota": simota,
               "matchcost": matchcost,
               "versions": {"scipy": scipy.__version__, "pot": ot.__version__,
                            "torch": torch.__version__}}, f)
