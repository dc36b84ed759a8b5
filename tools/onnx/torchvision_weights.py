#!/usr/bin/env python3
"""Write a torchvision ResNet's state dict, randomly initialised by PyTorch
(seeded) with batch-norm statistics and affine parameters that are not the
identity, as a safetensors file: weights from outside Argus, converted the
way one converts torchvision's, for `argus export --model NAME --init FILE`
and `tools/onnx/check_export.py --weights FILE`.

Usage (Debian python3-torch, python3-torchvision):
    /usr/bin/python3 tools/onnx/torchvision_weights.py --model resnet18 --seed 3 --out /tmp/tv18.safetensors
"""
import argparse
import json
import struct

import torch
import torchvision


def write_safetensors(path, sd):
    dtypes = {torch.float32: "F32", torch.int64: "I64"}
    header, chunks, off = {}, [], 0
    for k, v in sd.items():
        b = v.contiguous().numpy().tobytes()
        header[k] = {"dtype": dtypes[v.dtype], "shape": list(v.shape), "data_offsets": [off, off + len(b)]}
        chunks.append(b)
        off += len(b)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for c in chunks:
            f.write(c)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="resnet18")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    m = getattr(torchvision.models, args.model)()
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.2, 0.2)
            mod.running_var.uniform_(0.5, 1.5)
            mod.weight.data.uniform_(0.8, 1.2)
            mod.bias.data.uniform_(-0.2, 0.2)
    write_safetensors(args.out, m.state_dict())
    print(f"wrote {args.out}: torchvision {args.model}, seed {args.seed}")


if __name__ == "__main__":
    main()
