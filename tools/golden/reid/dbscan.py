"""Write cluster/testdata/dbscan.json: sklearn.cluster.DBSCAN labels on
blobs with border points shared between clusters, noise, and both the
euclidean metric on features and a precomputed distance matrix; plus MMT's
adaptive eps on the precomputed matrices.

Run with Debian's python3 (scikit-learn 1.2): python3 tools/golden/reid/dbscan.py
"""
import json
import sys

import numpy as np
import sklearn
from sklearn.cluster import DBSCAN


def mmt_eps(dist, rho):
    tri_mat = np.triu(dist, 1)
    tri_mat = tri_mat[np.nonzero(tri_mat)]
    tri_mat = np.sort(tri_mat, axis=None)
    top_num = np.round(rho * tri_mat.size).astype(int)
    return float(tri_mat[:top_num].astype(np.float64).mean())


def main(out):
    rng = np.random.default_rng(1)
    cases = []
    for c in range(18):
        dim = int(rng.choice([2, 3, 8]))
        k = int(rng.integers(2, 6))
        per = int(rng.integers(5, 30)) if c < 10 else 25
        centres = rng.normal(scale=3, size=(k, dim))
        x = np.concatenate([centres[i] + rng.normal(size=(per, dim)) for i in range(k)])
        x = np.concatenate([x, rng.uniform(-8, 8, size=(int(rng.integers(0, 20)), dim))])
        if c >= 10:
            # Tight blobs with lone points half way between two of them:
            # border points that two clusters reach.
            centres = rng.normal(scale=4, size=(k, dim))
            x = np.concatenate([centres[i] + 0.3 * rng.normal(size=(per, dim)) for i in range(k)])
            bridges = [(centres[i] + centres[(i + 1) % k]) / 2 for i in range(k)]
            x = np.concatenate([x, np.array(bridges)])
        x = x[rng.permutation(len(x))]
        x = np.round(x, 3).astype(np.float32)
        eps = float(rng.choice([0.5, 0.8, 1.0, 1.5])) * float(np.sqrt(dim / 2))
        if c >= 10:
            # Just over half the distance between the bridged centres.
            gaps = [np.linalg.norm(centres[i] - centres[(i + 1) % k]) for i in range(k)]
            eps = float(np.round(min(gaps) / 2 - 0.25 * np.sqrt(dim), 3))
        ms = int(rng.choice([1, 2, 3, 4, 6]))
        if c >= 10:
            ms = 8
        # Features in float64, as sklearn computes them.
        labels = DBSCAN(eps=eps, min_samples=ms).fit_predict(x.astype(np.float64))
        # A precomputed matrix of float32 distances (cosine, so that the
        # metric is not euclidean).
        xn = x / np.linalg.norm(x, axis=1, keepdims=True)
        dist = np.clip(1 - xn @ xn.T, 0, None).astype(np.float32)
        np.fill_diagonal(dist, 0)
        peps = float(rng.choice([0.02, 0.05, 0.1]))
        plabels = DBSCAN(eps=peps, min_samples=ms, metric="precomputed").fit_predict(dist)
        core = DBSCAN(eps=eps, min_samples=ms).fit(x.astype(np.float64)).core_sample_indices_
        border = int(((labels >= 0).sum()) - len(core))
        # Border points within eps of cores of two clusters: sklearn gives
        # them the lower cluster number.
        d = np.sqrt(((x[:, None, :].astype(np.float64) - x[None, :, :]) ** 2).sum(-1))
        iscore = np.zeros(len(x), bool)
        iscore[core] = True
        shared = sum(1 for i in range(len(x)) if not iscore[i] and
                     len(set(labels[(d[i] <= eps) & iscore])) > 1)
        cases.append({
            "eps": eps, "min_samples": ms, "features": x.tolist(), "labels": labels.tolist(),
            "precomputed_eps": peps, "distances": dist.tolist(), "precomputed_labels": plabels.tolist(),
            "rho": 1.6e-3 * 20, "adaptive_eps": mmt_eps(dist, 1.6e-3 * 20),
            "border_points": border, "shared_border_points": shared,
        })
        print(len(x), "points,", labels.max() + 1, "clusters,", border, "border,", shared, "shared,", (labels < 0).sum(), "noise;",
              plabels.max() + 1, "precomputed clusters", file=sys.stderr)
    json.dump({"sklearn": sklearn.__version__, "cases": cases}, open(out, "w"))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "cluster/testdata/dbscan.json")
