#!/usr/bin/env python3
"""Time torchvision's CPU RoIAlign on the workloads of tools/bench/detection/roialign.

Same boxes (the hash formula of main.go), same levels (floor(4 +
log2(sqrt(area)/canonical) + 1e-6) clamped to P2-P5, canonical 224*size/800),
7x7 bins, sampling ratio 2, aligned=True, 256 channels. The pyramid case
runs torchvision.ops.roi_align once per level and scatters the results into
one tensor in box order, as MultiScaleRoIAlign does (which itself only
offers aligned=False). Prints one JSON line per workload.

    python3 tools/bench/detection/roialign_reference.py [--threads 2] [--reps 10]
"""
import argparse
import json
import math
import statistics
import time

import torch
import torchvision

WORKLOADS = [
    ("P2 only, 256px, 2x100 boxes", 2, 256, 100, 256, False),
    ("P2-P5, 256px, 2x100 boxes", 2, 256, 100, 256, True),
    ("P2-P5, 512px, 2x300 boxes", 2, 512, 300, 256, True),
]


def hash_uniform(i, seed):
    return ((i * 2654435761 + seed * 40503 + 12345) % (1 << 32)) / float(1 << 32)


def boxes(n, size):
    out = []
    for i in range(n):
        cx, cy = hash_uniform(i, 1) * size, hash_uniform(i, 2) * size
        w = 8 * math.pow(size / 8, hash_uniform(i, 3))
        h = 8 * math.pow(size / 8, hash_uniform(i, 4))
        out.append([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
    return torch.tensor(out, dtype=torch.float32)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=10)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    for name, images, size, per, ch, pyramid in WORKLOADS:
        n = images * per
        b = boxes(n, size)
        batch = torch.arange(n) // per
        rois = torch.cat([batch[:, None].float(), b], 1)
        levels = 4 if pyramid else 1
        feats = [torch.randn(images, ch, size >> (2 + l), size >> (2 + l), requires_grad=True) for l in range(levels)]
        canonical = 224.0 * size / 800
        s = torch.sqrt((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]))
        lvl = torch.clamp(torch.floor(4 + torch.log2(s / canonical) + 1e-6), 2, 2 + levels - 1).long() - 2
        idx = [torch.nonzero(lvl == l).squeeze(1) for l in range(levels)]
        grad = torch.randn(n, ch, 7, 7)

        def step():
            for f in feats:
                f.grad = None
            t0, c0 = time.perf_counter(), time.process_time()
            if pyramid:
                y = feats[0].new_zeros(n, ch, 7, 7)
                for l in range(levels):
                    y[idx[l]] = torchvision.ops.roi_align(feats[l], rois[idx[l]], 7, 2.0 ** -(2 + l), 2, True)
            else:
                y = torchvision.ops.roi_align(feats[0], rois, 7, 0.25, 2, True)
            t1, c1 = time.perf_counter(), time.process_time()
            y.backward(grad)
            t2, c2 = time.perf_counter(), time.process_time()
            return [(t1 - t0) * 1e3, (t2 - t1) * 1e3, (c1 - c0) * 1e3, (c2 - c1) * 1e3]

        step()
        fwd, bwd, cfwd, cbwd = zip(*[step() for _ in range(args.reps)])
        print(json.dumps({"name": name, "threads": args.threads, "torch": torch.__version__,
                          "torchvision": torchvision.__version__,
                          "boxes_per_level": [len(i) for i in idx], "forward_ms": fwd, "backward_ms": bwd, "cpu_forward_ms": cfwd, "cpu_backward_ms": cbwd}))


if __name__ == "__main__":
    main()
