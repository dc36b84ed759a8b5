"""Golden values for nn: torch.nn module state-dict names and
nn.MultiheadAttention outputs, attention weights and gradients.

Writes nn/testdata/nn.json.

Run: python3 tools/golden/models/nn_layers.py
"""
import json
import os

import torch
import torch.nn as nn

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "nn", "testdata", "nn.json")
torch.manual_seed(0)


def flat(t):
    return t.detach().flatten().tolist()


out = {"names": {}}
mods = {
    "linear": nn.Linear(4, 3),
    "conv": nn.Conv2d(2, 4, 3, bias=False),
    "convt": nn.ConvTranspose2d(4, 2, 3),
    "bn": nn.BatchNorm2d(3),
    "ln": nn.LayerNorm(5),
    "gn": nn.GroupNorm(2, 4),
    "emb": nn.Embedding(7, 3),
    "mha": nn.MultiheadAttention(8, 2, batch_first=True),
    "seq": nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.BatchNorm2d(2)),
}
for k, m in mods.items():
    out["names"][k] = [[n, list(v.shape)] for n, v in m.state_dict().items()]

mha = nn.MultiheadAttention(8, 2, batch_first=True)
with torch.no_grad():
    mha.in_proj_bias.uniform_(-0.3, 0.3)
    mha.out_proj.bias.uniform_(-0.3, 0.3)
q = torch.randn(2, 3, 8, requires_grad=True)
kv = torch.randn(2, 4, 8, requires_grad=True)
pad = torch.tensor([[False, False, True, False], [False, False, False, True]])
y, w = mha(q, kv, kv, key_padding_mask=pad, need_weights=True, average_attn_weights=False)
(y * torch.arange(y.numel()).reshape(y.shape).sin()).sum().backward()
out["mha"] = {
    "state": {n: flat(v) for n, v in mha.state_dict().items()},
    "q": flat(q), "kv": flat(kv), "pad": flat(pad.int()),
    "y": flat(y), "w": flat(w),
    "grad_q": flat(q.grad), "grad_kv": flat(kv.grad),
    "grad_in_proj_weight": flat(mha.in_proj_weight.grad),
    "grad_out_proj_weight": flat(mha.out_proj.weight.grad),
}
# Forward outputs of layers whose parameters are randomised.
out["forward"] = {}
layers = {
    "ln": (nn.LayerNorm(5), [2, 3, 5]),
    "gn": (nn.GroupNorm(2, 4), [2, 4, 3, 3]),
    "convt": (nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1), [1, 4, 3, 3]),
    "bn_eval": (nn.BatchNorm2d(3).eval(), [2, 3, 2, 2]),
}
for k, (m, shape) in layers.items():
    with torch.no_grad():
        for n, v in m.state_dict().items():
            if v.dtype.is_floating_point:
                v.copy_(torch.rand(v.shape) + 0.5 if "var" in n else torch.randn(v.shape))
    x = torch.randn(*shape)
    with torch.no_grad():
        y = m(x)
    out["forward"][k] = {"state": {n: flat(v.float()) for n, v in m.state_dict().items()},
                         "x": flat(x), "x_shape": shape, "y": flat(y)}
os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as f:
    json.dump(out, f)
