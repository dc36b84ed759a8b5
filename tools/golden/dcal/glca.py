"""Golden values for dcal's GLCA block and query selection, from PyTorch
with timm's Block (tools/timm/vit.py).

GLCA here is computed the way a reader of the paper would write it on top
of timm: the queries are the selected rows of the block's full query
projection (Argus projects only the selected tokens), the keys and values
all tokens' (softmax(Q_l K_g^T / sqrt(d)) V_g), then the block's residuals
and MLP on the selected tokens. The rollout-based selection is torch.topk
of a random rollout row, the class token kept first.

Writes dcal/testdata/glca.json: the block's state dict (timm's Block
names), the tokens, the queries, the output, a weighting w of the output and
the gradients of sum(w * output) for the tokens and several parameters.

Run from the repository root with Debian's python3-torch (1.13):

    python3 tools/golden/dcal/glca.py
"""
import json
import os
import sys
from functools import partial

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "timm"))
import vit  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "dcal", "testdata", "glca.json")


def enc(t):
    t = t.detach().to(torch.float32).contiguous()
    return {"shape": list(t.shape), "data": [float(v) for v in t.reshape(-1).tolist()]}


def glca(blk, x, idx):
    B, N, C = x.shape
    a = blk.attn
    H, d = a.num_heads, a.head_dim
    qkv = a.qkv(blk.norm1(x)).reshape(B, N, 3, H, d).permute(2, 0, 3, 1, 4)
    q, k, v = qkv.unbind(0)  # (B, H, N, d)
    q = torch.gather(q, 2, idx[:, None, :, None].expand(-1, H, -1, d))
    attn = ((q * a.scale) @ k.transpose(-2, -1)).softmax(-1)
    o = a.proj((attn @ v).transpose(1, 2).reshape(B, idx.shape[1], C))
    xs = torch.gather(x, 1, idx[:, :, None].expand(-1, -1, C))
    y = xs + o
    return y + blk.mlp(blk.norm2(y))


def main():
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(2205)
    D, H, M, B, L, R = 8, 2, 16, 2, 7, 3
    blk = vit.Block(D, H, M / D, qkv_bias=True, norm_layer=partial(nn.LayerNorm, eps=1e-6))
    with torch.no_grad():
        for k, p in blk.named_parameters():
            p.copy_((1 if k.startswith("norm") and k.endswith("weight") else 0) + 0.3 * torch.randn(p.shape, generator=g))
    x = torch.randn((B, L, D), generator=g, requires_grad=True)
    roll = torch.rand((B, L - 1), generator=g)
    top = torch.topk(roll, R, dim=1).indices + 1
    idx = torch.cat([torch.zeros((B, 1), dtype=torch.long), top], dim=1)
    out = glca(blk, x, idx)
    w = torch.rand(out.shape, generator=g) * 2 - 1
    (out * w).sum().backward()
    names = ["attn.qkv.weight", "attn.qkv.bias", "attn.proj.weight", "norm1.weight", "mlp.fc1.weight"]
    params = dict(blk.named_parameters())
    doc = {
        "torch": torch.__version__,
        "state": {k: enc(v) for k, v in blk.state_dict().items()},
        "heads": H, "r": R,
        "rollout": enc(roll), "queries": idx.tolist(),
        "x": enc(x), "output": enc(out), "weight": enc(w),
        "grad_x": enc(x.grad), "grads": {k: enc(params[k].grad) for k in names},
    }
    with open(OUT, "w") as fh:
        json.dump(doc, fh, separators=(",", ":"))
    print("wrote", OUT, file=sys.stderr)


if __name__ == "__main__":
    main()
