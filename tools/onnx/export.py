#!/usr/bin/env python3
"""Export ResNet-18 and MobileNet-V2 with random weights to ONNX, with
reference inputs and PyTorch outputs in the ONNX backend-test layout:

    OUT/<model>/model.onnx
    OUT/<model>/test_data_set_0/input_0.pb
    OUT/<model>/test_data_set_0/output_0.pb

Architectures are torchvision's (torchvision.models.resnet and
mobilenetv2). The models committed under compiler/onnx/testdata/models are reduced:
ResNet-18 at 1/8 width (channels 8-16-32-64 instead of 64-128-256-512) and
MobileNet-V2 at width 0.25 with 100 classes, on 64x64 inputs with batch 2,
so that the repository stays small. --full writes the full-size models
(ResNet-18 with 1000 classes, 45 MB; MobileNet-V2 width 1.0) on
1x3x224x224 inputs, and --time measures PyTorch's CPU latency for them.

Batch normalisation is exported as separate BatchNormalization nodes
(training=PRESERVE on a model in eval mode), so that the importer's
batch-norm folding is exercised; the batch dimension is dynamic.

Usage (Debian python3-torch, python3-torchvision, python3-onnx):
    python3 tools/onnx/export.py --out compiler/onnx/testdata/models
    python3 tools/onnx/export.py --full --time --out /tmp/onnx-full
    python3 tools/onnx/export.py --full --out /tmp/onnx-full \
        --models resnet18,resnet50,mobilenet_v2,squeezenet1_1,googlenet,vgg16
    ARGUS_ONNX_MODELS=/tmp/onnx-full go test ./compiler/onnx/ -run XXX -bench . -benchtime 20x -cpu 1
"""
import argparse
import json
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torchvision
from onnx import numpy_helper


class ResNet18(torchvision.models.resnet.ResNet):
    """torchvision's ResNet-18 with every stage's width divided by div."""

    def __init__(self, div=1, num_classes=1000):
        super().__init__(torchvision.models.resnet.BasicBlock, [2, 2, 2, 2], num_classes=num_classes)
        if div == 1:
            return
        block = torchvision.models.resnet.BasicBlock
        w = [64 // div, 128 // div, 256 // div, 512 // div]
        self.inplanes = w[0]
        self.conv1 = nn.Conv2d(3, w[0], kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(w[0])
        self.layer1 = self._make_layer(block, w[0], 2)
        self.layer2 = self._make_layer(block, w[1], 2, stride=2)
        self.layer3 = self._make_layer(block, w[2], 2, stride=2)
        self.layer4 = self._make_layer(block, w[3], 2, stride=2)
        self.fc = nn.Linear(w[3], num_classes)


def randomize(model, gen):
    """Give batch-norm layers non-trivial statistics and keep activations
    of order one, so the comparison tests more than zeros."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.weight.data = torch.rand(c, generator=gen) * 0.5 + 0.75
            m.bias.data = torch.randn(c, generator=gen) * 0.1
            m.running_mean.data = torch.randn(c, generator=gen) * 0.1
            m.running_var.data = torch.rand(c, generator=gen) * 0.5 + 0.75
        elif isinstance(m, nn.Linear):
            m.weight.data = torch.randn(m.weight.shape, generator=gen) * (1.0 / m.in_features) ** 0.5
            m.bias.data = torch.randn(m.bias.shape, generator=gen) * 0.1


# ZOO are torchvision models exported only at full size (--full --models),
# for the compiler's model list: torchvision's own builders, random weights.
ZOO = {
    "resnet50": lambda: torchvision.models.resnet50(),
    "squeezenet1_1": lambda: torchvision.models.squeezenet1_1(),
    "googlenet": lambda: torchvision.models.googlenet(aux_logits=False, init_weights=True),
    "vgg16": lambda: torchvision.models.vgg16(),
}


def build(name, full):
    if name in ZOO:
        if not full:
            raise ValueError(name + " is exported at full size only (--full)")
        return ZOO[name]()
    if name == "resnet18":
        return ResNet18(div=1 if full else 8, num_classes=1000 if full else 100)
    if name == "mobilenet_v2":
        if full:
            return torchvision.models.mobilenet_v2()
        return torchvision.models.mobilenet_v2(width_mult=0.25, num_classes=100)
    raise ValueError(name)


def save(t, path, name):
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(t, name).SerializeToString())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--time", action="store_true")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--models", default="resnet18,mobilenet_v2",
                    help="comma-separated: resnet18, mobilenet_v2, and with --full " + ", ".join(ZOO))
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    timings = {}
    for name in args.models.split(","):
        gen = torch.Generator().manual_seed(args.seed)
        model = build(name, args.full)
        randomize(model, gen)
        model.eval()
        shape = (1, 3, 224, 224) if args.full else (2, 3, 64, 64)
        x = torch.randn(shape, generator=gen)
        with torch.no_grad():
            y = model(x)
        d = os.path.join(args.out, name + ("" if args.full else "_small"))
        os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
        torch.onnx.export(
            model, x, os.path.join(d, "model.onnx"),
            opset_version=13,
            training=torch.onnx.TrainingMode.PRESERVE,
            do_constant_folding=True,
            input_names=["input"], output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
        )
        save(x.numpy(), os.path.join(d, "test_data_set_0", "input_0.pb"), "input")
        save(y.numpy(), os.path.join(d, "test_data_set_0", "output_0.pb"), "logits")
        print(name, "->", d, "output", tuple(y.shape), "max |y|", float(y.abs().max()))
        if args.time:
            with torch.no_grad():
                for _ in range(3):
                    model(x)
                runs, cpu = [], []
                for _ in range(args.runs):
                    t0, c0 = time.perf_counter(), time.process_time()
                    model(x)
                    runs.append(time.perf_counter() - t0)
                    cpu.append(time.process_time() - c0)
            # CPU time beside wall time: on a shared machine the wall time
            # mostly measures the neighbours.
            timings[name] = {"median_ms": 1000 * float(np.median(runs)), "min_ms": 1000 * min(runs),
                             "cpu_ms": 1000 * float(np.mean(cpu)),
                             "threads": torch.get_num_threads(), "input": list(shape)}
            print(name, "pytorch", timings[name])
    if timings:
        with open(os.path.join(args.out, "pytorch_latency.json"), "w") as f:
            json.dump({"torch": torch.__version__, "models": timings}, f, indent=1)


if __name__ == "__main__":
    main()
