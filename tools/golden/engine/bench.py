#!/usr/bin/env python3
"""Time PyTorch on the workloads of autograd's benchmarks, for comparison.

Run from the repository root with Debian's python3-torch:

    python3 tools/golden/engine/bench.py [--threads 2] [--steps 20]

It prints one line per workload: the mean seconds per forward+backward
pass and the matching rate, measured as autograd/bench_test.go measures
BenchmarkMNISTStep, BenchmarkConv2d, BenchmarkReLU and BenchmarkMaxPool2d.
"""

import argparse
import time

import torch
import torch.nn.functional as F


def timeit(fn, steps):
    fn()  # warm up
    t0 = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - t0) / steps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)

    c1w = (0.3 * torch.randn(32, 1, 3, 3)).requires_grad_()
    c1b = (0.01 * torch.randn(32)).requires_grad_()
    c2w = (0.06 * torch.randn(64, 32, 3, 3)).requires_grad_()
    c2b = (0.01 * torch.randn(64)).requires_grad_()
    f1w = (0.01 * torch.randn(128, 9216)).requires_grad_()
    f1b = (0.01 * torch.randn(128)).requires_grad_()
    f2w = (0.09 * torch.randn(10, 128)).requires_grad_()
    f2b = (0.01 * torch.randn(10)).requires_grad_()
    x = torch.rand(64, 1, 28, 28)
    y = torch.arange(64) % 10

    def mnist():
        h = F.relu(F.conv2d(x, c1w, c1b))
        h = F.relu(F.conv2d(h, c2w, c2b))
        h = F.dropout(F.max_pool2d(h, 2), 0.25, True)
        h = F.dropout(F.relu(F.linear(torch.flatten(h, 1), f1w, f1b)), 0.5, True)
        F.cross_entropy(F.linear(h, f2w, f2b), y).backward()

    s = timeit(mnist, args.steps)
    print(f"MNISTStep   {s * 1e3:8.1f} ms/op  {64 / s:8.1f} img/s")

    cx = torch.randn(64, 32, 26, 26, requires_grad=True)
    cw = (0.1 * torch.randn(64, 32, 3, 3)).requires_grad_()
    cb = (0.1 * torch.randn(64)).requires_grad_()
    flops = 3 * 2 * 64 * 64 * 24 * 24 * 32 * 9.0
    s = timeit(lambda: F.conv2d(cx, cw, cb).sum().backward(), args.steps)
    print(f"Conv2d      {s * 1e3:8.1f} ms/op  {flops / s / 1e9:8.1f} GFLOP/s")

    rx = torch.randn(64, 64, 24, 24, requires_grad=True)
    g = torch.ones(64, 64, 24, 24)
    s = timeit(lambda: F.relu(rx).backward(g), args.steps)
    print(f"ReLU        {s * 1e3:8.1f} ms/op  {rx.numel() / s / 1e6:8.1f} Melem/s")
    gp = torch.ones(64, 64, 12, 12)
    s = timeit(lambda: F.max_pool2d(rx, 2).backward(gp), args.steps)
    print(f"MaxPool2d   {s * 1e3:8.1f} ms/op  {rx.numel() / s / 1e6:8.1f} Melem/s")


if __name__ == "__main__":
    main()
