"""Write checkpoint/testdata/golden.safetensors by hand from the format spec.

The file holds one tensor of each common dtype, with the bytes produced by
torch itself (tensor.numpy().tobytes() is little-endian row-major on x86),
and __metadata__. golden.json lists every tensor's values as float64, so the
Go test checks both parsing and conversion without Python.

Run: python3 tools/golden/checkpoint/make_safetensors.py
"""
import json
import os
import struct

import torch

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "checkpoint", "testdata")

tensors = {
    "conv.weight": torch.arange(24, dtype=torch.float32).reshape(2, 3, 2, 2) * 0.25 - 3.0,
    "f64": torch.tensor([[1.5, -2.25], [1e-300, 3.0]], dtype=torch.float64),
    "f16": torch.tensor([1.0, -2.0, 0.5, 65504.0, 6.1035e-05, 5.96e-08], dtype=torch.float16),
    "bf16": torch.tensor([1.0, -3.5, 1024.0, 0.15625], dtype=torch.bfloat16),
    "bn.num_batches_tracked": torch.tensor(7, dtype=torch.int64),
    "i32": torch.tensor([[-1, 2, 2147483647]], dtype=torch.int32),
    "i16": torch.tensor([-32768, 5], dtype=torch.int16),
    "i8": torch.tensor([-128, 0, 127], dtype=torch.int8),
    "u8": torch.tensor([0, 255, 17], dtype=torch.uint8),
    "mask": torch.tensor([True, False, True]),
    "empty": torch.zeros(0, 3, dtype=torch.float32),
}
dtype_names = {
    torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
    torch.uint8: "U8", torch.bool: "BOOL",
}


def raw(t):
    if t.dtype == torch.bfloat16:
        # numpy has no bfloat16: reinterpret the bits as int16.
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


header, chunks, off = {}, [], 0
# Order the data buffer differently from the header's key order, as files
# written by other tools may.
for name in sorted(tensors, reverse=True):
    t = tensors[name]
    b = raw(t)
    header[name] = {"dtype": dtype_names[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
    chunks.append(b)
    off += len(b)
header["__metadata__"] = {"format": "pt", "epoch": "3"}
h = json.dumps(dict(sorted(header.items()))).encode()
h += b" " * ((8 - len(h) % 8) % 8)
os.makedirs(OUT, exist_ok=True)
with open(os.path.join(OUT, "golden.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(h)))
    f.write(h)
    for c in chunks:
        f.write(c)
values = {name: {"dtype": dtype_names[t.dtype], "shape": list(t.shape), "values": t.double().flatten().tolist()}
          for name, t in tensors.items()}
with open(os.path.join(OUT, "golden.json"), "w") as f:
    json.dump(values, f, indent=1)
