"""Golden training steps of a small CNN with batch norm, from PyTorch.

Writes tasks/classify/testdata/train_step.json: the initial weights, two
batches, and for SGD+momentum and AdamW the loss of each of two steps and
every parameter and buffer after each step. The Go test loads the same
weights, runs the same steps and compares.

Run: python3 tools/golden/train_step/train_step.py
"""
import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "tasks", "classify", "testdata", "train_step.json")


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 6, 3)
        self.fc = nn.Linear(24, 5)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.relu(self.conv2(x))
        return self.fc(torch.flatten(x, 1))


def state(m):
    return {k: v.detach().double().flatten().tolist() for k, v in m.state_dict().items()}


torch.manual_seed(0)
init = Net()
# Non-trivial affine parameters so that their gradients matter.
with torch.no_grad():
    init.bn1.weight.uniform_(0.5, 1.5)
    init.bn1.bias.uniform_(-0.2, 0.2)
batches = [(torch.randn(6, 3, 8, 8), torch.randint(0, 5, (6,))) for _ in range(2)]
out = {
    "init": state(init),
    "shapes": {k: list(v.shape) for k, v in init.state_dict().items()},
    "batches": [{"x": x.flatten().tolist(), "y": y.tolist()} for x, y in batches],
    "runs": {},
}
for name, make in {
    "sgd_momentum": lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-4),
    "adamw": lambda ps: torch.optim.AdamW(ps, lr=1e-2, weight_decay=0.05),
}.items():
    net = Net()
    net.load_state_dict(init.state_dict())
    net.train()
    opt = make(net.parameters())
    steps = []
    for x, y in batches:
        opt.zero_grad()
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        steps.append({"loss": loss.item(), "state": state(net)})
    out["runs"][name] = steps
os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as f:
    json.dump(out, f)
