#!/usr/bin/env python3
"""Writes the golden cases of argus/segmetric: crafted label PNGs and the
numbers mmsegmentation 0.x computes for them.

Each case is a folder segmetric/testdata/CASE/ holding pred/ and gt/ (label
PNGs paired by relative path), label_map.json where the case has one, and
expected.json: the options, the summed areas, aAcc, mIoU, mAcc, mDice and the
per-class IoU, Acc and Dice (null for NaN).

intersect_and_union and total_area_to_metrics below mirror
mmseg/core/evaluation/metrics.py of mmsegmentation 0.x (v0.24 and later,
where the label map is applied through a copy so that chained entries do not
cascade), and the summary mirrors CustomDataset.evaluate's np.nanmean. Only
the file loading differs: labels are read as mmcv.imread(flag='unchanged',
backend='pillow') reads them (np.array of the Pillow image), predictions as
the int64 maps a model's arg-max gives.

Run from the repository root:  /usr/bin/python3 tools/golden/segment/gen.py
Needs numpy, torch and Pillow; the Go tests never run it.
"""
import json
import math
import os
import shutil
import warnings
from collections import OrderedDict

import numpy as np
import torch
from PIL import Image

OUT = os.path.join('segmetric', 'testdata')


# --- mirror of mmseg/core/evaluation/metrics.py (0.x) ---------------------

def intersect_and_union(pred_label,
                        label,
                        num_classes,
                        ignore_index,
                        label_map=dict(),
                        reduce_zero_label=False):
    pred_label = torch.from_numpy((pred_label))
    label = torch.from_numpy(label)

    if label_map is not None:
        label_copy = label.clone()
        for old_id, new_id in label_map.items():
            label[label_copy == old_id] = new_id
    if reduce_zero_label:
        label[label == 0] = 255
        label = label - 1
        label[label == 254] = 255

    mask = (label != ignore_index)
    pred_label = pred_label[mask]
    label = label[mask]

    intersect = pred_label[pred_label == label]
    area_intersect = torch.histc(
        intersect.float(), bins=(num_classes), min=0, max=num_classes - 1)
    area_pred_label = torch.histc(
        pred_label.float(), bins=(num_classes), min=0, max=num_classes - 1)
    area_label = torch.histc(
        label.float(), bins=(num_classes), min=0, max=num_classes - 1)
    area_union = area_pred_label + area_label - area_intersect
    return area_intersect, area_union, area_pred_label, area_label


def total_intersect_and_union(results, gt_seg_maps, num_classes, ignore_index,
                              label_map=dict(), reduce_zero_label=False):
    total_area_intersect = torch.zeros((num_classes, ), dtype=torch.float64)
    total_area_union = torch.zeros((num_classes, ), dtype=torch.float64)
    total_area_pred_label = torch.zeros((num_classes, ), dtype=torch.float64)
    total_area_label = torch.zeros((num_classes, ), dtype=torch.float64)
    for result, gt_seg_map in zip(results, gt_seg_maps):
        area_intersect, area_union, area_pred_label, area_label = \
            intersect_and_union(
                result, gt_seg_map, num_classes, ignore_index,
                label_map, reduce_zero_label)
        total_area_intersect += area_intersect
        total_area_union += area_union
        total_area_pred_label += area_pred_label
        total_area_label += area_label
    return total_area_intersect, total_area_union, total_area_pred_label, \
        total_area_label


def total_area_to_metrics(total_area_intersect,
                          total_area_union,
                          total_area_pred_label,
                          total_area_label,
                          metrics=['mIoU', 'mDice']):
    all_acc = total_area_intersect.sum() / total_area_label.sum()
    ret_metrics = OrderedDict({'aAcc': all_acc})
    for metric in metrics:
        if metric == 'mIoU':
            iou = total_area_intersect / total_area_union
            acc = total_area_intersect / total_area_label
            ret_metrics['IoU'] = iou
            ret_metrics['Acc'] = acc
        elif metric == 'mDice':
            dice = 2 * total_area_intersect / (
                total_area_pred_label + total_area_label)
            acc = total_area_intersect / total_area_label
            ret_metrics['Dice'] = dice
            ret_metrics['Acc'] = acc
    return {metric: value.numpy() for metric, value in ret_metrics.items()}


# --- the cases -------------------------------------------------------------

def nanmean(x):
    # np.nanmean warns on an all-NaN array and returns NaN, as wanted.
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)
        return np.nanmean(x)


def null(x):
    x = float(x)
    return None if math.isnan(x) else x


def save(path, arr, mode):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if mode == 'P':
        # Paletted: the stored indices are the labels, whatever the colours.
        img = Image.fromarray(arr.astype(np.uint8), mode='P')
        img.putpalette([v for i in range(256) for v in (i, 255 - i, i // 2)])
    elif mode == 'I;16':
        img = Image.fromarray(arr.astype(np.uint16))
    else:
        img = Image.fromarray(arr.astype(np.uint8), mode='L')
    img.save(path)


def load_label(path):
    # mmcv.imread(path, flag='unchanged', backend='pillow') is np.array of
    # the Pillow image.
    a = np.array(Image.open(path))
    if a.dtype == np.uint16:
        # torch 1.13 has no uint16 tensors; int32 holds the same values.
        a = a.astype(np.int32)
    return a


def load_pred(path):
    return np.array(Image.open(path)).astype(np.int64)


def pick(rng, values, shape):
    return np.asarray(values)[rng.integers(0, len(values), size=shape)]


def noisy(rng, gt, values, rate):
    pred = gt.copy()
    flip = rng.random(gt.shape) < rate
    pred[flip] = pick(rng, values, gt.shape)[flip]
    return pred


def case_images(name, rng):
    """Returns the options and the images (rel path, pred, gt, mode)."""
    sizes = [(13, 17), (21, 9), (8, 30)]
    if name == 'basic':
        imgs = []
        for rel, (h, w) in zip(['a/x.png', 'a/b/y.png', 'z.png'], sizes):
            gt = pick(rng, [0, 1, 2, 3, 255], (h, w))
            imgs.append((rel, noisy(rng, np.where(gt == 255, 0, gt), [0, 1, 2, 3], 0.3), gt, 'L'))
        return dict(num_classes=4), imgs
    if name == 'absent':
        # Class 4 is in neither map; class 3 only in the prediction.
        gt = pick(rng, [0, 1, 2, 255], (16, 20))
        pred = noisy(rng, np.where(gt == 255, 1, gt), [0, 1, 2, 3], 0.4)
        gt2 = pick(rng, [0, 1, 2], (10, 10))
        pred2 = noisy(rng, gt2, [0, 1, 2, 3], 0.2)
        return dict(num_classes=5), [('p1.png', pred, gt, 'P'), ('p2.png', pred2, gt2, 'L')]
    if name == 'reduce_zero':
        # 0 and 255 are ignored; 4 becomes 3, outside the 3 classes.
        imgs = []
        for i, (h, w) in enumerate(sizes[:2]):
            gt = pick(rng, [0, 1, 2, 3, 4, 255], (h, w))
            pred = pick(rng, [0, 1, 2, 255, 7], (h, w))
            pred = np.where(rng.random((h, w)) < 0.5, np.clip(gt.astype(np.int64) - 1, 0, 2), pred)
            imgs.append(('r%d.png' % i, pred, gt, 'L'))
        return dict(num_classes=3, reduce_zero_label=True), imgs
    if name == 'label_map':
        # 1 -> 2 and 2 -> 3 must not chain; 6 -> 255 is ignored; 9 -> 200
        # falls outside the classes.
        gt = pick(rng, [0, 1, 2, 3, 5, 6, 9, 255], (24, 18))
        pred = pick(rng, [0, 1, 2, 3, 9], (24, 18))
        return dict(num_classes=4, label_map={1: 2, 2: 3, 5: 0, 6: 255, 9: 200}), [('m.png', pred, gt, 'L')]
    if name == 'label_map_reduce':
        # The map runs first: 1 -> 0 is then ignored by the reduction,
        # 3 -> 1 becomes class 0, 0 -> 4 becomes 3, outside the classes.
        gt = pick(rng, [0, 1, 2, 3, 4, 255], (20, 20))
        pred = pick(rng, [0, 1, 2, 3], (20, 20))
        return dict(num_classes=3, reduce_zero_label=True, label_map={1: 0, 3: 1, 0: 4}), [('mr.png', pred, gt, 'L')]
    if name == 'out_of_range':
        gt = pick(rng, [0, 1, 2, 3, 7, 254, 255], (15, 15))
        pred = noisy(rng, np.where(gt > 2, 0, gt), [0, 1, 2, 5, 255], 0.4)
        return dict(num_classes=3), [('o.png', pred, gt, 'L')]
    if name == 'wide16':
        imgs = []
        for i, (h, w) in enumerate(sizes):
            gt = pick(rng, list(range(0, 300, 7)) + [300, 1000, 65535, 65535], (h, w))
            pred = noisy(rng, np.where(gt >= 300, 0, gt), list(range(0, 311, 3)), 0.5)
            imgs.append(('w%d.png' % i, pred, gt, 'I;16'))
        return dict(num_classes=300, ignore_index=65535), imgs
    if name == 'many':
        # 150 classes, some absent, so that the means' NaNs and numpy's
        # pairwise summation over more than 128 values both matter.
        present = [k for k in range(150) if k % 11 != 3]
        imgs = []
        for i in range(2):
            gt = pick(rng, present + [255], (48, 64))
            pred = noisy(rng, np.where(gt == 255, 0, gt), list(range(150)), 0.35)
            imgs.append(('n%d.png' % i, pred, gt, 'L'))
        return dict(num_classes=150), imgs
    if name == 'all_ignored':
        gt = np.full((6, 7), 255)
        pred = pick(rng, [0, 1], (6, 7))
        return dict(num_classes=2), [('i.png', pred, gt, 'L')]
    raise ValueError(name)


CASES = ['basic', 'absent', 'reduce_zero', 'label_map', 'label_map_reduce',
         'out_of_range', 'wide16', 'many', 'all_ignored']


def main():
    for seed, name in enumerate(CASES):
        rng = np.random.default_rng(1000 + seed)
        opt, imgs = case_images(name, rng)
        opt.setdefault('ignore_index', 255)
        opt.setdefault('reduce_zero_label', False)
        label_map = opt.get('label_map', {})
        root = os.path.join(OUT, name)
        shutil.rmtree(root, ignore_errors=True)
        preds, gts = [], []
        for rel, pred, gt, mode in sorted(imgs):
            save(os.path.join(root, 'pred', rel), pred, mode)
            save(os.path.join(root, 'gt', rel), gt, mode)
            # Read back as mmseg would, so that the numbers are those of
            # the files.
            preds.append(load_pred(os.path.join(root, 'pred', rel)))
            gts.append(load_label(os.path.join(root, 'gt', rel)))
        if label_map:
            with open(os.path.join(root, 'label_map.json'), 'w') as f:
                json.dump({str(k): v for k, v in label_map.items()}, f)
        c = opt['num_classes']
        areas = total_intersect_and_union(preds, gts, c, opt['ignore_index'],
                                          label_map, opt['reduce_zero_label'])
        m = total_area_to_metrics(*areas)
        exp = dict(
            num_classes=c, ignore_index=opt['ignore_index'],
            reduce_zero_label=opt['reduce_zero_label'],
            label_map={str(k): v for k, v in label_map.items()} or None,
            num_images=len(imgs),
            area_intersect=[int(v) for v in areas[0]],
            area_union=[int(v) for v in areas[1]],
            area_pred_label=[int(v) for v in areas[2]],
            area_label=[int(v) for v in areas[3]],
            aAcc=null(m['aAcc']),
            # CustomDataset.evaluate's summary: np.nanmean of each array.
            mIoU=null(nanmean(m['IoU'])),
            mAcc=null(nanmean(m['Acc'])),
            mDice=null(nanmean(m['Dice'])),
            IoU=[null(v) for v in m['IoU']],
            Acc=[null(v) for v in m['Acc']],
            Dice=[null(v) for v in m['Dice']],
        )
        with open(os.path.join(root, 'expected.json'), 'w') as f:
            json.dump(exp, f, indent=1)
            f.write('\n')
        print('%-17s %d images, mIoU %s' % (name, len(imgs), exp['mIoU']))


if __name__ == '__main__':
    main()
