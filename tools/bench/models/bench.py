#!/usr/bin/env python3
"""Time PyTorch on the workloads of `argus bench train-step` and `argus bench infer`.

Run from the repository root with Debian's python3-torch 1.13:

    python3 tools/bench/models/bench.py train-step --model resnet18 --batch 32 --size 64
    python3 tools/bench/models/bench.py train-step --model mnist-cnn --batch 64
    python3 tools/bench/models/bench.py infer --model resnet18 --batch 1 --size 224
    python3 tools/bench/models/bench.py infer --model mobilenet_v2 --batch 1 --size 224
    python3 tools/bench/models/bench.py infer --model deit-tiny --batch 1 --size 224
    python3 tools/bench/models/bench.py train-step --model deit-tiny --batch 16 --size 224

It builds the same network (torchvision's ResNet-18 with 1000 classes, or
the pytorch/examples MNIST CNN), one seeded batch of random images in [0, 1)
and random labels, and times the same step as argus: zero the gradients,
forward, cross-entropy, backward, SGD (lr 0.01, momentum 0.9); or, for
infer, the forward pass in evaluation mode under no_grad. After --warmup
untimed iterations it times --iters iterations one by one and prints one
JSON object with the keys argus prints: seconds_per_step is the fastest step
(other work on the machine only ever slows a step down), mean_seconds_per_step
the mean, cpu_seconds_per_step the process CPU time per step (which counts
the time OpenMP threads spin at barriers); ms_per_batch, mean_ms_per_batch
and cpu_ms_per_batch likewise for infer.
"""

import argparse
import json
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision


class MNISTNet(nn.Module):
    """The network of pytorch/examples mnist/main.py."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = self.dropout2(x)
        return self.fc2(x)


def build(name, size, classes=1000, drop_path=0.0):
    if name == "mnist-cnn":
        if size != 28:
            raise SystemExit("bench.py: model mnist-cnn takes 28x28 images")
        return MNISTNet(), 1, 10
    if name == "resnet18":
        return torchvision.models.resnet18(num_classes=1000), 3, 1000
    if name == "resnet50":
        return torchvision.models.resnet50(num_classes=1000), 3, 1000
    if name == "mobilenet_v2":
        return torchvision.models.mobilenet_v2(num_classes=1000), 3, 1000
    vits = {"deit-tiny": "deit_tiny", "deit-small": "deit_small", "vit-base": "vit_base"}
    if name in vits:
        # timm's VisionTransformer (tools/timm/vit.py, timm 0.9.16's code),
        # at the 224×224 of its position embedding.
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "timm"))
        import vit
        return getattr(vit, vits[name])(img_size=(size, size), num_classes=classes, drop_path_rate=drop_path), 3, classes
    raise SystemExit(f"bench.py: unknown model {name!r} (have resnet18, resnet50, mobilenet_v2, mnist-cnn, deit-tiny, deit-small, vit-base)")


def time_loop(warmup, iters, fn):
    """Returns the fastest and mean wall time and the mean process CPU time."""
    for _ in range(warmup):
        fn()
    ts = []
    c0 = time.process_time()
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    cpu = (time.process_time() - c0) / iters
    return min(ts), sum(ts) / len(ts), cpu


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("command", choices=["train-step", "infer"])
    ap.add_argument("--model", default="resnet18")
    ap.add_argument("--batch", type=int)
    ap.add_argument("--size", type=int, default=0)
    ap.add_argument("--iters", type=int)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--classes", type=int, default=1000, help="head outputs (the ViTs only)")
    ap.add_argument("--dcal", default="none", help="the ViTs' DCAL branches: none, glca, pwca or glca,pwca")
    ap.add_argument("--glca-ratio", type=float, default=0.1)
    args = ap.parse_args()
    train = args.command == "train-step"
    batch = args.batch or (32 if train else 1)
    iters = args.iters or (10 if train else 20)
    size = args.size or (28 if args.model == "mnist-cnn" else 224 if args.model in ("deit-tiny", "deit-small", "vit-base")
                         else 64 if train else 224)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    branches = set() if args.dcal == "none" else set(args.dcal.split(","))
    if branches - {"glca", "pwca"}:
        raise SystemExit(f"bench.py: unknown --dcal {args.dcal!r}")
    # Argus's DCAL step trains with drop path 0.1, its plain step without.
    model, channels, classes = build(args.model, size, args.classes, 0.1 if branches else 0.0)
    x = torch.rand(batch, channels, size, size)
    y = torch.randint(0, classes, (batch,))
    out = {"model": args.model, "dcal": args.dcal, "batch": batch, "size": size, "iters": iters,
           "warmup": args.warmup, "threads": torch.get_num_threads(),
           "torch": torch.__version__}
    if train:
        model.train()
        params = list(model.parameters())
        if branches:
            # The DCAL step of tools/golden/dcal/step.py: SA, GLCA and PWCA
            # losses, uncertainty-weighted, partners drawn from the batch,
            # drop-path masks drawn at random.
            sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "golden", "dcal"))
            import step as dcalstep
            from functools import partial
            D, H = model.embed_dim, model.blocks[0].attn.num_heads
            glca = dcalstep.vit.Block(D, H, 4.0, qkv_bias=True, drop_path=0.1, norm_layer=partial(torch.nn.LayerNorm, eps=1e-6))
            glca_norm, glca_head = torch.nn.LayerNorm(D, eps=1e-6), torch.nn.Linear(D, classes)
            s = torch.nn.Parameter(torch.zeros(1 + len(branches)))
            glca.train()
            params += list(glca.parameters()) + list(glca_norm.parameters()) + list(glca_head.parameters()) + [s]
            rates = [b.drop_path1.drop_prob if hasattr(b.drop_path1, "drop_prob") else 0.0 for b in model.blocks]
        opt = torch.optim.SGD(params, lr=0.01, momentum=0.9)

        def step():
            opt.zero_grad()
            if branches:
                n = batch
                partners = (torch.arange(n) + 1 + torch.randint(0, max(n - 1, 1), (n,))) % n
                _, terms, _ = dcalstep.dcal_losses(model, glca, glca_norm, glca_head, s, x, y, partners, args.glca_ratio, rates,
                                                   use_glca="glca" in branches, use_pwca="pwca" in branches)
                sum(terms).backward()
            else:
                F.cross_entropy(model(x), y).backward()
            opt.step()

        best, mean, cpu = time_loop(args.warmup, iters, step)
        out.update(seconds_per_step=best, images_per_second=batch / best,
                   mean_seconds_per_step=mean, cpu_seconds_per_step=cpu)
    else:
        model.eval()

        def infer():
            with torch.no_grad():
                model(x)

        best, mean, cpu = time_loop(args.warmup, iters, infer)
        out.update(ms_per_batch=best * 1e3, mean_ms_per_batch=mean * 1e3,
                   cpu_ms_per_batch=cpu * 1e3, images_per_second=batch / best)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
