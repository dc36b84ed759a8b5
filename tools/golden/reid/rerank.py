"""Write reid/rerank/testdata/*.json: k-reciprocal Jaccard distances and
re-ranked distances from numpy transcriptions of the reference code.

re_ranking is zhunzhong07/person-re-ranking (python-version/re_ranking_feature.py)
with the torch distance replaced by the same float32 arithmetic in numpy;
compute_jaccard_distance is the CPU path of the UDA re-ID code
(MMT/SpCL/cluster-contrast faiss_rerank.py) with the faiss k1-NN search
replaced by argsort and torch's softmax by numpy's.

Run with Debian's python3 (numpy 1.24): python3 tools/golden/reid/rerank.py
"""
import json
import os
import sys

import numpy as np
from sklearn.cluster import DBSCAN


def re_ranking(probFea, galFea, k1, k2, lambda_value):
    query_num = probFea.shape[0]
    all_num = query_num + galFea.shape[0]
    feat = np.concatenate([probFea, galFea]).astype(np.float32)
    sq = (feat ** 2).sum(axis=1, keepdims=True)
    distmat = (sq + sq.T) - 2 * (feat @ feat.T)
    original_dist = distmat.astype(np.float32)
    gallery_num = original_dist.shape[0]
    original_dist = np.transpose(original_dist / np.max(original_dist, axis=0))
    V = np.zeros_like(original_dist).astype(np.float16)
    initial_rank = np.argsort(original_dist).astype(np.int32)

    for i in range(all_num):
        forward_k_neigh_index = initial_rank[i, :k1 + 1]
        backward_k_neigh_index = initial_rank[forward_k_neigh_index, :k1 + 1]
        fi = np.where(backward_k_neigh_index == i)[0]
        k_reciprocal_index = forward_k_neigh_index[fi]
        k_reciprocal_expansion_index = k_reciprocal_index
        for j in range(len(k_reciprocal_index)):
            candidate = k_reciprocal_index[j]
            candidate_forward_k_neigh_index = initial_rank[candidate, :int(np.around(k1 / 2)) + 1]
            candidate_backward_k_neigh_index = initial_rank[candidate_forward_k_neigh_index,
                                                            :int(np.around(k1 / 2)) + 1]
            fi_candidate = np.where(candidate_backward_k_neigh_index == candidate)[0]
            candidate_k_reciprocal_index = candidate_forward_k_neigh_index[fi_candidate]
            if len(np.intersect1d(candidate_k_reciprocal_index, k_reciprocal_index)) > 2 / 3 * len(
                    candidate_k_reciprocal_index):
                k_reciprocal_expansion_index = np.append(k_reciprocal_expansion_index, candidate_k_reciprocal_index)

        k_reciprocal_expansion_index = np.unique(k_reciprocal_expansion_index)
        weight = np.exp(-original_dist[i, k_reciprocal_expansion_index])
        V[i, k_reciprocal_expansion_index] = weight / np.sum(weight)
    original_dist = original_dist[:query_num, ]
    if k2 != 1:
        V_qe = np.zeros_like(V, dtype=np.float16)
        for i in range(all_num):
            V_qe[i, :] = np.mean(V[initial_rank[i, :k2], :], axis=0)
        V = V_qe
        del V_qe
    del initial_rank
    invIndex = []
    for i in range(gallery_num):
        invIndex.append(np.where(V[:, i] != 0)[0])

    jaccard_dist = np.zeros_like(original_dist, dtype=np.float16)

    for i in range(query_num):
        temp_min = np.zeros(shape=[1, gallery_num], dtype=np.float16)
        indNonZero = np.where(V[i, :] != 0)[0]
        indImages = [invIndex[ind] for ind in indNonZero]
        for j in range(len(indNonZero)):
            temp_min[0, indImages[j]] = temp_min[0, indImages[j]] + np.minimum(V[i, indNonZero[j]],
                                                                               V[indImages[j], indNonZero[j]])
        jaccard_dist[i] = 1 - temp_min / (2 - temp_min)

    final_dist = jaccard_dist * (1 - lambda_value) + original_dist * lambda_value
    final_dist = final_dist[:query_num, query_num:]
    return final_dist


def k_reciprocal_neigh(initial_rank, i, k1):
    forward_k_neigh_index = initial_rank[i, :k1 + 1]
    backward_k_neigh_index = initial_rank[forward_k_neigh_index, :k1 + 1]
    fi = np.where(backward_k_neigh_index == i)[0]
    return forward_k_neigh_index[fi]


def compute_jaccard_distance(target_features, k1=20, k2=6, use_float16=False):
    N = target_features.shape[0]
    mat_type = np.float16 if use_float16 else np.float32
    x = target_features.astype(np.float32)
    sq = (x ** 2).sum(axis=1, keepdims=True)
    d = (sq + sq.T) - 2 * (x @ x.T)
    initial_rank = np.argsort(d, axis=1, kind="stable")[:, :k1]

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
            if (len(np.intersect1d(candidate_k_reciprocal_index, k_reciprocal_index)) > 2 / 3 * len(candidate_k_reciprocal_index)):
                k_reciprocal_expansion_index = np.append(k_reciprocal_expansion_index, candidate_k_reciprocal_index)

        k_reciprocal_expansion_index = np.unique(k_reciprocal_expansion_index)
        dist = 2 - 2 * (x[i][None, :] @ x[k_reciprocal_expansion_index].T)
        z = -dist - (-dist).max()
        e = np.exp(z)
        V[i, k_reciprocal_expansion_index] = (e / e.sum()).reshape(-1).astype(mat_type)

    if k2 != 1:
        V_qe = np.zeros_like(V, dtype=mat_type)
        for i in range(N):
            V_qe[i, :] = np.mean(V[initial_rank[i, :k2], :], axis=0)
        V = V_qe

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

    pos_bool = (jaccard_dist < 0)
    jaccard_dist[pos_bool] = 0.0
    return jaccard_dist


def clustered(rng, ids, per, dim, spread):
    centres = rng.normal(size=(ids, dim))
    x = np.repeat(centres, per, axis=0) + spread * rng.normal(size=(ids * per, dim))
    x = x[rng.permutation(len(x))]
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return np.round(x, 4).astype(np.float32)


def main(out):
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(2017)
    cases = [
        # name, ids, per, dim, spread, k1, k2, lambda, nq
        ("small", 20, 6, 16, 0.6, 20, 6, 0.3, 30),
        ("k30", 30, 6, 16, 0.7, 30, 6, 0.3, 50),
        ("noqe", 25, 5, 8, 0.5, 10, 1, 0.5, 25),
    ]
    for name, ids, per, dim, spread, k1, k2, lam, nq in cases:
        x = clustered(rng, ids, per, dim, spread)
        jac = compute_jaccard_distance(x, k1=k1, k2=k2)
        jac16 = compute_jaccard_distance(x, k1=k1, k2=k2, use_float16=True)
        rr = re_ranking(x[:nq], x[nq:], k1, k2, lam)
        # The clustering step of the UDA pipeline: DBSCAN on the Jaccard
        # distance with eps 0.6 and min_samples 4.
        labels = DBSCAN(eps=0.6, min_samples=4, metric="precomputed").fit_predict(jac)
        json.dump({
            "k1": k1, "k2": k2, "lambda": lam, "num_query": nq,
            "features": x.tolist(),
            "jaccard": jac.astype(float).tolist(),
            "jaccard_float16": jac16.astype(float).tolist(),
            "rerank": rr.astype(float).tolist(),
            "dbscan_labels": labels.tolist(),
        }, open(os.path.join(out, name + ".json"), "w"))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "reid/rerank/testdata")
