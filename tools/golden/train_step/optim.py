"""Golden values for optim: torch.optim updates, schedules and clipping.

Writes optim/testdata/optim.json. Each optimiser case starts from the same
parameters, applies the same sequence of gradients and records the
parameters after every step. Schedules record the learning rate torch's
schedulers produce at each step.

Run: python3 tools/golden/train_step/optim.py
"""
import json
import os

import torch

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "optim", "testdata", "optim.json")
torch.manual_seed(0)
p0 = [torch.randn(3, 4), torch.randn(4)]
grads = [[torch.randn(3, 4), torch.randn(4)] for _ in range(4)]


def flat(ts):
    return [t.detach().flatten().tolist() for t in ts]


cases = {
    "sgd": (torch.optim.SGD, dict(lr=0.1)),
    "sgd_momentum": (torch.optim.SGD, dict(lr=0.1, momentum=0.9)),
    "sgd_momentum_wd": (torch.optim.SGD, dict(lr=0.05, momentum=0.9, weight_decay=1e-2)),
    "sgd_dampening": (torch.optim.SGD, dict(lr=0.05, momentum=0.9, dampening=0.5)),
    "sgd_nesterov": (torch.optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)),
    "adam": (torch.optim.Adam, dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8)),
    "adam_wd": (torch.optim.Adam, dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    "adamw": (torch.optim.AdamW, dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.05)),
    "adadelta": (torch.optim.Adadelta, dict(lr=1.0, rho=0.9, eps=1e-6)),
    "adadelta_wd": (torch.optim.Adadelta, dict(lr=0.5, rho=0.95, eps=1e-6, weight_decay=0.01)),
}
out = {"init": flat(p0), "grads": [flat(g) for g in grads], "optim": {}, "schedules": {}}
for name, (cls, kw) in cases.items():
    ps = [p.clone().requires_grad_(True) for p in p0]
    opt = cls(ps, **kw)
    steps = []
    for g in grads:
        for p, gi in zip(ps, g):
            p.grad = gi.clone()
        opt.step()
        steps.append(flat(ps))
    out["optim"][name] = {"kwargs": {k: list(v) if isinstance(v, tuple) else v for k, v in kw.items()}, "steps": steps}

# Parameter groups: the second tensor has its own lr and no weight decay.
ps = [p.clone().requires_grad_(True) for p in p0]
opt = torch.optim.AdamW([{"params": [ps[0]]}, {"params": [ps[1]], "lr": 0.1, "weight_decay": 0.0}],
                        lr=1e-2, weight_decay=0.1)
steps = []
for g in grads:
    for p, gi in zip(ps, g):
        p.grad = gi.clone()
    opt.step()
    steps.append(flat(ps))
out["groups_adamw"] = steps


def lrs(make, n=12):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.5)
    sch = make(opt)
    vals = []
    for _ in range(n):
        vals.append(opt.param_groups[0]["lr"])
        opt.step()
        sch.step()
    return vals


S = torch.optim.lr_scheduler
out["schedules"]["step"] = lrs(lambda o: S.StepLR(o, step_size=3, gamma=0.5))
out["schedules"]["multistep"] = lrs(lambda o: S.MultiStepLR(o, milestones=[2, 5, 9], gamma=0.1))
out["schedules"]["cosine"] = lrs(lambda o: S.CosineAnnealingLR(o, T_max=10, eta_min=0.05))
out["schedules"]["poly"] = lrs(lambda o: S.PolynomialLR(o, total_iters=8, power=0.9))
out["schedules"]["warmup_cosine"] = lrs(lambda o: S.SequentialLR(
    o, [S.LinearLR(o, start_factor=0.1, total_iters=4), S.CosineAnnealingLR(o, T_max=8)], milestones=[4]))

# clip_grad_norm_
ps = [p.clone().requires_grad_(True) for p in p0]
for p, gi in zip(ps, grads[0]):
    p.grad = gi.clone() * 3
norm = torch.nn.utils.clip_grad_norm_(ps, max_norm=1.5)
out["clip"] = {"max_norm": 1.5, "scale": 3, "norm": norm.item(), "grads": flat([p.grad for p in ps])}
os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as f:
    json.dump(out, f)
