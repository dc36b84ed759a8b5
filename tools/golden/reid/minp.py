"""Write reid/testdata/minp.json: mAP, mINP and CMC of every golden case
(reid/testdata/golden/case_*) from fast-reid's evaluate_py (the
eval_market1501 of torchreid plus INP, fastreid/evaluation/rank.py), with the
squared euclidean distance computed in float32 as torchreid does.

Run with Debian's python3 (numpy 1.24): python3 tools/golden/reid/minp.py
"""
import glob
import json
import os
import sys

import numpy as np


def eval_market1501(distmat, q_pids, g_pids, q_camids, g_camids, max_rank):
    num_q, num_g = distmat.shape
    if num_g < max_rank:
        max_rank = num_g
    indices = np.argsort(distmat, axis=1)
    matches = (g_pids[indices] == q_pids[:, np.newaxis]).astype(np.int32)
    all_cmc, all_AP, all_INP = [], [], []
    num_valid_q = 0.
    for q_idx in range(num_q):
        order = indices[q_idx]
        remove = (g_pids[order] == q_pids[q_idx]) & (g_camids[order] == q_camids[q_idx])
        keep = np.invert(remove)
        raw_cmc = matches[q_idx][keep]
        if not np.any(raw_cmc):
            continue
        cmc = raw_cmc.cumsum()
        pos_idx = np.where(raw_cmc == 1)
        max_pos_idx = np.max(pos_idx)
        inp = cmc[max_pos_idx] / (max_pos_idx + 1.0)
        all_INP.append(inp)
        cmc[cmc > 1] = 1
        all_cmc.append(cmc[:max_rank])
        num_valid_q += 1.
        num_rel = raw_cmc.sum()
        tmp_cmc = raw_cmc.cumsum()
        tmp_cmc = [x / (i + 1.) for i, x in enumerate(tmp_cmc)]
        tmp_cmc = np.asarray(tmp_cmc) * raw_cmc
        all_AP.append(tmp_cmc.sum() / num_rel)
    all_cmc = np.asarray(all_cmc).astype(np.float32)
    all_cmc = all_cmc.sum(0) / num_valid_q
    return all_cmc, np.mean(all_AP), np.mean(all_INP)


def main(root):
    out = {}
    for d in sorted(glob.glob(os.path.join(root, "golden", "case_*"))):
        c = json.load(open(os.path.join(d, "case.json")))
        q = np.asarray(c["query_features"], dtype=np.float32)
        g = np.asarray(c["gallery_features"], dtype=np.float32)
        dist = (q ** 2).sum(1, keepdims=True) + (g ** 2).sum(1)[None, :] - 2 * (q @ g.T)
        cmc, mAP, mINP = eval_market1501(dist.astype(np.float32), np.asarray(c["query_pids"]), np.asarray(c["gallery_pids"]),
                                         np.asarray(c["query_camids"]), np.asarray(c["gallery_camids"]), 50)
        out[os.path.basename(d)] = {"mAP": float(mAP), "mINP": float(mINP), "cmc": cmc.astype(float).tolist()}
    json.dump(out, open(os.path.join(root, "minp.json"), "w"), indent=1)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "reid/testdata")
