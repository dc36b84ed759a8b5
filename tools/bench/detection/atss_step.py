#!/usr/bin/env python3
"""Time PyTorch on the workload of `argus bench train-step --model atss-r18`.

Run from the repository root with Debian's python3-torch 1.13:

    /usr/bin/python3 tools/bench/detection/atss_step.py --batch 2 --size 256

It builds the same detector (torchvision's ResNet-18 body with the FPN over
C3–C5 and LastLevelP6P7, ATSS's head of 10 classes from
tools/golden/detection/atss_step.py), one seeded batch of random images in
[0, 1) with 5 random boxes each, and times the same step as argus: zero the
gradients, forward, ATSS's assignment and loss (the same Python code the
golden test checks argus against), backward, SGD (lr 0.01, momentum 0.9,
weight decay 1e-4). After --warmup untimed steps it times --iters steps one
by one and prints one JSON object with argus's keys: seconds_per_step (the
fastest), mean_seconds_per_step and cpu_seconds_per_step.
"""
import argparse
import json
import os
import sys
import time

import torch
import torchvision
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.ops.feature_pyramid_network import LastLevelP6P7

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "golden", "detection"))
import atss_step  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    body = torchvision.models.resnet18()
    backbone = BackboneWithFPN(body, {"layer2": "0", "layer3": "1", "layer4": "2"}, [128, 256, 512], 256,
                               extra_blocks=LastLevelP6P7(256, 256))
    model = atss_step.Detector(backbone, atss_step.Head(256, 32, 4, a.classes))

    class Features(torch.nn.Module):
        def __init__(self, b):
            super().__init__()
            self.b = b

        def forward(self, x):
            return list(self.b(x).values())

    model.backbone = Features(backbone)
    model.train()
    g = torch.Generator().manual_seed(2)
    x = torch.rand(a.batch, 3, a.size, a.size, generator=g)
    targets = []
    for _ in range(a.batch):
        boxes, labels = [], []
        for _ in range(5):
            w, h = (a.size * (0.05 + 0.45 * torch.rand(2, generator=g))).tolist()
            x0, y0 = (torch.rand(1, generator=g).item() * (a.size - w), torch.rand(1, generator=g).item() * (a.size - h))
            boxes += [x0, y0, x0 + w, y0 + h]
            labels.append(int(torch.randint(a.classes, (1,), generator=g)))
        targets.append((boxes, labels))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    case = {"kind": "atss", "topk": 9}

    def step():
        opt.zero_grad()
        atss_step.step(model, x, targets, case)
        opt.step()

    for _ in range(a.warmup):
        step()
    ts = []
    cpu0 = time.process_time()
    for _ in range(a.iters):
        t0 = time.perf_counter()
        step()
        ts.append(time.perf_counter() - t0)
    cpu = (time.process_time() - cpu0) / a.iters
    print(json.dumps({"seconds_per_step": min(ts), "mean_seconds_per_step": sum(ts) / len(ts),
                      "cpu_seconds_per_step": cpu, "images_per_second": a.batch / min(ts), "model": "atss-r18",
                      "classes": a.classes, "batch": a.batch, "size": a.size, "iters": a.iters,
                      "threads": torch.get_num_threads()}))


main()
