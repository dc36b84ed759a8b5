#!/usr/bin/python3
"""Run Optuna's default TPE sampler on the test functions of `argus hpo bench`.

For each function, seeds 0..K-1 each run one study of N trials with
TPESampler(seed=seed) (Optuna's defaults otherwise) and record the regret of
the best value after 25, 50 and 100 trials. Prints one JSON object per
function with the median and quartiles (numpy's linear percentiles, as argus
computes them).

    /usr/bin/python3 tools/bench/hpo/optuna_tpe.py --trials 100 --seeds 20
"""
import argparse
import json
import math
import sys

import numpy as np
import optuna


def branin(x):
    a, b, c, r, s, t = 1, 5.1 / (4 * math.pi ** 2), 5 / math.pi, 6, 10, 1 / (8 * math.pi)
    return a * (x[1] - b * x[0] ** 2 + c * x[0] - r) ** 2 + s * (1 - t) * math.cos(x[0]) + s


ALPHA = [1.0, 1.2, 3.0, 3.2]
A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
     [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
P = [[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
     [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]]


def hartmann6(x):
    s = 0.0
    for i in range(4):
        e = sum(A[i][j] * (x[j] - P[i][j] * 1e-4) ** 2 for j in range(6))
        s += ALPHA[i] * math.exp(-e)
    return -s


def rosenbrock(x):
    return sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(len(x) - 1))


FUNCTIONS = {
    "branin": (branin, 0.397887, [(-5, 10), (0, 15)]),
    "hartmann6": (hartmann6, -3.32237, [(0, 1)] * 6),
    "rosenbrock": (rosenbrock, 0.0, [(-5, 10)] * 4),
}


def run(name, seed, trials):
    f, fmin, box = FUNCTIONS[name]
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
    regret, best = [], math.inf

    def objective(trial):
        nonlocal best
        x = [trial.suggest_float("x%d" % (i + 1), lo, hi) for i, (lo, hi) in enumerate(box)]
        v = f(x)
        best = min(best, v)
        regret.append(best - fmin)
        return v

    study.optimize(objective, n_trials=trials)
    return regret


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--function", action="append", choices=sorted(FUNCTIONS))
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--seeds", type=int, default=20)
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for name in args.function or ["branin", "hartmann6"]:
        runs = [run(name, s, args.trials) for s in range(args.seeds)]
        at = []
        for n in [k for k in (25, 50, 100) if k < args.trials] + [args.trials]:
            v = np.array([r[n - 1] for r in runs])
            at.append({"trials": n, "median": float(np.percentile(v, 50)),
                       "q1": float(np.percentile(v, 25)), "q3": float(np.percentile(v, 75))})
        out = {"function": name, "sampler": "optuna-%s-tpe" % optuna.__version__,
               "trials": args.trials, "seeds": args.seeds, "median": at[-1]["median"],
               "q1": at[-1]["q1"], "q3": at[-1]["q3"], "at": at,
               "final": [r[-1] for r in runs]}
        print(json.dumps(out))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
