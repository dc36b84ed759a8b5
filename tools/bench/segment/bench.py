#!/usr/bin/env python3
"""Time PyTorch on the workload of `argus bench train-step --model pspnet-r18`.

Run from the repository root with Debian's python3-torch 1.13:

    python3 tools/bench/segment/bench.py --batch 4 --size 256
    python3 tools/bench/segment/bench.py --method cdcl --datasets 3 --batch 4 --size 256

It builds mmsegmentation's pspnet_r18-d8 as tools/golden/segment/pspnet_step.py
writes it (the network the golden step checks argus against), full width,
with one label set of 19 classes (single) or the label sets of 19, 11 and 8
classes with shared (joint) or per-dataset (cdcl) batch norms; one seeded
batch of random images and labels per dataset; and times the step argus
times: zero the gradients, for every dataset the decode and auxiliary
cross-entropy losses through its batch norms and classifier, their sum
backward, SGD (lr 0.01, momentum 0.9, weight decay 1e-4). Dropout is 0.1 in
training as in argus. After --warmup untimed steps it times --iters steps
one by one and prints one JSON object with the keys argus prints.
"""

import argparse
import json
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "golden", "segment"))
import pspnet_step as P  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--method", default="single", choices=["single", "joint", "cdcl"])
    ap.add_argument("--datasets", type=int, default=1)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    classes = [19, 11, 8][: a.datasets]
    # joint shares the batch norms: a DBN of one per label set is built as
    # one plain batch norm by giving the builder one label set for the
    # norms and restoring the heads below.
    P.configure(64, 128, 64, classes if a.method == "cdcl" else classes[:1])
    m = P.PSPNet()
    if a.method == "joint" and a.datasets > 1:
        m.decode_head.conv_seg = torch.nn.ModuleList(torch.nn.Conv2d(128, c, 1) for c in classes)
        m.auxiliary_head.conv_seg = torch.nn.ModuleList(torch.nn.Conv2d(64, c, 1) for c in classes)
    m.train()
    drop = torch.nn.Dropout2d(0.1)
    opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    xs = [torch.randn(a.batch, 3, a.size, a.size) for _ in classes]
    ys = [torch.randint(0, c, (a.batch, a.size, a.size)) for c in classes]

    def step():
        opt.zero_grad()
        total = 0
        for d in range(a.datasets):
            for mod in m.modules():
                if hasattr(mod, "active") and not isinstance(mod, torch.nn.BatchNorm2d):
                    mod.active = d
            cs = m.backbone(xs[d])
            h = m.decode_head
            outs = [cs[3]] + [F.interpolate(p(cs[3]), size=cs[3].shape[2:], mode="bilinear", align_corners=False) for p in h.psp_modules]
            dec = h.conv_seg[d](drop(h.bottleneck(torch.cat(outs, 1))))
            aux = m.auxiliary_head.conv_seg[d](drop(m.auxiliary_head.convs(cs[2])))
            total = total + P.seg_ce(dec, ys[d]) + 0.4 * P.seg_ce(aux, ys[d])
        total.backward()
        opt.step()

    for _ in range(a.warmup):
        step()
    times = []
    c0 = resource.getrusage(resource.RUSAGE_SELF)
    for _ in range(a.iters):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    c1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime) / a.iters
    n = a.batch * a.datasets
    print(json.dumps({"seconds_per_step": min(times), "images_per_second": n / min(times),
                      "mean_seconds_per_step": sum(times) / len(times), "cpu_seconds_per_step": cpu,
                      "model": "pspnet-r18", "method": a.method, "datasets": a.datasets, "batch": a.batch,
                      "size": a.size, "iters": a.iters, "warmup": a.warmup, "threads": a.threads}))


if __name__ == "__main__":
    main()
