#!/usr/bin/env python3
"""Time float32 matrix multiplication in PyTorch the way `argus bench gemm` does.

Prints one JSON object with the same keys as `argus bench gemm --json`:
random m×k and k×n matrices (or a batch of them), rounds of at least
--min-time, gflops from the fastest round and mean_gflops from all of them.
"""
import argparse
import json
import time

import torch


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--m", type=int, default=1024)
    p.add_argument("--n", type=int, default=1024)
    p.add_argument("--k", type=int, default=1024)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--min-time", type=float, default=0.3, help="seconds")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(1)
    shape = (args.batch,) if args.batch > 1 else ()
    a = torch.rand(*shape, args.m, args.k, generator=g) * 2 - 1
    b = torch.rand(*shape, args.k, args.n, generator=g) * 2 - 1
    c = torch.empty(*shape, args.m, args.n)
    mul = torch.bmm if args.batch > 1 else torch.mm

    def call():
        mul(a, b, out=c)

    with torch.no_grad():
        call()
        best, total, calls = None, 0.0, 0
        for _ in range(args.rounds):
            start = time.perf_counter()
            r = 0
            while r == 0 or time.perf_counter() - start < args.min_time:
                call()
                r += 1
            el = time.perf_counter() - start
            per = el / r
            best = per if best is None or per < best else best
            total += el
            calls += r
    flops = 2.0 * args.m * args.n * args.k * args.batch
    print(json.dumps({
        "gflops": flops / best / 1e9, "m": args.m, "n": args.n, "k": args.k,
        "batch": args.batch, "seconds": best, "mean_gflops": flops * calls / total / 1e9,
        "repeats": calls, "threads": torch.get_num_threads(),
        "kernel": "torch " + torch.__version__,
    }))


if __name__ == "__main__":
    main()
