"""Write reid/testdata/argsort.json: numpy.argsort orders of tie-heavy arrays.

Run with Debian's python3 (numpy 1.24): python3 tools/golden/reid/argsort.py
"""
import json
import sys

import numpy as np

rng = np.random.default_rng(5)
cases = []
for n in [1, 2, 5, 16, 17, 40, 100, 1000, 5000]:
    for levels in [2, 7, 1000]:
        for dtype in ["float32", "float64"]:
            v = rng.integers(0, levels, n).astype(dtype) / 4
            if n > 20 and levels == 7:
                v[rng.integers(0, n, 3)] = np.nan
            cases.append({
                "dtype": dtype,
                "values": [None if np.isnan(x) else float(x) for x in v],
                "order": np.argsort(v).tolist(),
            })
# A sorted and a reversed run with ties push the depth limit less than
# random data; an organ pipe exercises the partition scans.
for v in [np.arange(300) // 3, (np.arange(300) // 3)[::-1], np.r_[np.arange(150), np.arange(150)[::-1]]]:
    v = v.astype("float32")
    cases.append({"dtype": "float32", "values": v.tolist(), "order": np.argsort(v).tolist()})
json.dump({"numpy": np.__version__, "cases": cases}, open(sys.argv[1] if len(sys.argv) > 1 else "reid/testdata/argsort.json", "w"))
