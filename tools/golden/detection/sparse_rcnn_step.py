#!/usr/bin/env python3
"""Golden training step of a reduced Sparse R-CNN for detect/sparsercnn.

The head below is the official design (PeizeSun/SparseR-CNN,
projects/SparseRCNN/sparsercnn/head.py, loss.py and detector.py, MIT),
re-written without detectron2: RCNNHead and DynamicConv as the official
modules (post-norm self-attention without positional encoding, dynamic
interaction, FFN, cls/reg towers, apply_deltas with weights (2, 2, 1, 1)
and the log-scale clamp log(100000/16)), boxes detached between stages;
the criterion as the official SetCriterion with the focal HungarianMatcher
(cost 2 focal + 5 L1 + 2 (-GIoU)), focal/L1/GIoU sums divided by the
batch's ground-truth count and weighted 2/5/2 at every stage. The pooler is
argus's: torchvision's roi_align (aligned, sampling ratio 2) on P2-P5, the
level floor(4 + log2(sqrt(area)/canonical) + 1e-6) with canonical
224 * min(H, W) / 800 of the padded canvas. The backbone is a tiny stack of
four strided convolutions giving P2-P5, so that the test holds every
gradient. DLA is Dynamic Sparse R-CNN's assignment as argus defines it
(detect/sparsercnn/criterion.go): log-domain Sinkhorn (POT's sinkhorn_log
iteration, 100 iterations at epsilon 1e-3, then the rounding onto the
transport polytope of Altschuler, Weed and Rigollet), k = 3 - 0.5 (T - t), background cost the focal loss against
all-zero targets, plan rescaled by row maxima, argmax per proposal, a
ground truth without a positive taking its best background column.

Written: detect/sparsercnn/testdata/step_weights.safetensors (the initial
weights, with the inputs under input.*) and step.json (every loss term and
every gradient, per assignment).

    python3 tools/golden/detection/sparse_rcnn_step.py
"""
import json
import math
import os
import struct

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment
from torch import nn
from torchvision.ops import generalized_box_iou, roi_align, sigmoid_focal_loss

OUT = os.path.join("detect", "sparsercnn", "testdata")

CLASSES, PROPOSALS, HIDDEN, HEADS, DIM_DYNAMIC, FFN, STAGES = 3, 12, 8, 2, 4, 16, 2
RES = 7
H = W = 64
SIZES = [(64, 64), (48, 56)]  # (height, width) unpadded
TARGETS = [
    {"boxes": [[4.0, 6.0, 30.0, 40.0], [20.0, 18.0, 60.0, 50.0], [40.0, 2.0, 62.0, 20.0]], "labels": [0, 2, 1]},
    {"boxes": [[2.0, 3.0, 20.0, 30.0], [25.0, 10.0, 54.0, 44.0]], "labels": [1, 1]},
]
CLAMP = math.log(100000.0 / 16)


class Backbone(nn.Module):
    def __init__(self):
        super().__init__()
        self.p2 = nn.Conv2d(3, HIDDEN, 3, stride=4, padding=1)
        self.p3 = nn.Conv2d(HIDDEN, HIDDEN, 3, stride=2, padding=1)
        self.p4 = nn.Conv2d(HIDDEN, HIDDEN, 3, stride=2, padding=1)
        self.p5 = nn.Conv2d(HIDDEN, HIDDEN, 3, stride=2, padding=1)

    def forward(self, x):
        p2 = self.p2(x)
        p3 = self.p3(F.relu(p2))
        p4 = self.p4(F.relu(p3))
        p5 = self.p5(F.relu(p4))
        return [p2, p3, p4, p5]


class DynamicConv(nn.Module):
    def __init__(self):
        super().__init__()
        self.dynamic_layer = nn.Linear(HIDDEN, 2 * HIDDEN * DIM_DYNAMIC)
        self.norm1 = nn.LayerNorm(DIM_DYNAMIC)
        self.norm2 = nn.LayerNorm(HIDDEN)
        self.out_layer = nn.Linear(HIDDEN * RES * RES, HIDDEN)
        self.norm3 = nn.LayerNorm(HIDDEN)

    def forward(self, pro_features, roi_features):
        features = roi_features.permute(1, 0, 2)
        parameters = self.dynamic_layer(pro_features).permute(1, 0, 2)
        param1 = parameters[:, :, :HIDDEN * DIM_DYNAMIC].view(-1, HIDDEN, DIM_DYNAMIC)
        param2 = parameters[:, :, HIDDEN * DIM_DYNAMIC:].view(-1, DIM_DYNAMIC, HIDDEN)
        features = F.relu(self.norm1(torch.bmm(features, param1)))
        features = F.relu(self.norm2(torch.bmm(features, param2)))
        features = features.flatten(1)
        features = self.out_layer(features)
        return F.relu(self.norm3(features))


def pool(features, boxes):
    """boxes: (B, N, 4) xyxy; returns (B*N, C, RES, RES)."""
    flat = boxes.reshape(-1, 4)
    n = boxes.shape[1]
    batch = torch.arange(boxes.shape[0]).repeat_interleave(n).to(flat.dtype)
    canonical = 224.0 * min(H, W) / 800
    area = (flat[:, 2] - flat[:, 0]) * (flat[:, 3] - flat[:, 1])
    lvl = torch.floor(4 + torch.log2(torch.sqrt(area) / canonical) + 1e-6)
    lvl = torch.clamp(lvl, 2, 5).long() - 2
    out = torch.zeros(flat.shape[0], HIDDEN, RES, RES)
    rois = torch.cat([batch[:, None], flat], 1)
    for l in range(4):
        idx = torch.nonzero(lvl == l).flatten()
        if len(idx) == 0:
            continue
        out[idx] = roi_align(features[l], rois[idx], (RES, RES), spatial_scale=1.0 / 2 ** (l + 2),
                             sampling_ratio=2, aligned=True)
    return out


class RCNNHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(HIDDEN, HEADS, dropout=0.0)
        self.inst_interact = DynamicConv()
        self.linear1 = nn.Linear(HIDDEN, FFN)
        self.linear2 = nn.Linear(FFN, HIDDEN)
        self.norm1 = nn.LayerNorm(HIDDEN)
        self.norm2 = nn.LayerNorm(HIDDEN)
        self.norm3 = nn.LayerNorm(HIDDEN)
        self.cls_module = nn.ModuleList([nn.Linear(HIDDEN, HIDDEN, False), nn.LayerNorm(HIDDEN), nn.ReLU(inplace=True)])
        reg = []
        for _ in range(3):
            reg += [nn.Linear(HIDDEN, HIDDEN, False), nn.LayerNorm(HIDDEN), nn.ReLU(inplace=True)]
        self.reg_module = nn.ModuleList(reg)
        self.class_logits = nn.Linear(HIDDEN, CLASSES)
        self.bboxes_delta = nn.Linear(HIDDEN, 4)

    def forward(self, features, bboxes, pro_features):
        N, nr_boxes = bboxes.shape[:2]
        roi_features = pool(features, bboxes)
        roi_features = roi_features.view(N * nr_boxes, HIDDEN, -1).permute(2, 0, 1)
        pro_features = pro_features.view(N, nr_boxes, HIDDEN).permute(1, 0, 2)
        pro_features2 = self.self_attn(pro_features, pro_features, value=pro_features)[0]
        pro_features = self.norm1(pro_features + pro_features2)
        pro_features = pro_features.view(nr_boxes, N, HIDDEN).permute(1, 0, 2).reshape(1, N * nr_boxes, HIDDEN)
        pro_features2 = self.inst_interact(pro_features, roi_features)
        obj_features = self.norm2(pro_features + pro_features2)
        obj_features2 = self.linear2(F.relu(self.linear1(obj_features)))
        obj_features = self.norm3(obj_features + obj_features2)
        fc_feature = obj_features.transpose(0, 1).reshape(N * nr_boxes, -1)
        cls_feature = fc_feature.clone()
        reg_feature = fc_feature.clone()
        for layer in self.cls_module:
            cls_feature = layer(cls_feature)
        for layer in self.reg_module:
            reg_feature = layer(reg_feature)
        class_logits = self.class_logits(cls_feature)
        bboxes_deltas = self.bboxes_delta(reg_feature)
        pred_bboxes = self.apply_deltas(bboxes_deltas, bboxes.view(-1, 4))
        return class_logits.view(N, nr_boxes, -1), pred_bboxes.view(N, nr_boxes, -1), obj_features

    def apply_deltas(self, deltas, boxes):
        widths = boxes[:, 2] - boxes[:, 0]
        heights = boxes[:, 3] - boxes[:, 1]
        ctr_x = boxes[:, 0] + 0.5 * widths
        ctr_y = boxes[:, 1] + 0.5 * heights
        wx, wy, ww, wh = 2.0, 2.0, 1.0, 1.0
        dx = deltas[:, 0::4] / wx
        dy = deltas[:, 1::4] / wy
        dw = torch.clamp(deltas[:, 2::4] / ww, max=CLAMP)
        dh = torch.clamp(deltas[:, 3::4] / wh, max=CLAMP)
        pred_ctr_x = dx * widths[:, None] + ctr_x[:, None]
        pred_ctr_y = dy * heights[:, None] + ctr_y[:, None]
        pred_w = torch.exp(dw) * widths[:, None]
        pred_h = torch.exp(dh) * heights[:, None]
        return torch.cat([pred_ctr_x - 0.5 * pred_w, pred_ctr_y - 0.5 * pred_h,
                          pred_ctr_x + 0.5 * pred_w, pred_ctr_y + 0.5 * pred_h], 1)


class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.head_series = nn.ModuleList([RCNNHead() for _ in range(STAGES)])


class SparseRCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = Backbone()
        self.init_proposal_features = nn.Embedding(PROPOSALS, HIDDEN)
        self.init_proposal_boxes = nn.Embedding(PROPOSALS, 4)
        self.head = Head()

    def forward(self, x):
        feats = self.backbone(x)
        whwh = torch.tensor([[w, h, w, h] for h, w in SIZES], dtype=torch.float32)
        b = self.init_proposal_boxes.weight
        xyxy = torch.cat([b[:, :2] - 0.5 * b[:, 2:], b[:, :2] + 0.5 * b[:, 2:]], 1)
        boxes = xyxy[None] * whwh[:, None, :]
        bs = x.shape[0]
        pro = self.init_proposal_features.weight[None].repeat(1, bs, 1)
        outs = []
        for h in self.head.head_series:
            logits, pred, pro = h(feats, boxes, pro)
            outs.append((logits, pred))
            boxes = pred.detach()
        return outs


def match_cost(logits, boxes, t, size):
    p = torch.sigmoid(logits).double()
    alpha, gamma = 0.25, 2.0
    neg = (1 - alpha) * (p ** gamma) * (-(1 - p + 1e-8).log())
    pos = alpha * ((1 - p) ** gamma) * (-(p + 1e-8).log())
    labels = torch.tensor(t["labels"])
    tb = torch.tensor(t["boxes"], dtype=torch.float64)
    hh, ww = size
    scale = torch.tensor([ww, hh, ww, hh], dtype=torch.float64)
    ob = boxes.double()
    c_cls = pos[:, labels] - neg[:, labels]
    c_l1 = torch.cdist(ob / scale, tb / scale, p=1)
    c_giou = -generalized_box_iou(ob, tb)
    return (5 * c_l1 + 2 * c_cls + 2 * c_giou).numpy(), neg.sum(1).numpy()


def logsumexp(a, axis):
    m = a.max(axis=axis, keepdims=True)
    return (m + np.log(np.exp(a - m).sum(axis=axis, keepdims=True))).squeeze(axis)


def round_to_marginals(plan, a, b):
    """Altschuler, Weed and Rigollet (2017), Algorithm 2: the plan rounded
    onto the transport polytope of supplies a and demands b."""
    plan = plan * np.minimum(a / plan.sum(1), 1)[:, None]
    plan = plan * np.minimum(b / plan.sum(0), 1)[None, :]
    err_r = np.maximum(a - plan.sum(1), 0)
    err_c = np.maximum(b - plan.sum(0), 0)
    if err_r.sum() > 0:
        plan = plan + np.outer(err_r, err_c) / err_r.sum()
    return plan


def dla(cost, bgsum, stage):
    n, g = cost.shape
    k = min(3.0 - 0.5 * (STAGES - stage), (n - 1) / g)
    tc = np.zeros((g + 1, n))
    tc[:g] = cost.T + 2 * bgsum[None, :]
    tc[g] = 2 * bgsum
    a = np.array([k] * g + [n - k * g])
    b = np.ones(n)
    reg = 1e-3
    mr = -tc / reg
    u, v = np.zeros(g + 1), np.zeros(n)
    for _ in range(100):
        v = np.log(b) - logsumexp(mr + u[:, None], 0)
        u = np.log(a) - logsumexp(mr + v[None, :], 1)
    plan = round_to_marginals(np.exp(mr + u[:, None] + v[None, :]), a, b)
    resc = plan / plan.max(1, keepdims=True)
    owner = resc.argmax(0)
    owner = np.where(owner == g, -1, owner)
    for i in range(g):
        if (owner == i).any():
            continue
        best, arg = -np.inf, -1
        for j in range(n):
            if owner[j] < 0 and plan[i, j] > best:
                best, arg = plan[i, j], j
        if arg >= 0:
            owner[arg] = i
    pred = [j for j in range(n) if owner[j] >= 0]
    return pred, [int(owner[j]) for j in pred]


def criterion(outs, mode):
    num_boxes = max(sum(len(t["labels"]) for t in TARGETS), 1)
    terms, matches = {}, []
    for s, (logits, boxes) in enumerate(outs):
        suffix = "" if s == STAGES - 1 else "_%d" % s
        src, tgt, size, stage_m = [], [], [], []
        onehot = torch.zeros_like(logits)
        for i, t in enumerate(TARGETS):
            with torch.no_grad():
                cost, bgsum = match_cost(logits[i], boxes[i], t, SIZES[i])
            if mode == "hungarian":
                rows, cols = linear_sum_assignment(cost)
                rows, cols = [int(r) for r in rows], [int(c) for c in cols]
            else:
                rows, cols = dla(cost, bgsum, s + 1)
            stage_m.append({"pred": rows, "gt": cols})
            for r, c in zip(rows, cols):
                onehot[i, r, t["labels"][c]] = 1
                src.append(boxes[i, r])
                tgt.append(t["boxes"][c])
                hh, ww = SIZES[i]
                size.append([ww, hh, ww, hh])
        matches.append(stage_m)
        focal = sigmoid_focal_loss(logits.flatten(0, 1), onehot.flatten(0, 1), 0.25, 2.0, reduction="sum") / num_boxes
        src = torch.stack(src)
        tgt = torch.tensor(tgt)
        size = torch.tensor(size, dtype=torch.float32)
        giou = (1 - torch.diag(generalized_box_iou(src, tgt))).sum() / num_boxes
        l1 = F.l1_loss(src / size, tgt / size, reduction="none").sum() / num_boxes
        terms["loss_ce" + suffix] = 2 * focal
        terms["loss_bbox" + suffix] = 5 * l1
        terms["loss_giou" + suffix] = 2 * giou
    return terms, matches


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        b = t.detach().contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def main():
    torch.manual_seed(0)
    model = SparseRCNN()
    prior = -math.log((1 - 0.01) / 0.01)
    for name, p in model.head.named_parameters():
        if p.dim() > 1:
            nn.init.xavier_uniform_(p)
        if name.endswith("class_logits.bias"):
            nn.init.constant_(p, prior)
    with torch.no_grad():
        # Proposals spread over the image instead of all on the whole image,
        # so that no two proposals tie in the matching.
        cxcy = 0.2 + 0.6 * torch.rand(PROPOSALS, 2)
        wh = 0.2 + 0.7 * torch.rand(PROPOSALS, 2)
        model.init_proposal_boxes.weight.copy_(torch.cat([cxcy, wh], 1))
    x = torch.randn(2, 3, H, W)
    x[1, :, SIZES[1][0]:, :] = 0
    x[1, :, :, SIZES[1][1]:] = 0
    tensors = dict(model.state_dict())
    tensors["input.images"] = x
    os.makedirs(OUT, exist_ok=True)
    write_safetensors(os.path.join(OUT, "step_weights.safetensors"), tensors)
    doc = {"classes": CLASSES, "proposals": PROPOSALS, "hidden": HIDDEN, "heads": HEADS,
           "dim_dynamic": DIM_DYNAMIC, "feed_forward": FFN, "stages": STAGES, "resolution": RES,
           "sizes": SIZES, "targets": TARGETS, "cases": []}
    for mode in ["hungarian", "dla"]:
        model.zero_grad()
        outs = model(x)
        terms, matches = criterion(outs, mode)
        total = sum(terms.values())
        total.backward()
        grads = {n: [float("%.8g" % v) for v in p.grad.flatten()] for n, p in model.named_parameters()}
        doc["cases"].append({"assign": mode, "terms": {k: float(v) for k, v in terms.items()},
                             "matches": matches,
                             "final_boxes": [float(v) for v in outs[-1][1].detach().flatten()],
                             "grads": grads})
    with open(os.path.join(OUT, "step.json"), "w") as f:
        json.dump(doc, f)


if __name__ == "__main__":
    main()
