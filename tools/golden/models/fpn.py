"""Golden ResNet-FPN backbones: torchvision's IntermediateLayerGetter over a
ResNet (C2–C5) and its FeaturePyramidNetwork (P2–P5, 256 channels, no extra
blocks), as BackboneWithFPN arranges them (state-dict names body.*, fpn.*).

Every weight is set by the hash formula of tools/golden/models/resnet.py,
indexed by the parameter's position in the state dict, which the Go test
reproduces; committing real weights would add 50–120 MB per depth. For each
of resnet18/34/50 in evaluation mode and a fixed 2×3×64×64 input it writes to
models/testdata/fpn.json the state-dict keys, and strided samples (at most
about 400 values each) of C2–C5, of P2–P5, and of the gradients of
sum_l sum(W_l ⊙ P_l), for fixed hash weightings W_l, with respect to the
input and to a few parameters, plus each pyramid level's full sum.

Run from the repository root with python3-torch and torchvision:
    python3 tools/golden/models/fpn.py
"""
import json
import math
import os
from collections import OrderedDict

import numpy as np
import torch
import torchvision
from torchvision.models._utils import IntermediateLayerGetter
from torchvision.ops import FeaturePyramidNetwork

OUT = os.path.join("models", "testdata", "fpn.json")
# The input of hash index 999999 (resnet.py's) has a pre-activation 2e-6 from zero in
# ResNet-18's layer2.1, where float32 rounding can switch the ReLU and move the
# stem's gradients by 1%; this one keeps clear of the kink at all three depths.
INPUT_INDEX = 1000000
GRADS = ["body.conv1.weight", "body.bn1.weight", "body.layer3.0.conv1.weight", "fpn.inner_blocks.0.0.weight",
         "fpn.inner_blocks.3.0.bias", "fpn.layer_blocks.0.0.weight", "fpn.layer_blocks.2.0.bias"]


def hash_uniform(index, n):
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
        v = (2 * u - 1) * math.sqrt(6.0 / (shape[1] * shape[2] * shape[3]))
    elif name.endswith("weight") and len(shape) == 2:
        v = (2 * u - 1) / math.sqrt(shape[1])
    elif name.endswith("weight"):
        v = 0.5 + u
    else:
        v = 0.2 * (u - 0.5)
    return torch.from_numpy(v.astype(np.float32)).reshape(shape)


class Backbone(torch.nn.Module):
    def __init__(self, arch):
        super().__init__()
        r = getattr(torchvision.models, arch)()
        self.body = IntermediateLayerGetter(r, OrderedDict((f"layer{i}", str(i - 2)) for i in range(1, 5)))
        ch = [64, 128, 256, 512] if arch in ("resnet18", "resnet34") else [256, 512, 1024, 2048]
        self.fpn = FeaturePyramidNetwork(ch, 256)

    def forward(self, x):
        c = self.body(x)
        return list(c.values()), list(self.fpn(c).values())


def sample(t):
    d = t.detach().reshape(-1)
    step = max(1, d.numel() // 400)
    return {"shape": list(t.shape), "step": step, "data": d[::step].tolist()}


def main():
    torch.set_num_threads(1)
    out = {"torchvision": torchvision.__version__, "input_shape": [2, 3, 64, 64], "input_index": INPUT_INDEX, "archs": {}}
    for arch in ["resnet18", "resnet34", "resnet50"]:
        m = Backbone(arch)
        sd = m.state_dict()
        m.load_state_dict({k: (torch.tensor(0) if k.endswith("num_batches_tracked") else formula_value(i, k, list(v.shape)))
                           for i, (k, v) in enumerate(sd.items())})
        m.eval()
        n = 2 * 3 * 64 * 64
        x = torch.from_numpy((2 * hash_uniform(INPUT_INDEX, n) - 1).astype(np.float32)).reshape(2, 3, 64, 64).requires_grad_()
        cs, ps = m(x)
        loss = 0
        for l, p in enumerate(ps):
            w = torch.from_numpy((2 * hash_uniform(777 + l, p.numel()) - 1).astype(np.float32)).reshape(p.shape)
            loss = loss + (w * p).sum()
        loss.backward()
        params = dict(m.named_parameters())
        out["archs"][arch] = {
            "keys": [k for k in sd.keys()],
            "c": [sample(c) for c in cs],
            "p": [sample(p) for p in ps],
            "p_sums": [float(p.double().sum()) for p in ps],
            "grads": {"input": sample(x.grad), **{k: sample(params[k].grad) for k in GRADS}},
        }
    with open(OUT, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
