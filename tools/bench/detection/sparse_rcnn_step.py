#!/usr/bin/env python3
"""Times PyTorch's training step of the model that `argus bench train-step
--model sparse-rcnn-r18 --batch 2 --size 256` times: torchvision's
ResNet-18 FPN (P2-P5, 256 channels, batch norm in training mode) under the
Sparse R-CNN head and criterion of tools/golden/detection/sparse_rcnn_step.py
at the official sizes (100 proposals, 6 stages, hidden 256, 8 heads, dynamic
64, FFN 2048), 10 classes, 5 random boxes per image, Hungarian matching,
AdamW. Prints one JSON object with the best and median seconds per step
(wall and CPU).

    python3 tools/bench/detection/sparse_rcnn_step.py [--threads 2] [--iters 3]
"""
import argparse
import importlib.util
import json
import os
import time

import torch
from torchvision.models.detection.backbone_utils import resnet_fpn_backbone

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location(
    "golden", os.path.join(HERE, "..", "..", "golden", "detection", "sparse_rcnn_step.py"))
g = importlib.util.module_from_spec(spec)
spec.loader.exec_module(g)


class FPN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.body = resnet_fpn_backbone(backbone_name="resnet18", weights=None, norm_layer=torch.nn.BatchNorm2d,
                                        trainable_layers=5)

    def forward(self, x):
        out = self.body(x)
        return [out["0"], out["1"], out["2"], out["3"]]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--size", type=int, default=256)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    g.CLASSES, g.PROPOSALS, g.HIDDEN, g.HEADS, g.DIM_DYNAMIC, g.FFN, g.STAGES = 10, 100, 256, 8, 64, 2048, 6
    g.H = g.W = args.size
    g.SIZES = [(args.size, args.size)] * args.batch
    gen = torch.Generator().manual_seed(1)
    g.TARGETS = []
    for _ in range(args.batch):
        boxes, labels = [], []
        for _ in range(5):
            w, h = 8 + torch.randint(args.size // 2, (2,), generator=gen).float()
            x = torch.randint(int(args.size - w), (1,), generator=gen).item()
            y = torch.randint(int(args.size - h), (1,), generator=gen).item()
            boxes.append([x, y, x + float(w), y + float(h)])
            labels.append(int(torch.randint(10, (1,), generator=gen)))
        g.TARGETS.append({"boxes": boxes, "labels": labels})
    torch.manual_seed(0)
    model = g.SparseRCNN()
    model.backbone = FPN()
    with torch.no_grad():
        model.init_proposal_boxes.weight.copy_(torch.tensor([0.5, 0.5, 1.0, 1.0]).repeat(g.PROPOSALS, 1))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=1e-4)
    x = torch.randn(args.batch, 3, args.size, args.size)

    def step():
        opt.zero_grad()
        terms, _ = g.criterion(model(x), "hungarian")
        sum(terms.values()).backward()
        opt.step()

    step()
    wall, cpu = [], []
    for _ in range(args.iters):
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    wall.sort()
    cpu.sort()
    print(json.dumps({"seconds_per_step": wall[0], "median_seconds_per_step": wall[len(wall) // 2],
                      "cpu_seconds_per_step": cpu[len(cpu) // 2], "images_per_second": args.batch / wall[0],
                      "batch": args.batch, "size": args.size, "threads": args.threads, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
