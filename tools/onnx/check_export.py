#!/usr/bin/env python3
"""Check ONNX files written by `argus export` with the onnx package, and
optionally compare them numerically with PyTorch.

For each file:
  1. onnx.checker.check_model(m, full_check=True);
  2. onnx.shape_inference.infer_shapes(m, check_type=True, strict_mode=True),
     and the inferred output shape against the declared one;
  3. with --argus BIN: the model named in the graph (mnist-cnn, resnet18,
     deit-tiny, ...) is built in PyTorch (torchvision's ResNets; the network
     of pytorch/examples' MNIST; timm's VisionTransformer from
     tools/timm/vit.py for deit-tiny, deit-small and vit-base), its state dict is loaded from the ONNX
     initialisers by name (so the names must be torchvision's), or with
     --weights W.safetensors from that file (the one given to `argus
     export --init`, so that the whole way from PyTorch's weights to
     `argus run` is checked), and its outputs on a seeded input are
     compared with `BIN run FILE --input x.pb --json` (the executor running
     the exported file).

Usage (Debian python3-onnx, python3-torch, python3-torchvision):
    argus export --model resnet18 --out /tmp/resnet18.onnx
    argus export --model mnist-cnn --out /tmp/mnist.onnx
    argus export --model deit-tiny --out /tmp/deit-tiny.onnx
    /usr/bin/python3 tools/onnx/check_export.py --argus ./argus /tmp/resnet18.onnx /tmp/mnist.onnx
    /usr/bin/python3 tools/onnx/torchvision_weights.py --model resnet18 --out /tmp/tv18.safetensors
    argus export --model resnet18 --init /tmp/tv18.safetensors --out /tmp/tv18.onnx
    /usr/bin/python3 tools/onnx/check_export.py --argus ./argus --weights /tmp/tv18.safetensors /tmp/tv18.onnx
Prints one line per file and exits non-zero if any check fails.
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper


def torch_model(name):
    """Returns the PyTorch module of the Argus model called name."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torchvision

    if name.startswith("resnet"):
        return getattr(torchvision.models, name)()
    if name == "mnist-cnn":
        class Net(nn.Module):  # pytorch/examples mnist/main.py
            def __init__(self):
                super().__init__()
                self.conv1 = nn.Conv2d(1, 32, 3, 1)
                self.conv2 = nn.Conv2d(32, 64, 3, 1)
                self.dropout1 = nn.Dropout(0.25)
                self.dropout2 = nn.Dropout(0.5)
                self.fc1 = nn.Linear(9216, 128)
                self.fc2 = nn.Linear(128, 10)

            def forward(self, x):
                x = F.relu(self.conv1(x))
                x = F.relu(self.conv2(x))
                x = F.max_pool2d(x, 2)
                x = self.dropout1(x)
                x = torch.flatten(x, 1)
                x = F.relu(self.fc1(x))
                x = self.dropout2(x)
                return self.fc2(x)
        return Net()
    vits = {"deit-tiny": "deit_tiny", "deit-small": "deit_small", "vit-base": "vit_base"}
    if name in vits:  # timm's VisionTransformer, tools/timm/vit.py
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "timm"))
        import vit
        return getattr(vit, vits[name])()
    raise SystemExit(f"no PyTorch model for {name!r}")


def static_shape(vi, batch):
    dims = []
    for d in vi.type.tensor_type.shape.dim:
        dims.append(d.dim_value if d.HasField("dim_value") else batch)
    return dims


def read_safetensors(path):
    """Returns the tensors of a safetensors file as numpy arrays."""
    dtypes = {"F32": np.float32, "I64": np.int64}
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        lo, hi = v["data_offsets"]
        out[k] = np.frombuffer(data[lo:hi], dtype=dtypes[v["dtype"]]).reshape(v["shape"])
    return out


def compare_torch(path, m, argus, batch, seed, weights):
    import torch

    model = torch_model(m.graph.name)
    if weights:
        state = {k: torch.from_numpy(v.copy()) for k, v in read_safetensors(weights).items()}
    else:
        state = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in m.graph.initializer}
    missing, unexpected = [], []
    sd = model.state_dict()
    for k in sd:
        if k.endswith("num_batches_tracked"):
            continue
        if k not in state:
            missing.append(k)
        else:
            sd[k] = state[k]
    unexpected = [k for k in state if k not in sd and not k.endswith("num_batches_tracked")]
    if missing:
        return f"initialisers lack {missing[:4]}"
    model.load_state_dict(sd)
    model.eval()
    shape = static_shape(m.graph.input[0], batch)
    x = np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32)
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    with tempfile.TemporaryDirectory() as tmp:
        xp = os.path.join(tmp, "x.pb")
        with open(xp, "wb") as f:
            f.write(numpy_helper.from_array(x, m.graph.input[0].name).SerializeToString())
        k = want.shape[1]
        out = subprocess.run([argus, "run", path, "--input", xp, "--json", "--top", str(k)],
                             capture_output=True, text=True)
        if out.returncode != 0:
            return f"argus run failed: {out.stderr.strip()}"
        res = json.loads(out.stdout)
    got = np.zeros_like(want)
    for b, hits in enumerate(res["outputs"][0]["top"]):
        for h in hits:
            got[b, h["class"]] = h["score"]
    diff = float(np.abs(got - want).max())
    scale = max(1.0, float(np.abs(want).max()))
    status = "ok" if diff <= 1e-4 * scale else "FAIL"
    extra = f", {len(unexpected)} unexpected initialisers" if unexpected else ""
    return f"torch {status}: max abs difference {diff:.3g} (outputs up to {scale:.3g}, batch {batch}){extra}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+")
    ap.add_argument("--argus", help="argus binary: compare `argus run` with PyTorch")
    ap.add_argument("--batch", type=int, default=2, help="batch for a symbolic batch dimension")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--weights", help="safetensors state dict for PyTorch instead of the ONNX initialisers")
    args = ap.parse_args()
    failed = False
    for path in args.files:
        notes = []
        try:
            m = onnx.load(path)
            onnx.checker.check_model(m, full_check=True)
            notes.append(f"checker ok (IR {m.ir_version}, opset {m.opset_import[0].version})")
            inferred = onnx.shape_inference.infer_shapes(m, check_type=True, strict_mode=True)
            out = inferred.graph.output[0].type.tensor_type.shape
            declared = m.graph.output[0].type.tensor_type.shape
            if out != declared:
                raise ValueError(f"inferred output shape {out} differs from the declared {declared}")
            notes.append(f"shape inference ok ({len(inferred.graph.value_info)} values)")
            if args.argus:
                r = compare_torch(path, m, args.argus, args.batch, args.seed, args.weights)
                notes.append(r)
                failed |= not r.startswith("torch ok")
        except Exception as e:  # report every file, then fail
            notes.append(f"FAIL: {type(e).__name__}: {e}")
            failed = True
        print(f"{path}: " + "; ".join(notes))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
