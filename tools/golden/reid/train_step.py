"""Golden training step of the supervised re-ID recipe (tasks/reid).

The network is models.ReID on a ResNet-18 (tools/golden/models/reid.py:
torchvision's ResNet, last stride 1, GeM, BatchNorm1d neck with a frozen
bias, bias-free classifier) with 3 identities, every weight set by the hash
formula of tools/golden/models/resnet.py (which the Go test computes too, so
both sides start from the same state dict), GeM's p set to 3. One step on a
P×K = 2×4 batch of hash images (8×3×64×32, labels 0,0,0,0,2,2,2,2):
label-smoothed cross-entropy (ε 0.1) on the logits plus the batch-hard
triplet loss (margin 0.3, Euclidean distance clamped at 1e-12, as the strong
baseline's TripletLoss) on the pre-neck feature, then Adam (lr 3.5e-4,
weight decay 5e-4). In float64. It writes tasks/reid/testdata/train_step.json:
both loss terms, the norm of every parameter's gradient, the full gradients
and updated values of a few parameters, and the neck's running mean.

Run: python3 tools/golden/reid/train_step.py
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(__file__)
sys.path.insert(0, os.path.join(HERE, "..", "models"))
from resnet import formula_state, hash_input  # noqa: E402

# reid.py builds its golden file when imported; take its classes only.
src = open(os.path.join(HERE, "..", "models", "reid.py")).read().replace("\nmain()\n", "\n")
ns = {"__file__": os.path.join(HERE, "..", "models", "reid.py"), "__name__": "reid_golden"}
exec(compile(src, "reid.py", "exec"), ns)
ReID = ns["ReID"]

OUT = os.path.join(HERE, "..", "..", "..", "tasks", "reid", "testdata", "train_step.json")
FULL = ["pool.p", "classifier.weight", "bottleneck.weight", "base.bn1.weight", "base.layer4.1.bn2.weight",
        "base.layer4.0.downsample.1.bias", "base.conv1.weight"]


def triplet(x, labels, margin):
    n = x.shape[0]
    sq = (x * x).sum(1, keepdim=True)
    d = (sq + sq.t() - 2 * x @ x.t()).clamp(min=1e-12).sqrt()
    same = labels.view(n, 1) == labels.view(1, n)
    ap = torch.stack([d[i][same[i]].max() for i in range(n)])
    an = torch.stack([d[i][~same[i]].min() for i in range(n)])
    return F.margin_ranking_loss(an, ap, torch.ones_like(an), margin=margin)


def flat(t):
    return t.detach().flatten().tolist()


def main():
    m = ReID("resnet18", 3)
    sd = formula_state(m)
    sd["pool.p"] = torch.tensor([3.0])
    m.load_state_dict(sd)
    m.double().train()
    x = hash_input([8, 3, 64, 32]).double()
    labels = torch.tensor([0, 0, 0, 0, 2, 2, 2, 2])
    opt = torch.optim.Adam([p for p in m.parameters() if p.requires_grad], lr=3.5e-4, weight_decay=5e-4)
    f, _, logits = m(x)
    ce = F.cross_entropy(logits, labels, label_smoothing=0.1)
    tri = triplet(f, labels, 0.3)
    opt.zero_grad()
    (ce + tri).backward()
    params = dict(m.named_parameters())
    out = {
        "cross_entropy": ce.item(), "triplet": tri.item(),
        "grad_norms": {k: p.grad.norm().item() for k, p in params.items() if p.grad is not None},
        "grads": {k: flat(params[k].grad) for k in FULL},
    }
    opt.step()
    out["after"] = {k: flat(params[k]) for k in FULL}
    out["after"]["bottleneck.running_mean"] = flat(m.bottleneck.running_mean)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as fh:
        json.dump(out, fh)


main()
