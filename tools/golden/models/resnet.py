"""Golden ResNet outputs with torchvision's architecture and parameter names.

torchvision is not packaged beside Debian's python3-torch here, so this file
carries torchvision's resnet.py model code verbatim in structure (same module
attribute names, hence the same state-dict keys and order). It writes
models/testdata/resnet.json holding:

- keys: the state-dict names, shapes and dtypes of resnet18/34/50, which a
  converted torchvision checkpoint has;
- forward: for resnet18 and resnet50 in eval mode, the logits for a fixed
  input, with every weight set by a hash formula that the Go test reproduces
  (committing real weights would add ~100 MB).

With --safetensors DIR it also writes DIR/resnet18.safetensors, a state dict
converted the way one converts torchvision weights (the file the Go test
TestTorchvisionSafetensors reads when ARGUS_RESNET18 names it).

Run: python3 tools/golden/models/resnet.py [--safetensors DIR]
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "models", "testdata", "resnet.json")


def conv3x3(in_planes, out_planes, stride=1, groups=1, dilation=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=dilation,
                     groups=groups, bias=False, dilation=dilation)


def conv1x1(in_planes, out_planes, stride=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        width = planes
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        return self.relu(out + identity)


class ResNet(nn.Module):
    def __init__(self, block, layers, num_classes=1000):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


ARCHS = {"resnet18": (BasicBlock, [2, 2, 2, 2]), "resnet34": (BasicBlock, [3, 4, 6, 3]),
         "resnet50": (Bottleneck, [3, 4, 6, 3])}


def hash_uniform(index, n):
    """u in [0, 1): ((i*2654435761 + index*40503 + 12345) mod 2^32) / 2^32."""
    i = np.arange(n, dtype=np.uint64)
    k = (i * np.uint64(2654435761) + np.uint64(index * 40503 + 12345)) % np.uint64(1 << 32)
    return k.astype(np.float64) / float(1 << 32)


def formula_value(index, name, shape):
    n = int(np.prod(shape)) if shape else 1
    u = hash_uniform(index, n)
    if name.endswith("running_var"):
        v = 0.5 + u
    elif name.endswith("running_mean"):
        v = 0.2 * (u - 0.5)
    elif name.endswith("weight") and len(shape) == 4:
        fan_in = shape[1] * shape[2] * shape[3]
        v = (2 * u - 1) * math.sqrt(6.0 / fan_in)
    elif name.endswith("weight") and len(shape) == 2:
        v = (2 * u - 1) / math.sqrt(shape[1])
    elif name.endswith("weight"):
        v = 0.5 + u
    else:
        v = 0.2 * (u - 0.5)
    return torch.from_numpy(v.astype(np.float32)).reshape(shape)


def formula_state(model):
    sd = model.state_dict()
    out = {}
    for index, (name, t) in enumerate(sd.items()):
        if name.endswith("num_batches_tracked"):
            out[name] = torch.tensor(0, dtype=torch.int64)
        else:
            out[name] = formula_value(index, name, list(t.shape))
    return out


def hash_input(shape):
    return torch.from_numpy((2 * hash_uniform(999999, int(np.prod(shape))) - 1).astype(np.float32)).reshape(shape)


def write_safetensors(path, sd):
    names = {torch.float32: "F32", torch.int64: "I64"}
    header, chunks, off = {}, [], 0
    for k, v in sd.items():
        b = v.contiguous().numpy().tobytes()
        header[k] = {"dtype": names[v.dtype], "shape": list(v.shape), "data_offsets": [off, off + len(b)]}
        chunks.append(b)
        off += len(b)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for c in chunks:
            f.write(c)


def main():
    torch.manual_seed(0)
    out = {"keys": {}, "forward": {}}
    for arch, (block, layers) in ARCHS.items():
        m = ResNet(block, layers)
        out["keys"][arch] = [[k, list(v.shape), "I64" if v.dtype == torch.int64 else "F32"]
                             for k, v in m.state_dict().items()]
        if arch in ("resnet18", "resnet50"):
            m.load_state_dict(formula_state(m))
            m.eval()
            x = hash_input([2, 3, 64, 64])
            with torch.no_grad():
                y = m(x)
            out["forward"][arch] = {"input_shape": [2, 3, 64, 64], "logits": y.flatten().tolist()}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(out, f)
    if "--safetensors" in sys.argv:
        d = sys.argv[sys.argv.index("--safetensors") + 1]
        os.makedirs(d, exist_ok=True)
        m = ResNet(BasicBlock, [2, 2, 2, 2])
        m.eval()
        x = hash_input([2, 3, 64, 64])
        with torch.no_grad():
            y = m(x)
        write_safetensors(os.path.join(d, "resnet18.safetensors"), m.state_dict())
        with open(os.path.join(d, "resnet18_logits.json"), "w") as f:
            json.dump(y.flatten().tolist(), f)


if __name__ == "__main__":
    main()
