"""Time the reference implementations on the inputs written by
`go run ./tools/bench/reid -dir DIR [-jaccard]`, on the same machine:

  python3 tools/bench/reid/eval_reference.py DIR [--jaccard] [--no-eval]

eval: torchreid's eval_market1501 (metrics/rank.py, the pure-Python path
that the Cython one mirrors) with fast-reid's mINP added, max_rank 50.
jaccard: compute_jaccard_distance of the UDA re-ID code (k1 30, k2 6,
float32) with the faiss k-NN search replaced by numpy argpartition; the
dense N×N matrices are the reference's own memory use. A few rows are
compared with the Go result.
"""
import json
import os
import sys
import time

import numpy as np


def eval_market1501(distmat, q_pids, g_pids, q_camids, g_camids, max_rank):
    num_q, num_g = distmat.shape
    if num_g < max_rank:
        max_rank = num_g
    indices = np.argsort(distmat, axis=1)
    matches = (g_pids[indices] == q_pids[:, np.newaxis]).astype(np.int32)
    all_cmc = []
    all_AP = []
    all_INP = []
    num_valid_q = 0.
    for q_idx in range(num_q):
        q_pid = q_pids[q_idx]
        q_camid = q_camids[q_idx]
        order = indices[q_idx]
        remove = (g_pids[order] == q_pid) & (g_camids[order] == q_camid)
        keep = np.invert(remove)
        raw_cmc = matches[q_idx][keep]
        if not np.any(raw_cmc):
            continue
        cmc = raw_cmc.cumsum()
        pos_idx = np.where(raw_cmc == 1)
        max_pos_idx = np.max(pos_idx)
        all_INP.append(cmc[max_pos_idx] / (max_pos_idx + 1.0))
        cmc[cmc > 1] = 1
        all_cmc.append(cmc[:max_rank])
        num_valid_q += 1.
        num_rel = raw_cmc.sum()
        tmp_cmc = raw_cmc.cumsum()
        tmp_cmc = [x / (i + 1.) for i, x in enumerate(tmp_cmc)]
        tmp_cmc = np.asarray(tmp_cmc) * raw_cmc
        AP = tmp_cmc.sum() / num_rel
        all_AP.append(AP)
    all_cmc = np.asarray(all_cmc).astype(np.float32)
    all_cmc = all_cmc.sum(0) / num_valid_q
    return all_cmc, np.mean(all_AP), np.mean(all_INP)


def k_reciprocal_neigh(initial_rank, i, k1):
    forward_k_neigh_index = initial_rank[i, :k1 + 1]
    backward_k_neigh_index = initial_rank[forward_k_neigh_index, :k1 + 1]
    fi = np.where(backward_k_neigh_index == i)[0]
    return forward_k_neigh_index[fi]


def compute_jaccard_distance(x, k1=30, k2=6):
    N = x.shape[0]
    mat_type = np.float32
    t0 = time.time()
    sq = (x ** 2).sum(axis=1)
    initial_rank = np.empty((N, k1), dtype=np.int64)
    for b0 in range(0, N, 1024):
        d = sq[b0:b0 + 1024, None] + sq[None, :] - 2 * (x[b0:b0 + 1024] @ x.T)
        part = np.argpartition(d, k1, axis=1)[:, :k1]
        dd = np.take_along_axis(d, part, axis=1)
        initial_rank[b0:b0 + 1024] = np.take_along_axis(part, np.argsort(dd, axis=1, kind="stable"), axis=1)
    t_knn = time.time() - t0
    nn_k1 = []
    nn_k1_half = []
    for i in range(N):
        nn_k1.append(k_reciprocal_neigh(initial_rank, i, k1))
        nn_k1_half.append(k_reciprocal_neigh(initial_rank, i, int(np.around(k1 / 2))))
    V = np.zeros((N, N), dtype=mat_type)
    for i in range(N):
        k_reciprocal_index = nn_k1[i]
        k_reciprocal_expansion_index = k_reciprocal_index
        for candidate in k_reciprocal_index:
            candidate_k_reciprocal_index = nn_k1_half[candidate]
            if len(np.intersect1d(candidate_k_reciprocal_index, k_reciprocal_index)) > 2 / 3 * len(candidate_k_reciprocal_index):
                k_reciprocal_expansion_index = np.append(k_reciprocal_expansion_index, candidate_k_reciprocal_index)
        k_reciprocal_expansion_index = np.unique(k_reciprocal_expansion_index)
        dist = 2 - 2 * (x[i][None, :] @ x[k_reciprocal_expansion_index].T)
        z = -dist - (-dist).max()
        e = np.exp(z)
        V[i, k_reciprocal_expansion_index] = (e / e.sum()).reshape(-1)
    if k2 != 1:
        V_qe = np.zeros_like(V, dtype=mat_type)
        for i in range(N):
            V_qe[i, :] = np.mean(V[initial_rank[i, :k2], :], axis=0)
        V = V_qe
        del V_qe
    invIndex = []
    for i in range(N):
        invIndex.append(np.where(V[:, i] != 0)[0])
    jaccard_dist = np.zeros((N, N), dtype=mat_type)
    for i in range(N):
        temp_min = np.zeros((1, N), dtype=mat_type)
        indNonZero = np.where(V[i, :] != 0)[0]
        indImages = [invIndex[ind] for ind in indNonZero]
        for j in range(len(indNonZero)):
            temp_min[0, indImages[j]] = temp_min[0, indImages[j]] + np.minimum(V[i, indNonZero[j]], V[indImages[j], indNonZero[j]])
        jaccard_dist[i] = 1 - temp_min / (2 - temp_min)
    jaccard_dist[jaccard_dist < 0] = 0.0
    return jaccard_dist, t_knn


def main():
    d = sys.argv[1]
    rd = lambda name, dt: np.fromfile(os.path.join(d, name), dtype=dt)
    qp, gp = rd("qpids.i32", np.int32).astype(np.int64), rd("gpids.i32", np.int32).astype(np.int64)
    qc, gc = rd("qcams.i32", np.int32).astype(np.int64), rd("gcams.i32", np.int32).astype(np.int64)
    dist = rd("dist.f32", np.float32).reshape(len(qp), len(gp))
    out = {"numpy": np.__version__, "num_query": len(qp), "num_gallery": len(gp)}
    if "--no-eval" not in sys.argv:
        t0, c0 = time.time(), time.process_time()
        cmc, mAP, mINP = eval_market1501(dist, qp, gp, qc, gc, 50)
        out.update(eval_seconds=time.time() - t0, eval_cpu_seconds=time.process_time() - c0,
                   mAP=float(mAP), mINP=float(mINP), rank1=float(cmc[0]))
        print("eval", out, file=sys.stderr)
    if "--jaccard" in sys.argv:
        x = rd("features.f32", np.float32).reshape(12936, 2048)
        t0, c0 = time.time(), time.process_time()
        jac, t_knn = compute_jaccard_distance(x)
        out.update(jaccard_seconds=time.time() - t0, jaccard_cpu_seconds=time.process_time() - c0,
                   jaccard_knn_seconds=t_knn)
        rows = json.load(open(os.path.join(d, "jaccard_rows.json")))
        worst = 0.0
        for i, entries in rows.items():
            want = jac[int(i)]
            got = np.ones_like(want)
            for e in entries:
                got[e["Col"]] = e["Dist"]
            worst = max(worst, float(np.abs(got - want).max()))
        out["jaccard_max_abs_diff_sampled_rows"] = worst
    print(json.dumps(out))


if __name__ == "__main__":
    main()
