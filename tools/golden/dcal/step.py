"""Golden values for one DCAL training step, from PyTorch with timm's
VisionTransformer and Block (tools/timm/vit.py).

A 2-block ViT (12×12 images of 4×4 patches: a 3×3 grid, width 16, 2 heads,
5 classes) with both of DCAL's branches, written the way a reader of the
paper would write them on top of timm:

- self-attention (SA): the ViT, each block's attention probabilities kept;
- GLCA: attention rollout over the SA blocks (heads averaged, 0.5·A + 0.5·I,
  product from the first block), the class token plus the top R = round(0.3
  · 9) = 3 patches of its row as queries, one block of its own weights on the
  output of the last SA block (queries of the selected tokens, keys and
  values of all), its own final norm and head on the class token;
- PWCA: image i's tokens through the same blocks again, each block's
  queries attending over the concatenated keys and values of its own
  tokens and of partner p[i]'s input to that block in the SA pass (one
  softmax over 2L tokens), then the ViT's norm and head; gradients flow
  into the partner's SA states;
- the loss: each branch's cross-entropy, combined as FairMOT does,
  0.5·Σ(exp(−s_i)·L_i + s_i) with learnable s.

Drop path (rate 0.3 on the second block and on GLCA, 0 on the first) uses
masks drawn here and stored, in the order each block's drop path is called:
SA attention, SA MLP, then PWCA attention, PWCA MLP (GLCA: attention, MLP).

Writes models/testdata/dcal_step.json: the state dict (Argus's DCAL names), the
images, labels, partners and masks, the selected queries, the three raw
losses, the weighted terms, the total and the gradient of every parameter.

Run from the repository root with Debian's python3-torch (1.13):

    python3 tools/golden/dcal/step.py
"""
import json
import os
import sys
from functools import partial

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "timm"))
import vit  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "models", "testdata", "dcal_step.json")


def enc(t):
    t = t.detach().to(torch.float32).contiguous()
    return {"shape": list(t.shape), "data": [float(v) for v in t.reshape(-1).tolist()]}


def dp(x, rate, keep):
    return vit.drop_path(x, rate, True, True, keep)


def attention(a, xq, xkv):
    """timm's Attention with queries from xq and keys/values from xkv."""
    B, Nq, C = xq.shape
    H, d = a.num_heads, a.head_dim
    q = a.qkv(xq).reshape(B, Nq, 3, H, d).permute(2, 0, 3, 1, 4)[0]
    kv = a.qkv(xkv).reshape(B, xkv.shape[1], 3, H, d).permute(2, 0, 3, 1, 4)
    attn = ((q * a.scale) @ kv[1].transpose(-2, -1)).softmax(-1)
    return a.proj((attn @ kv[2]).transpose(1, 2).reshape(B, Nq, C)), attn


def take(masks, rate):
    """The next fed-in drop-path mask, or None (drawn at random) when masks
    is None or the rate is zero."""
    return masks.pop(0) if rate and masks is not None else None


def sa_block(blk, x, rate, masks):
    o, attn = attention(blk.attn, blk.norm1(x), blk.norm1(x))
    x = x + dp(o, rate, take(masks, rate))
    x = x + dp(blk.mlp(blk.norm2(x)), rate, take(masks, rate))
    return x, attn


def pwca_block(blk, x, partner, rate, masks):
    a = blk.attn
    B, N, C = x.shape
    H, d = a.num_heads, a.head_dim
    q, k1, v1 = a.qkv(blk.norm1(x)).reshape(B, N, 3, H, d).permute(2, 0, 3, 1, 4)
    _, k2, v2 = a.qkv(blk.norm1(partner)).reshape(B, partner.shape[1], 3, H, d).permute(2, 0, 3, 1, 4)
    k, v = torch.cat([k1, k2], 2), torch.cat([v1, v2], 2)
    attn = ((q * a.scale) @ k.transpose(-2, -1)).softmax(-1)
    o = a.proj((attn @ v).transpose(1, 2).reshape(B, N, C))
    x = x + dp(o, rate, take(masks, rate))
    x = x + dp(blk.mlp(blk.norm2(x)), rate, take(masks, rate))
    return x


def glca_block(blk, x, idx, rate, masks):
    B, N, C = x.shape
    a = blk.attn
    H, d = a.num_heads, a.head_dim
    qkv = a.qkv(blk.norm1(x)).reshape(B, N, 3, H, d).permute(2, 0, 3, 1, 4)
    q, k, v = qkv.unbind(0)
    q = torch.gather(q, 2, idx[:, None, :, None].expand(-1, H, -1, d))
    attn = ((q * a.scale) @ k.transpose(-2, -1)).softmax(-1)
    o = a.proj((attn @ v).transpose(1, 2).reshape(B, idx.shape[1], C))
    xs = torch.gather(x, 1, idx[:, :, None].expand(-1, -1, C))
    y = xs + dp(o, rate, take(masks, rate))
    return y + dp(blk.mlp(blk.norm2(y)), rate, take(masks, rate))


def dcal_losses(model, glca, glca_norm, glca_head, s, x, labels, partners, ratio, rates, masks=None,
                use_glca=True, use_pwca=True):
    """The raw losses [SA, GLCA, PWCA] (the branches used) and their
    uncertainty-weighted terms; masks maps block index and "glca" to their
    fed-in drop-path masks (None: drawn at random)."""
    B = x.shape[0]
    bm = {i: (list(masks.get(i, [])) if masks is not None else None) for i in range(len(model.blocks))}
    gm = list(masks["glca"]) if masks is not None else None
    h = model.patch_embed(x)
    h = torch.cat((model.cls_token.expand(B, -1, -1), h), dim=1) + model.pos_embed
    inputs, attns = [], []
    for i, blk in enumerate(model.blocks):
        inputs.append(h)
        h, a = sa_block(blk, h, rates[i], bm[i])
        attns.append(a.detach())
    raw = [F.cross_entropy(model.head(model.norm(h)[:, 0]), labels)]
    out = {}
    if use_glca:
        roll = vit.rollout(attns)[:, 0, 1:]
        r = min(max(round(ratio * roll.shape[1]), 1), roll.shape[1])
        idx = torch.cat([torch.zeros((B, 1), dtype=torch.long), torch.topk(roll, r, dim=1).indices + 1], dim=1)
        gl = glca_block(glca, h, idx, rates[-1], gm)
        raw.append(F.cross_entropy(glca_head(glca_norm(gl)[:, 0]), labels))
        out["queries"], out["rollout"] = idx, roll
    if use_pwca:
        p = inputs[0]
        for i, blk in enumerate(model.blocks):
            p = pwca_block(blk, p, inputs[i][partners], rates[i], bm[i])
        raw.append(F.cross_entropy(model.head(model.norm(p)[:, 0]), labels))
    if masks is not None:
        assert all(len(v) == 0 for v in bm.values()) and len(gm) == 0
    terms = [0.5 * (torch.exp(-s[i]) * raw[i] + s[i]) for i in range(len(raw))] if len(raw) > 1 else raw
    return raw, terms, out


def main():
    torch.set_num_threads(1)
    torch.manual_seed(2205)
    g = torch.Generator().manual_seed(2205)
    B, S, P, D, H, K, depth, rate, ratio = 4, 12, 4, 16, 2, 5, 2, 0.3, 0.3
    model = vit.VisionTransformer(img_size=(S, S), patch_size=P, num_classes=K, embed_dim=D, depth=depth,
                                  num_heads=H, drop_path_rate=rate)
    glca = vit.Block(D, H, 4.0, qkv_bias=True, drop_path=rate, norm_layer=partial(nn.LayerNorm, eps=1e-6))
    glca_norm = nn.LayerNorm(D, eps=1e-6)
    glca_head = nn.Linear(D, K)
    s = nn.Parameter(torch.tensor([0.2, -0.1, 0.3]))
    params = {}
    for k, p in model.named_parameters():
        params[k] = p
    for k, p in glca.named_parameters():
        params["glca." + k] = p
    for k, p in glca_norm.named_parameters():
        params["glca_norm." + k] = p
    for k, p in glca_head.named_parameters():
        params["glca_head." + k] = p
    params["loss_weights"] = s
    with torch.no_grad():
        for k, p in params.items():
            if k != "loss_weights":
                p.add_(0.1 * torch.randn(p.shape, generator=g))
    x = torch.randn((B, 3, S, S), generator=g)
    labels = torch.randint(0, K, (B,), generator=g)
    partners = torch.tensor([2, 3, 1, 0])
    rates = [0.0, rate]
    masks = {1: [torch.rand(B, generator=g) >= rate for _ in range(4)],
             "glca": [torch.rand(B, generator=g) >= rate for _ in range(2)]}
    stored = {"blocks.1.drop_path": [m.tolist() for m in masks[1]],
              "glca.drop_path": [m.tolist() for m in masks["glca"]]}

    raw, terms, out = dcal_losses(model, glca, glca_norm, glca_head, s, x, labels, partners, ratio, rates, masks)
    idx, roll = out["queries"], out["rollout"]
    total = sum(terms)
    total.backward()
    doc = {
        "torch": torch.__version__,
        "config": {"patch": P, "dim": D, "depth": depth, "heads": H, "classes": K, "grid": S // P,
                   "drop_path": rate, "glca_ratio": ratio},
        "state": {k: enc(v) for k, v in params.items()},
        "x": enc(x), "labels": labels.tolist(), "partners": partners.tolist(),
        "masks": stored, "queries": idx.tolist(), "rollout": enc(roll),
        "raw": [float(v) for v in raw], "terms": [float(v) for v in terms], "total": float(total),
        "grads": {k: enc(v.grad) for k, v in params.items()},
    }
    with open(OUT, "w") as fh:
        json.dump(doc, fh, separators=(",", ":"))
    print("wrote", OUT, file=sys.stderr)


if __name__ == "__main__":
    main()
