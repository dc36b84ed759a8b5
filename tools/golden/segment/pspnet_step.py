#!/usr/bin/env python3
"""One CDCL training step of a reduced PSPNet-R18-D8 in PyTorch, and the
state-dict names of pspnet_r18-d8 and pspnet_r50-d8, for models/pspnet_test.go.

The network is mmsegmentation's pspnet_r18-d8 written out in plain PyTorch
with mmsegmentation's state-dict names (ResNetV1c deep stem, strides
1,2,1,1, dilations 1,1,2,4 with contract_dilation, the basic block dilating
its first 3x3 only; PSPHead bins 1,2,3,6 with align_corners False; FCNHead
auxiliary head on layer3), narrowed to width 4 (heads 8 and 4 channels) and
with every Conv-BN made a Dataset-Aware Block: one BatchNorm2d per dataset
(children "0" and "1" of each norm) and one conv_seg per label set. Dropout
is 0 so the step is deterministic.

The step is CDCL's Dataset Alternation Training over two datasets of 5 and
3 classes: a batch of each (4x3x40x40, labels with some 255) forwarded
through its own batch norms and classifiers, the decode loss plus 0.4 times
the auxiliary loss of each (mmsegmentation's CrossEntropyLoss: logits
resized bilinearly to the label size, the sum over non-ignored pixels
divided by all pixels), summed, one backward pass, one SGD step (lr 0.01,
momentum 0.9, weight decay 1e-4).

It writes models/testdata/pspnet_init.safetensors (the initial state dict,
random so that every gradient matters), models/testdata/pspnet_step.safetensors
(the inputs as F32, labels as I64, every gradient as grad.NAME and the state
dict after the step as after.NAME) and models/testdata/pspnet_step.json (the
loss terms). Computed in float64, stored as float32.

Run from the repository root: python3 tools/golden/segment/pspnet_step.py
"""
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "models"))
from resnet import write_safetensors  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "models", "testdata")
WIDTH, CHANNELS, AUX_CHANNELS, BINS = 4, 8, 4, (1, 2, 3, 6)
CLASSES = (5, 3)


def dbn(c):
    # Name the batch norms "0", "1" directly under the norm, as argus does;
    # with one dataset the norm is a plain batch norm.
    if len(CLASSES) == 1:
        return nn.BatchNorm2d(c)
    m = nn.Module()
    for i in range(len(CLASSES)):
        m.add_module(str(i), nn.BatchNorm2d(c))
    m.active = 0
    m.forward = lambda x: getattr(m, str(m.active))(x)
    return m


def conv(i, o, k, s=1, d=1):
    return nn.Conv2d(i, o, k, s, d * (k // 2), d, bias=False)


class One(nn.Conv2d):
    """One label set's conv_seg, indexed as the list of several is."""

    def __getitem__(self, d):
        return self


def seg_convs(i):
    if len(CLASSES) == 1:
        return One(i, CLASSES[0], 1)
    return nn.ModuleList(nn.Conv2d(i, c, 1) for c in CLASSES)


class ConvModule(nn.Module):
    def __init__(self, i, o, k):
        super().__init__()
        self.conv = conv(i, o, k)
        self.bn = dbn(o)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class Block(nn.Module):
    def __init__(self, i, p, s, d):
        super().__init__()
        self.conv1, self.bn1 = conv(i, p, 3, s, d), dbn(p)
        self.conv2, self.bn2 = conv(p, p, 3), dbn(p)
        self.downsample = None
        if s != 1 or i != p:
            self.downsample = nn.Sequential(conv(i, p, 1, s), dbn(p))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        idt = x if self.downsample is None else self.downsample(x)
        return F.relu(out + idt)


class Bottleneck(nn.Module):
    """mmsegmentation's Bottleneck in the pytorch style: the stride and the
    dilation on the 3x3, four times the planes out."""

    def __init__(self, i, p, s, d):
        super().__init__()
        self.conv1, self.bn1 = conv(i, p, 1), dbn(p)
        self.conv2, self.bn2 = conv(p, p, 3, s, d), dbn(p)
        self.conv3, self.bn3 = conv(p, 4 * p, 1), dbn(4 * p)
        self.downsample = None
        if s != 1 or i != 4 * p:
            self.downsample = nn.Sequential(conv(i, 4 * p, 1, s), dbn(4 * p))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        idt = x if self.downsample is None else self.downsample(x)
        return F.relu(out + idt)


# DEPTHS maps a depth to its block and blocks per stage (mmsegmentation's
# ResNet.arch_settings).
DEPTHS = {18: (Block, (2, 2, 2, 2)), 50: (Bottleneck, (3, 4, 6, 3))}
DEPTH = 18


class Backbone(nn.Module):
    def __init__(self):
        super().__init__()
        w = WIDTH
        block, counts = DEPTHS[DEPTH]
        expansion = 4 if block is Bottleneck else 1
        self.stem = nn.Sequential(conv(3, w // 2, 3, 2), dbn(w // 2), nn.ReLU(),
                                  conv(w // 2, w // 2, 3), dbn(w // 2), nn.ReLU(),
                                  conv(w // 2, w, 3), dbn(w), nn.ReLU())
        i = w
        for s, (st, dil) in enumerate(zip((1, 2, 1, 1), (1, 1, 2, 4))):
            p = w << s
            blocks = []
            for b in range(counts[s]):
                d = dil if b > 0 or dil == 1 else dil // 2
                blocks.append(block(i, p, st if b == 0 else 1, d))
                i = p * expansion
            self.add_module(f"layer{s + 1}", nn.Sequential(*blocks))

    def forward(self, x):
        x = F.max_pool2d(self.stem(x), 3, 2, 1)
        outs = []
        for s in range(4):
            x = getattr(self, f"layer{s + 1}")(x)
            outs.append(x)
        return outs


class PSPHead(nn.Module):
    def __init__(self, i):
        super().__init__()
        self.conv_seg = seg_convs(CHANNELS)
        self.psp_modules = nn.ModuleList(nn.Sequential(nn.AdaptiveAvgPool2d(b), ConvModule(i, CHANNELS, 1)) for b in BINS)
        self.bottleneck = ConvModule(i + len(BINS) * CHANNELS, CHANNELS, 3)

    def forward(self, x, d):
        outs = [x] + [F.interpolate(m(x), size=x.shape[2:], mode="bilinear", align_corners=False) for m in self.psp_modules]
        return self.conv_seg[d](self.bottleneck(torch.cat(outs, 1)))


class FCNHead(nn.Module):
    def __init__(self, i):
        super().__init__()
        self.conv_seg = seg_convs(AUX_CHANNELS)
        self.convs = nn.Sequential(ConvModule(i, AUX_CHANNELS, 3))

    def forward(self, x, d):
        return self.conv_seg[d](self.convs(x))


class PSPNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = Backbone()
        expansion = 4 if DEPTHS[DEPTH][0] is Bottleneck else 1
        self.decode_head = PSPHead(WIDTH * 8 * expansion)
        self.auxiliary_head = FCNHead(WIDTH * 4 * expansion)

    def forward(self, x, d):
        for m in self.modules():
            if hasattr(m, "active") and not isinstance(m, nn.BatchNorm2d):
                m.active = d
        cs = self.backbone(x)
        return self.decode_head(cs[3], d), self.auxiliary_head(cs[2], d)


def seg_ce(logits, labels):
    logits = F.interpolate(logits, size=labels.shape[1:], mode="bilinear", align_corners=False)
    loss = F.cross_entropy(logits, labels, ignore_index=255, reduction="none")
    return loss.sum() / labels.numel()


def configure(width, channels, aux_channels, classes):
    """Set the widths and label sets the classes below build (the CDCL
    network when classes has several entries)."""
    global WIDTH, CHANNELS, AUX_CHANNELS, CLASSES
    WIDTH, CHANNELS, AUX_CHANNELS, CLASSES = width, channels, aux_channels, tuple(classes)


def full_keys(depth):
    """The state-dict names and shapes of mmsegmentation's pspnet_r18-d8 or
    pspnet_r50-d8 (depth 18 or 50) for 19 classes (one label set, plain
    batch norms); the heads' widths are those of the mmsegmentation
    configs: 128 and 64 for ResNet-18, 512 and 256 for ResNet-50."""
    global WIDTH, CHANNELS, AUX_CHANNELS, CLASSES, DEPTH
    saved = WIDTH, CHANNELS, AUX_CHANNELS, CLASSES, DEPTH
    heads = {18: (128, 64), 50: (512, 256)}[depth]
    WIDTH, (CHANNELS, AUX_CHANNELS), CLASSES, DEPTH = 64, heads, (19,), depth
    keys = [[k, list(v.shape)] for k, v in PSPNet().state_dict().items()]
    WIDTH, CHANNELS, AUX_CHANNELS, CLASSES, DEPTH = saved
    return keys


def main():
    keys, keys50 = full_keys(18), full_keys(50)
    torch.manual_seed(0)
    m = PSPNet()
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.weight.copy_(torch.rand(mod.weight.shape, generator=g) + 0.5)
                mod.bias.copy_(torch.rand(mod.bias.shape, generator=g) - 0.5)
                mod.running_mean.copy_(torch.rand(mod.running_mean.shape, generator=g) - 0.5)
                mod.running_var.copy_(torch.rand(mod.running_var.shape, generator=g) + 0.5)
                mod.num_batches_tracked.fill_(3)
            elif isinstance(mod, nn.Conv2d):
                fan = mod.weight[0].numel()
                mod.weight.copy_(torch.randn(mod.weight.shape, generator=g) * (2.0 / fan) ** 0.5)
                if mod.bias is not None:
                    mod.bias.copy_(torch.rand(mod.bias.shape, generator=g) * 0.2 - 0.1)
    sd = {k: v.clone() for k, v in m.state_dict().items()}
    os.makedirs(OUT, exist_ok=True)
    write_safetensors(os.path.join(OUT, "pspnet_init.safetensors"), sd)

    batches = []
    for c in CLASSES:
        x = torch.randn(4, 3, 40, 40, generator=g)
        y = torch.randint(0, c, (4, 40, 40), generator=g)
        y[torch.rand(4, 40, 40, generator=g) < 0.2] = 255
        batches.append((x, y))

    m.double().train()
    opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    opt.zero_grad()
    terms, total = {}, 0
    for d, (x, y) in enumerate(batches):
        dec, aux = m(x.double(), d)
        ld, la = seg_ce(dec, y), 0.4 * seg_ce(aux, y)
        terms[f"{d}.decode.loss_ce"] = ld.item()
        terms[f"{d}.aux.loss_ce"] = la.item()
        total = total + ld + la
    total.backward()
    grads = {"grad." + k: p.grad.float() for k, p in m.named_parameters()}
    opt.step()
    after = {"after." + k: v.float() if v.dtype != torch.int64 else v for k, v in m.state_dict().items()}
    io = {}
    for d, (x, y) in enumerate(batches):
        io[f"x{d}"], io[f"y{d}"] = x, y.to(torch.int64)
    write_safetensors(os.path.join(OUT, "pspnet_step.safetensors"), {**io, **grads, **after})
    with open(os.path.join(OUT, "pspnet_step.json"), "w") as f:
        json.dump({"r18_keys": keys, "r50_keys": keys50, "terms": terms, "total": total.item(), "classes": list(CLASSES),
                   "width": WIDTH, "channels": CHANNELS, "aux_channels": AUX_CHANNELS, "bins": list(BINS)}, f, indent=1)


if __name__ == "__main__":
    main()
