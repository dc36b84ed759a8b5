#!/usr/bin/env python3
"""Time PyTorch on the re-ID steps of `argus bench train-step --model reid-r50|reid-r18`.

Run from the repository root with Debian's python3-torch 1.13:

    python3 tools/bench/reid/train_step.py --model reid-r50 --loss ce-triplet --batch 32 --size 256x128
    python3 tools/bench/reid/train_step.py --model reid-r50 --loss cluster --batch 32 --size 256x128

It builds the same network (torchvision's ResNet with the last stride 1, GeM
pooling, a BatchNorm1d neck with a frozen bias, a bias-free classifier of 751
identities), one seeded batch of random images in [0, 1) with P×4 identity
labels, and times the same step as argus: zero the gradients, forward, the
loss, backward, Adam (lr 3.5e-4, weight decay 5e-4). ce-triplet is
label-smoothed cross-entropy (0.1) plus the batch-hard triplet loss (margin
0.3) on the pre-neck feature; cluster is cluster-contrast's InfoNCE of the
L2-normalised neck features against a memory of 500 unit centroids
(temperature 0.05), then the memory's momentum update (0.1). It prints one
JSON object with the keys argus prints.
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision


class GeM(nn.Module):
    def __init__(self, p=3.0, eps=1e-6):
        super().__init__()
        self.p = nn.Parameter(torch.ones(1) * p)
        self.eps = eps

    def forward(self, x):
        return F.adaptive_avg_pool2d(x.clamp(min=self.eps).pow(self.p), 1).pow(1.0 / self.p).flatten(1)


class ReID(nn.Module):
    def __init__(self, depth, classes):
        super().__init__()
        base = getattr(torchvision.models, "resnet%d" % depth)()
        del base.fc
        first = base.layer4[0]
        (first.conv2 if hasattr(first, "conv3") else first.conv1).stride = (1, 1)
        first.downsample[0].stride = (1, 1)
        dim = 2048 if depth >= 50 else 512
        self.base = base
        self.pool = GeM()
        self.bottleneck = nn.BatchNorm1d(dim)
        self.bottleneck.bias.requires_grad_(False)
        self.classifier = nn.Linear(dim, classes, bias=False)

    def forward(self, x):
        b = self.base
        x = b.maxpool(b.relu(b.bn1(b.conv1(x))))
        f = self.pool(b.layer4(b.layer3(b.layer2(b.layer1(x)))))
        n = self.bottleneck(f)
        return f, n, self.classifier(n)


def triplet(x, labels, margin):
    n = x.shape[0]
    sq = (x * x).sum(1, keepdim=True)
    d = (sq + sq.t() - 2 * x @ x.t()).clamp(min=1e-12).sqrt()
    same = labels.view(n, 1) == labels.view(1, n)
    ap = d.masked_fill(~same, float("-inf")).max(1)[0]
    an = d.masked_fill(same, float("inf")).min(1)[0]
    return F.margin_ranking_loss(an, ap, torch.ones_like(an), margin=margin)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="reid-r50", choices=["reid-r50", "reid-r18"])
    ap.add_argument("--loss", default="ce-triplet", choices=["ce-triplet", "cluster"])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--size", default="256x128")
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    h, w = (int(v) for v in a.size.split("x"))
    classes = 500 if a.loss == "cluster" else 751
    torch.manual_seed(1)
    m = ReID(50 if a.model == "reid-r50" else 18, classes).train()
    x = torch.rand(a.batch, 3, h, w)
    ids = torch.randperm(classes)[: a.batch // 4]
    labels = ids.repeat_interleave(4)
    opt = torch.optim.Adam([p for p in m.parameters() if p.requires_grad], lr=3.5e-4, weight_decay=5e-4)
    mem = F.normalize(torch.randn(classes, m.bottleneck.num_features), dim=1)

    def step():
        opt.zero_grad()
        f, n, logits = m(x)
        if a.loss == "cluster":
            z = F.normalize(n, dim=1)
            loss = F.cross_entropy(z @ mem.clone().t() / 0.05, labels)
            with torch.no_grad():
                for zi, y in zip(z, labels.tolist()):
                    mem[y] = F.normalize(0.1 * mem[y] + 0.9 * zi, dim=0)
        else:
            loss = F.cross_entropy(logits, labels, label_smoothing=0.1) + triplet(f, labels, 0.3)
        loss.backward()
        opt.step()

    for _ in range(a.warmup):
        step()
    ts = []
    c0 = time.process_time()
    for _ in range(a.iters):
        t = time.perf_counter()
        step()
        ts.append(time.perf_counter() - t)
    cpu = (time.process_time() - c0) / a.iters
    print(json.dumps({"seconds_per_step": min(ts), "images_per_second": a.batch / min(ts),
                      "mean_seconds_per_step": sum(ts) / len(ts), "cpu_seconds_per_step": cpu,
                      "model": a.model, "loss": a.loss, "classes": classes, "batch": a.batch, "size": h, "width": w,
                      "iters": a.iters, "warmup": a.warmup, "threads": torch.get_num_threads()}))


main()
