"""Golden P3–P7 pyramid of RetinaNet and ATSS: torchvision's
BackboneWithFPN over ResNet-18's layer2–layer4 (C3–C5) with the extra block
LastLevelP6P7(256, 256) on P5, as retinanet_resnet50_fpn builds it (state
dict names body.*, fpn.inner_blocks.*, fpn.layer_blocks.*,
fpn.extra_blocks.p6/p7.*).

Every weight is set by fpn.py's hash formula, indexed by the parameter's
position in the state dict. For a 2×3×128×128 input in evaluation mode it
writes to models/testdata/fpn_p3p7.json the state-dict keys, strided
samples of P3–P7 and of the gradients of sum_l sum(W_l ⊙ P_l) with respect
to the input and a few parameters, and the parameter counts of the ATSS
detectors atss-r18 and atss-r50 (this pyramid with 256 channels and ATSS's
head of 80 classes: 2 towers of 4 × (3×3 conv, GroupNorm 32), the
classifier, box regression, centerness and 5 scales).

Run from the repository root: /usr/bin/python3 tools/golden/models/fpn_p3p7.py
"""
import json
import os
import sys
from collections import OrderedDict

import numpy as np
import torch
import torchvision
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.ops.feature_pyramid_network import LastLevelP6P7

sys.path.insert(0, os.path.dirname(__file__))
from fpn import formula_value, hash_uniform, sample  # noqa: E402

OUT = os.path.join("models", "testdata", "fpn_p3p7.json")
INPUT_INDEX = 1000000
GRADS = ["body.conv1.weight", "body.layer2.0.conv1.weight", "fpn.inner_blocks.0.0.weight",
         "fpn.layer_blocks.2.0.bias", "fpn.extra_blocks.p6.weight", "fpn.extra_blocks.p7.bias"]


def backbone(arch):
    r = getattr(torchvision.models, arch)()
    ch = [128, 256, 512] if arch in ("resnet18", "resnet34") else [512, 1024, 2048]
    return BackboneWithFPN(r, {"layer2": "0", "layer3": "1", "layer4": "2"}, ch, 256,
                           extra_blocks=LastLevelP6P7(256, 256))


def head_params(ch=256, classes=80, convs=4):
    conv = ch * ch * 9 + ch
    tower = convs * (conv + 2 * ch)
    return 2 * tower + (ch * classes * 9 + classes) + (ch * 4 * 9 + 4) + (ch * 9 + 1) + 5


def main():
    torch.set_num_threads(1)
    m = backbone("resnet18")
    sd = m.state_dict()
    m.load_state_dict({k: (torch.tensor(0) if k.endswith("num_batches_tracked") else formula_value(i, k, list(v.shape)))
                       for i, (k, v) in enumerate(sd.items())})
    m.eval()
    shape = [2, 3, 128, 128]
    n = int(np.prod(shape))
    x = torch.from_numpy((2 * hash_uniform(INPUT_INDEX, n) - 1).astype(np.float32)).reshape(shape).requires_grad_()
    ps = list(m(x).values())
    loss = 0
    for l, p in enumerate(ps):
        w = torch.from_numpy((2 * hash_uniform(777 + l, p.numel()) - 1).astype(np.float32)).reshape(p.shape)
        loss = loss + (w * p).sum()
    loss.backward()
    params = dict(m.named_parameters())
    out = {"torchvision": torchvision.__version__, "input_shape": shape, "input_index": INPUT_INDEX,
           "keys": list(sd.keys()), "p": [sample(p) for p in ps],
           "grads": {"input": sample(x.grad), **{k: sample(params[k].grad) for k in GRADS}},
           "atss_params": {a: sum(p.numel() for p in backbone(a).parameters()) + head_params()
                           for a in ["resnet18", "resnet50"]}}
    with open(OUT, "w") as f:
        json.dump(out, f)


main()
