"""Golden outputs and gradients of the re-ID network (models.ReID) on a
ResNet, as the strong baseline (Luo et al.) builds it with GeM pooling.

The backbone is torchvision's ResNet from resnet.py beside this file, its
fc removed and its last stage at stride 1; then GeM pooling (the common
GeneralizedMeanPooling: avg_pool(x.clamp(min=eps)^p)^(1/p), p learnable),
a BatchNorm1d neck "bottleneck" whose bias does not require a gradient, and
a bias-free Linear "classifier". It writes models/testdata/reid.json:

- keys: the state-dict names, shapes and dtypes of the ResNet-50 network;
- train: for the ResNet-18 network with 5 identities in training mode, with
  every weight set by resnet.py's hash formula (p set to 2.5), a 4×3×64×32
  input: the pre-neck feature, the post-neck feature, the logits, fixed
  weightings of the three, and the gradients of the weighted sum with
  respect to a few parameters (p's among them), computed in float64;
- eval: the same network's output in evaluation mode (the post-neck
  feature, running statistics).

Run: python3 tools/golden/models/reid.py
"""
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from resnet import ARCHS, ResNet, formula_state, hash_input  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "models", "testdata", "reid.json")


class GeM(nn.Module):
    def __init__(self, p=3.0, eps=1e-6):
        super().__init__()
        self.p = nn.Parameter(torch.ones(1) * p)
        self.eps = eps

    def forward(self, x):
        return F.adaptive_avg_pool2d(x.clamp(min=self.eps).pow(self.p), 1).pow(1.0 / self.p)


class ReID(nn.Module):
    def __init__(self, arch, classes):
        super().__init__()
        block, layers = ARCHS[arch]
        base = ResNet(block, layers)
        del base.fc
        first = base.layer4[0]
        (first.conv2 if hasattr(first, "conv3") else first.conv1).stride = (1, 1)
        first.downsample[0].stride = (1, 1)
        dim = 512 * block.expansion
        self.base = base
        self.pool = GeM()
        self.bottleneck = nn.BatchNorm1d(dim)
        self.bottleneck.bias.requires_grad_(False)
        self.classifier = nn.Linear(dim, classes, bias=False)

    def forward(self, x):
        b = self.base
        x = b.maxpool(b.relu(b.bn1(b.conv1(x))))
        x = b.layer4(b.layer3(b.layer2(b.layer1(x))))
        f = self.pool(x).flatten(1)
        n = self.bottleneck(f)
        return f, n, self.classifier(n)


GRADS = ["pool.p", "classifier.weight", "bottleneck.weight", "base.conv1.weight", "base.bn1.weight",
         "base.layer4.1.bn2.weight", "base.layer4.0.downsample.1.bias"]


def flat(t):
    return t.detach().to(torch.float32).flatten().tolist()


def main():
    torch.manual_seed(0)
    out = {"keys": [[k, list(v.shape), "I64" if v.dtype == torch.int64 else "F32"]
                    for k, v in ReID("resnet50", 751).state_dict().items()]}
    m = ReID("resnet18", 5)
    sd = formula_state(m)
    sd["pool.p"] = torch.tensor([2.5])
    m.load_state_dict(sd)
    m.double().train()
    shape = [4, 3, 64, 32]
    x = hash_input(shape).double()
    f, n, y = m(x)
    g = torch.Generator().manual_seed(19)
    ws = [torch.rand(t.shape, generator=g, dtype=torch.float64) * 2 - 1 for t in (f, n, y)]
    sum((t * w).sum() for t, w in zip((f, n, y), ws)).backward()
    params = dict(m.named_parameters())
    assert params["bottleneck.bias"].grad is None
    out["train"] = {
        "input_shape": shape, "p": 2.5,
        "feature": flat(f), "neck": flat(n), "logits": flat(y),
        "weights": [flat(w) for w in ws],
        "grads": {k: flat(params[k].grad) for k in GRADS},
    }
    m.eval()
    with torch.no_grad():
        _, n, _ = m(x)
    out["eval"] = {"neck": flat(n)}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as fh:
        json.dump(out, fh)


main()
