#!/usr/bin/env python3
"""Reference timing for the data pipeline benchmark of docs/perf/data.md.

Runs torchvision's ImageNet training recipe on 256x256 JPEGs held in
memory: decode (PIL), RandomResizedCrop(224), RandomHorizontalFlip,
ToTensor, Normalize, batches of 64 from a DataLoader with 2 workers. The
JPEGs are made by the same formula as BenchmarkImageNetPipeline in
data/loader/bench_test.go (quality 90), so both sides decode the same kind
of data. Prints one JSON object with images/s (wall) and CPU ms per image
(this process and its workers).

Usage: python3 tools/bench/data/torchvision_pipeline.py [--workers 2] [--epochs 3]
Needs torch, torchvision and Pillow.
"""
import argparse
import io
import json
import math
import resource
import time

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms


def bench_jpegs(n):
    ys, xs = np.mgrid[0:256, 0:256]
    fx, fy = xs / 256.0, ys / 256.0
    out = []
    for k in range(n):
        r = 128 + 100 * np.sin(6 * fx + k)
        g = 128 + 100 * np.cos(5 * fy + 2 * fx)
        b = np.minimum(128 + 60 * np.sin(20 * fx * fy) + ((xs * ys + k) % 17), 255)
        img = np.stack([r, g, b], axis=-1).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="JPEG", quality=90)
        out.append(buf.getvalue())
    return out


class JPEGs(Dataset):
    def __init__(self, files):
        self.files = files
        self.tf = transforms.Compose([
            transforms.RandomResizedCrop(224),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
        ])

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        img = Image.open(io.BytesIO(self.files[i])).convert("RGB")
        return self.tf(img), i % 10


def cpu_seconds():
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--n", type=int, default=512)
    args = ap.parse_args()
    torch.set_num_threads(1)
    ds = JPEGs(bench_jpegs(args.n))
    dl = DataLoader(ds, batch_size=64, shuffle=True, drop_last=True,
                    num_workers=args.workers, persistent_workers=args.workers > 0)
    for _ in dl:  # warm up: start the workers
        pass
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    images = 0
    for _ in range(args.epochs):
        for x, _ in dl:
            images += x.shape[0]
    wall = time.perf_counter() - t0
    # Worker CPU time is only counted once the workers exit.
    del dl
    cpu = cpu_seconds() - cpu0
    print(json.dumps({"workers": args.workers, "images": images, "images_per_s": images / wall,
                      "cpu_ms_per_image": 1e3 * cpu / images, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
