"""Times the reference tools on the sizes of argus's assign benchmarks:
scipy.optimize.linear_sum_assignment on a dense 1000 x 1000 uniform random
matrix (BenchmarkHungarian1000) and POT's log-domain Sinkhorn for 300
proposals x (100 ground truths + background), 50 iterations, epsilon 0.1
(BenchmarkSinkhorn300x100). Prints one JSON object of median seconds.

Run: python3 tools/bench/detection/assign_reference.py
"""
import json
import time

import numpy as np
import ot
import scipy
from scipy.optimize import linear_sum_assignment


def median_time(fn, repeat):
    """Median wall and CPU seconds of fn: on a shared machine CPU time is
    the steadier of the two."""
    wall, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {"wall_s": float(np.median(wall)), "cpu_s": float(np.median(cpu))}


rng = np.random.default_rng(1)
cost = rng.random((1000, 1000))
hungarian = median_time(lambda: linear_sum_assignment(cost), 7)

g, n = 100, 300
m = rng.random((g + 1, n)) * 3
a = np.full(g + 1, 2.0)
a[g] = n - 2 * g
b = np.ones(n)
sinkhorn = median_time(lambda: ot.bregman.sinkhorn_log(a, b, m, 0.1, numItermax=50, stopThr=0, warn=False), 20)

print(json.dumps({"scipy": scipy.__version__, "pot": ot.__version__,
                  "hungarian_1000x1000": hungarian,
                  "sinkhorn_log_300x101x50": sinkhorn}))
