#!/usr/bin/env python3
"""Golden values for detect/sparsercnn's DynamicConv.

DynamicConv below is the official Sparse R-CNN module
(PeizeSun/SparseR-CNN, projects/SparseRCNN/sparsercnn/head.py, MIT), with
its cfg replaced by arguments; it is called as the official RCNNHead calls
it, on pro_features (1, K, d) and roi_features (S*S, K, d) made from the
pooled K x d x S x S maps. Every parameter is set by the hash formula of
tools/golden/models/resnet.py, indexed by its position in the state dict;
the inputs and the output weighting W come from the same formula. Written:
detect/sparsercnn/testdata/dynamic_conv.json with the output and the
gradients of sum(W * output) with respect to both inputs and every
parameter.

    python3 tools/golden/detection/dynamic_conv.py
"""
import json
import math
import os

import numpy as np
import torch
from torch import nn

OUT = os.path.join("detect", "sparsercnn", "testdata", "dynamic_conv.json")


class DynamicConv(nn.Module):
    def __init__(self, hidden_dim, dim_dynamic, num_dynamic, pooler_resolution):
        super().__init__()
        self.hidden_dim = hidden_dim
        self.dim_dynamic = dim_dynamic
        self.num_dynamic = num_dynamic
        self.num_params = self.hidden_dim * self.dim_dynamic
        self.dynamic_layer = nn.Linear(self.hidden_dim, self.num_dynamic * self.num_params)
        self.norm1 = nn.LayerNorm(self.dim_dynamic)
        self.norm2 = nn.LayerNorm(self.hidden_dim)
        self.activation = nn.ReLU(inplace=True)
        num_output = self.hidden_dim * pooler_resolution ** 2
        self.out_layer = nn.Linear(num_output, self.hidden_dim)
        self.norm3 = nn.LayerNorm(self.hidden_dim)

    def forward(self, pro_features, roi_features):
        features = roi_features.permute(1, 0, 2)
        parameters = self.dynamic_layer(pro_features).permute(1, 0, 2)
        param1 = parameters[:, :, :self.num_params].view(-1, self.hidden_dim, self.dim_dynamic)
        param2 = parameters[:, :, self.num_params:].view(-1, self.dim_dynamic, self.hidden_dim)
        features = torch.bmm(features, param1)
        features = self.norm1(features)
        features = self.activation(features)
        features = torch.bmm(features, param2)
        features = self.norm2(features)
        features = self.activation(features)
        features = features.flatten(1)
        features = self.out_layer(features)
        features = self.norm3(features)
        features = self.activation(features)
        return features


def hash_uniform(index, n):
    i = np.arange(n, dtype=np.uint64)
    k = (i * np.uint64(2654435761) + np.uint64(index * 40503 + 12345)) % np.uint64(1 << 32)
    return k.astype(np.float64) / float(1 << 32)


def formula(index, name, shape):
    u = hash_uniform(index, int(np.prod(shape)))
    if name.endswith("weight") and len(shape) == 2:
        v = (2 * u - 1) / math.sqrt(shape[1])
    elif name.endswith("weight"):
        v = 0.5 + u
    else:
        v = 0.2 * (u - 0.5)
    return torch.from_numpy(v.astype(np.float32)).reshape(shape)


def signed(index, shape):
    return torch.from_numpy((2 * hash_uniform(index, int(np.prod(shape))) - 1).astype(np.float32)).reshape(shape)


def enc(t):
    return {"shape": list(t.shape), "data": t.detach().reshape(-1).tolist()}


def main():
    torch.set_num_threads(1)
    cases = []
    for name, k, hidden, dyn, res in [("small", 5, 8, 4, 3), ("7x7", 3, 8, 4, 7)]:
        m = DynamicConv(hidden, dyn, 2, res)
        sd = m.state_dict()
        m.load_state_dict({n: formula(i, n, list(v.shape)) for i, (n, v) in enumerate(sd.items())})
        pro = signed(999, [k, hidden]).requires_grad_()
        roi = signed(998, [k, hidden, res, res]).requires_grad_()
        y = m(pro[None], roi.view(k, hidden, -1).permute(2, 0, 1))
        w = signed(777, list(y.shape))
        (w * y).sum().backward()
        cases.append({
            "name": name, "boxes": k, "hidden": hidden, "dim_dynamic": dyn, "resolution": res,
            "keys": list(sd.keys()),
            "output": enc(y), "grad_pro": enc(pro.grad), "grad_roi": enc(roi.grad),
            "grads": {n: enc(p.grad) for n, p in m.named_parameters()},
        })
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump({"torch": torch.__version__, "cases": cases}, f)


main()
