"""Golden ViT/DeiT values from timm's VisionTransformer (tools/timm/vit.py,
a minimal copy of timm 0.9.16's, since timm is not packaged here).

Writes:

- models/testdata/vit_tiny.safetensors: the state dict, in timm's names, of
  a small ViT (patch 16, width 24, depth 2, 2 heads, 5 classes) made at
  32×32 (a 2×2 grid), its weights drawn at a scale where every layer
  matters (timm's init leaves near-constant logits);
- models/testdata/vit.json holding
  - keys: the state-dict names and shapes of deit-tiny, deit-small and
    vit-base (1000 classes), and their parameter counts;
  - forward: for the small ViT at 32×32 and, with the position embedding
    resampled by timm's resample_abs_pos_embed, at 48×32 (3×2 grid): the
    input, logits, pre_logits (the class token after the final norm) and
    the class-token row of the attention rollout;
  - resample: position embeddings and timm's resample_abs_pos_embed of them
    (bicubic, antialiased) to square and non-square grids, 14×14 to 16×8
    for 256×128 re-ID crops among them.

Run from the repository root with Debian's python3-torch (1.13):

    python3 tools/golden/models/vit.py
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "timm"))
import vit  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "..")
OUT = os.path.join(ROOT, "models", "testdata")


def enc(t):
    t = t.detach().to(torch.float32).contiguous()
    return {"shape": list(t.shape), "data": [float(v) for v in t.reshape(-1).tolist()]}


def main():
    torch.set_num_threads(1)
    torch.manual_seed(18)
    doc = {"torch": torch.__version__, "keys": {}, "params": {}}
    for name, fn in [("deit-tiny", vit.deit_tiny), ("deit-small", vit.deit_small), ("vit-base", vit.vit_base)]:
        m = fn()
        doc["keys"][name] = [[k, list(v.shape)] for k, v in m.state_dict().items()]
        doc["params"][name] = sum(p.numel() for p in m.parameters())

    m = vit.VisionTransformer(img_size=(32, 32), patch_size=16, num_classes=5, embed_dim=24, depth=2, num_heads=2)
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for k, p in m.named_parameters():
            if k.endswith("norm1.weight") or k.endswith("norm2.weight") or k == "norm.weight":
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
            elif p.ndim == 1:
                p.copy_(0.2 * torch.randn(p.shape, generator=g))
            elif k in ("pos_embed", "cls_token"):
                p.copy_(0.5 * torch.randn(p.shape, generator=g))
            else:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g) / fan_in ** 0.5)
    state = m.state_dict()
    vit.save_safetensors(os.path.join(OUT, "vit_tiny.safetensors"), state)
    m.eval()
    doc["forward"] = []
    for name, (h, w) in [("32x32", (32, 32)), ("48x32-resampled", (48, 32))]:
        r = vit.VisionTransformer(img_size=(h, w), patch_size=16, num_classes=5, embed_dim=24, depth=2, num_heads=2)
        sd = dict(state)
        sd["pos_embed"] = vit.resample_abs_pos_embed(state["pos_embed"], [h // 16, w // 16], [2, 2])
        r.load_state_dict(sd)
        r.eval()
        rec = []
        for b in r.blocks:
            b.attn.record = rec
        x = torch.randn((2, 3, h, w), generator=g)
        with torch.no_grad():
            feats = r.forward_features(x)
            pre = r.forward_head(feats, pre_logits=True)
            logits = r.head(pre)
        roll = vit.rollout(rec)[:, 0, 1:]
        doc["forward"].append({"name": name, "height": h, "width": w, "input": enc(x), "logits": enc(logits),
                               "pre_logits": enc(pre), "rollout": enc(roll)})

    doc["resample"] = []
    for old, new, c in [((14, 14), (16, 8), 3), ((14, 14), (28, 28), 2), ((4, 4), (2, 3), 3), ((2, 2), (3, 2), 2),
                        ((7, 5), (9, 4), 2)]:
        pe = torch.randn((1, 1 + old[0] * old[1], c), generator=g)
        out = vit.resample_abs_pos_embed(pe, list(new), list(old))
        doc["resample"].append({"old": list(old), "new": list(new), "input": enc(pe), "output": enc(out)})
    with open(os.path.join(OUT, "vit.json"), "w") as fh:
        json.dump(doc, fh, separators=(",", ":"))
    print("wrote", os.path.join(OUT, "vit.json"), file=sys.stderr)


if __name__ == "__main__":
    main()
