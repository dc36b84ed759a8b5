"""Time the reference evaluation on the folders written by
`go run ./tools/bench/segment -dir DIR`, on the same machine:

  python3 tools/bench/segment/reference.py DIR [--num-classes 19] [--repeats 3]

numpy: the formulas of mmseg 0.x's intersect_and_union and
total_area_to_metrics (label map and reduce_zero_label unused here, ignore
index 255) written with np.bincount, the fastest numpy form of histc, timed
end to end (Pillow decode + metrics, one process, as mmseg's single-GPU
evaluation runs) and on the maps held in memory. torch: mmseg's own
intersect_and_union (torch.histc), the mirror in tools/golden/segment/gen.py,
on the maps held in memory. Prints one JSON object with the times (wall and
CPU) and the metrics, to compare with argus's.
"""
import argparse
import glob
import json
import os
import sys
import time

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', 'golden', 'segment'))


def areas_numpy(pred, label, num_classes, ignore_index):
    mask = label != ignore_index
    pred = pred[mask]
    label = label[mask]
    intersect = pred[pred == label]

    def hist(x):
        # torch.histc(bins=C, min=0, max=C-1) on integers: values outside
        # 0..C-1 are dropped.
        x = x[x < num_classes]
        return np.bincount(x, minlength=num_classes).astype(np.float64)

    ai, ap, al = hist(intersect), hist(pred), hist(label)
    return ai, ap + al - ai, ap, al


def metrics(ai, au, ap, al):
    with np.errstate(invalid='ignore', divide='ignore'):
        iou, acc, dice = ai / au, ai / al, 2 * ai / (ap + al)
        return dict(aAcc=float(ai.sum() / al.sum()), mIoU=float(np.nanmean(iou)),
                    mAcc=float(np.nanmean(acc)), mDice=float(np.nanmean(dice)))


def evaluate(pairs, c, load):
    tot = [np.zeros(c) for _ in range(4)]
    for p, g in pairs:
        pred, label = load(p, g)
        for t, a in zip(tot, areas_numpy(pred, label, c, 255)):
            t += a
    return metrics(*tot)


def timed(f):
    w, cpu = time.perf_counter(), time.process_time()
    out = f()
    return out, time.perf_counter() - w, time.process_time() - cpu


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('dir')
    ap.add_argument('--num-classes', type=int, default=19)
    ap.add_argument('--repeats', type=int, default=3)
    args = ap.parse_args()
    c = args.num_classes
    gts = sorted(glob.glob(os.path.join(args.dir, 'gt', '**', '*.png'), recursive=True))
    pairs = [(os.path.join(args.dir, 'pred', os.path.relpath(g, os.path.join(args.dir, 'gt'))), g) for g in gts]

    def decode(p, g):
        # Predictions as a model's int64 arg-max, labels as mmcv reads them.
        return np.array(Image.open(p)).astype(np.int64), np.array(Image.open(g))

    rep = dict(images=len(pairs), numpy_end_to_end=[], numpy_in_memory=[], torch_mmseg_in_memory=[])
    for _ in range(args.repeats):
        m, w, cpu = timed(lambda: evaluate(pairs, c, decode))
        rep['numpy_end_to_end'].append(dict(seconds=w, cpu_seconds=cpu))
    rep['metrics'] = m
    held = [decode(p, g) for p, g in pairs]
    for _ in range(args.repeats):
        m2, w, cpu = timed(lambda: evaluate(held, c, lambda p, g: (p, g)))
        rep['numpy_in_memory'].append(dict(seconds=w, cpu_seconds=cpu))
    assert m2 == m
    import torch
    from gen import total_intersect_and_union, total_area_to_metrics
    torch.set_num_threads(1)
    for _ in range(args.repeats):
        areas, w, cpu = timed(lambda: total_intersect_and_union(
            [p for p, _ in held], [g for _, g in held], c, 255))
        rep['torch_mmseg_in_memory'].append(dict(seconds=w, cpu_seconds=cpu))
    tm = total_area_to_metrics(*areas)
    rep['torch_mmseg_mIoU'] = float(np.nanmean(tm['IoU']))
    print(json.dumps(rep))


if __name__ == '__main__':
    main()
