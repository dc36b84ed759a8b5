// Package segmetric computes the semantic segmentation metrics of
// mmsegmentation 0.x (mmseg/core/evaluation/metrics.py): overall pixel
// accuracy (aAcc) and the per-class IoU, accuracy and Dice with their means
// mIoU, mAcc and mDice, from label maps of a prediction and its ground
// truth.
//
// The arithmetic is mmseg's intersect_and_union, total_intersect_and_union
// and total_area_to_metrics, in that order:
//
//   - the ground truth (never the prediction) is first remapped by the label
//     map, every pixel by its original value, so that chained entries such
//     as {1: 2, 2: 3} do not cascade;
//   - with ReduceZeroLabel, 0 becomes 255, every label is decreased by one,
//     and 254 becomes 255;
//   - pixels whose ground truth is then IgnoreIndex are dropped from both
//     maps;
//   - per class k in 0..C−1: intersect[k] counts the pixels where both
//     maps hold k, pred[k] and label[k] the pixels where the prediction or
//     the ground truth holds k; values outside 0..C−1 fall out of these
//     histograms (a ground-truth pixel of value C still counts in the
//     prediction's histogram), and union = pred + label − intersect;
//   - the histograms are summed over all images (as exact integers, which
//     mmseg's float64 totals also are), then IoU = intersect/union,
//     Acc = intersect/label, Dice = 2·intersect/(pred + label) and
//     aAcc = Σintersect/Σlabel, a 0/0 giving NaN;
//   - each mean is numpy's nanmean of its per-class array: NaN classes are
//     left out, and the sum is taken in numpy's pairwise order, so that the
//     means match to the last bit.
//
// So a class absent from both maps has NaN IoU, Acc and Dice and counts in
// no mean; a class predicted but absent from the ground truth has IoU 0 and
// Dice 0, which count, and Acc NaN, which does not.
//
// Labels are integers: 8-bit maps (Add), 16-bit maps (Add16) and int32 maps
// (Add32) are accepted, so classes and label values may run to 65535; the
// label map and ReduceZeroLabel work on the integer values, where mmseg's
// uint8 tensors would refuse a mapped value over 255. mmseg's pre_eval path
// sums the per-image histograms in float32, which rounds beyond 2^24 pixels
// per class; this package sums exactly, as its eval_metrics path does. With
// a single class (C = 1) torch.histc(min=0, max=0) falls back to the range
// of the data and so counts every value in the one bin; this package keeps
// the rule above there too and counts only label 0.
package segmetric

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
)

// MaxLabel is the largest label value, class or ignore index: the largest
// 16-bit PNG sample.
const MaxLabel = 65535

// DefaultIgnoreIndex is mmseg's ignore index.
const DefaultIgnoreIndex = 255

// Options say how ground-truth labels become classes.
type Options struct {
	// NumClasses is C: classes are 0..C−1, with 1 ≤ C ≤ MaxLabel+1.
	NumClasses int
	// IgnoreIndex is the ground-truth label (after the label map and
	// ReduceZeroLabel) whose pixels are left out, in 0..MaxLabel.
	IgnoreIndex int
	// ReduceZeroLabel treats label 0 as ignored and shifts the others down
	// by one, as for ADE20K.
	ReduceZeroLabel bool
	// LabelMap replaces ground-truth label old with LabelMap[old] before
	// anything else; keys and values are in 0..MaxLabel.
	LabelMap map[int]int
}

// DefaultOptions returns the options of mmseg's defaults for c classes:
// ignore index 255, no label map, no zero reduction.
func DefaultOptions(c int) Options {
	return Options{NumClasses: c, IgnoreIndex: DefaultIgnoreIndex}
}

// Validate reports the first option out of range.
func (o Options) Validate() error {
	if o.NumClasses < 1 || o.NumClasses > MaxLabel+1 {
		return fmt.Errorf("number of classes %d, want 1..%d", o.NumClasses, MaxLabel+1)
	}
	if o.IgnoreIndex < 0 || o.IgnoreIndex > MaxLabel {
		return fmt.Errorf("ignore index %d, want 0..%d", o.IgnoreIndex, MaxLabel)
	}
	for _, k := range slices.Sorted(maps.Keys(o.LabelMap)) {
		if v := o.LabelMap[k]; k < 0 || k > MaxLabel || v < 0 || v > MaxLabel {
			return fmt.Errorf("label map entry %d: %d, want labels in 0..%d", k, v, MaxLabel)
		}
	}
	return nil
}

// ignored is the class code of a pixel left out of every histogram.
const ignored = -1

// Accumulator sums the histograms of mmseg's intersect_and_union over
// images. Its methods are not safe for concurrent use: give each goroutine
// its own accumulator and Merge them.
type Accumulator struct {
	opt Options
	c   int
	// lut8 and lut16 give each ground-truth value its class code: a class
	// 0..C−1, C for a kept pixel outside the classes, or ignored. lut16 is
	// built on the first wide map.
	lut8  [256]int32
	lut16 []int32
	// joint is scratch for 8-bit maps: joint[label<<8|pred] counts pixel
	// pairs, one increment per pixel, and is folded into the histograms
	// after each chunk.
	joint []uint32
	// intersect, pred and label are the per-class histograms.
	intersect, pred, label []int64
	images                 int
}

// New returns an empty accumulator for the options.
func New(opt Options) (*Accumulator, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	opt.LabelMap = maps.Clone(opt.LabelMap)
	c := opt.NumClasses
	a := &Accumulator{opt: opt, c: c,
		intersect: make([]int64, c), pred: make([]int64, c), label: make([]int64, c)}
	for v := range a.lut8 {
		a.lut8[v] = a.code(v)
	}
	return a, nil
}

// Options returns the options the accumulator was made with.
func (a *Accumulator) Options() Options {
	o := a.opt
	o.LabelMap = maps.Clone(o.LabelMap)
	return o
}

// code maps a ground-truth value to its class code, in mmseg's order:
// label map, zero reduction, ignore mask, histogram range.
func (a *Accumulator) code(v int) int32 {
	if n, ok := a.opt.LabelMap[v]; ok {
		v = n
	}
	if a.opt.ReduceZeroLabel {
		if v == 0 {
			v = 255
		}
		v--
		if v == 254 {
			v = 255
		}
	}
	switch {
	case v == a.opt.IgnoreIndex:
		return ignored
	case v < 0 || v >= a.c:
		return int32(a.c)
	}
	return int32(v)
}

// wideLUT returns the class codes of all 16-bit values.
func (a *Accumulator) wideLUT() []int32 {
	if a.lut16 == nil {
		a.lut16 = make([]int32, MaxLabel+1)
		for v := range a.lut16 {
			a.lut16[v] = a.code(v)
		}
	}
	return a.lut16
}

// checkSize reports maps whose lengths are not w·h.
func checkSize(np, nl, w, h int) error {
	if w < 0 || h < 0 {
		return fmt.Errorf("size %dx%d is negative", w, h)
	}
	if np != w*h || nl != w*h {
		return fmt.Errorf("prediction has %d labels and ground truth %d, want %dx%d = %d", np, nl, w, h, w*h)
	}
	return nil
}

// jointChunk bounds the pixels counted into joint before folding, so that
// no uint32 count overflows.
const jointChunk = 1 << 30

// Add accumulates one image: pred and label hold w·h 8-bit labels each, row
// by row.
func (a *Accumulator) Add(pred, label []uint8, w, h int) error {
	if err := checkSize(len(pred), len(label), w, h); err != nil {
		return err
	}
	if a.joint == nil {
		a.joint = make([]uint32, 2<<16)
	}
	j0, j1 := a.joint[:1<<16], a.joint[1<<16:2<<16]
	for lo := 0; lo < len(label); lo += jointChunk {
		hi := min(lo+jointChunk, len(label))
		p, l := pred[lo:hi], label[lo:hi]
		// Two tables: neighbouring pixels, which often hold the same pair,
		// do not wait on each other's increment.
		i := 0
		for ; i+1 < len(l); i += 2 {
			j0[uint16(l[i])<<8|uint16(p[i])]++
			j1[uint16(l[i+1])<<8|uint16(p[i+1])]++
		}
		if i < len(l) {
			j0[uint16(l[i])<<8|uint16(p[i])]++
		}
		for k, v := range j1 {
			j0[k] += v
		}
		clear(j1)
		a.fold()
	}
	a.images++
	return nil
}

// fold adds the joint counts of 8-bit pairs to the histograms and clears
// them.
func (a *Accumulator) fold() {
	np := min(a.c, 256)
	for l := range 256 {
		row := a.joint[l<<8 : (l+1)<<8]
		code := a.lut8[l]
		if code == ignored {
			clear(row)
			continue
		}
		var n int64
		for p, k := range row[:np] {
			a.pred[p] += int64(k)
			n += int64(k)
		}
		if int(code) < a.c {
			for _, k := range row[np:] {
				n += int64(k)
			}
			a.label[code] += n
			if code < 256 {
				a.intersect[code] += int64(row[code])
			}
		}
		clear(row)
	}
}

// Add16 accumulates one image of 16-bit labels (see Add).
func (a *Accumulator) Add16(pred, label []uint16, w, h int) error {
	if err := checkSize(len(pred), len(label), w, h); err != nil {
		return err
	}
	lut := a.wideLUT()
	addWide(a, pred, label, func(v uint16) int32 { return lut[v] })
	a.images++
	return nil
}

// Add32 accumulates one image of int32 labels (see Add), such as the arg-max
// of a network's scores. Ground-truth values outside 0..MaxLabel are kept
// and fall outside the classes, as any value of C or more does.
func (a *Accumulator) Add32(pred, label []int32, w, h int) error {
	if err := checkSize(len(pred), len(label), w, h); err != nil {
		return err
	}
	lut := a.wideLUT()
	addWide(a, pred, label, func(v int32) int32 {
		if uint32(v) <= MaxLabel {
			return lut[v]
		}
		return a.code(int(v))
	})
	a.images++
	return nil
}

// addWide is the general per-pixel loop of intersect_and_union.
func addWide[T uint16 | int32](a *Accumulator, pred, label []T, code func(T) int32) {
	c := uint(a.c)
	pred = pred[:len(label)]
	for i, l := range label {
		k := code(l)
		if k == ignored {
			continue
		}
		if p := uint(pred[i]); p < c {
			a.pred[p]++
			if p == uint(k) {
				a.intersect[p]++
			}
		}
		if uint(k) < c {
			a.label[k]++
		}
	}
}

// ErrMismatch is wrapped by Merge's error for accumulators whose options
// differ.
var ErrMismatch = errors.New("accumulators have different options")

// Merge adds b's histograms and image count to a's. Counts are integers, so
// the result does not depend on the order of merging.
func (a *Accumulator) Merge(b *Accumulator) error {
	if a.opt.NumClasses != b.opt.NumClasses || a.opt.IgnoreIndex != b.opt.IgnoreIndex ||
		a.opt.ReduceZeroLabel != b.opt.ReduceZeroLabel || !maps.Equal(a.opt.LabelMap, b.opt.LabelMap) {
		return ErrMismatch
	}
	for k := range a.c {
		a.intersect[k] += b.intersect[k]
		a.pred[k] += b.pred[k]
		a.label[k] += b.label[k]
	}
	a.images += b.images
	return nil
}

// Reset empties the histograms, keeping the options.
func (a *Accumulator) Reset() {
	clear(a.intersect)
	clear(a.pred)
	clear(a.label)
	a.images = 0
}

// Images returns the number of images added.
func (a *Accumulator) Images() int { return a.images }

// Areas are the summed histograms of mmseg's total_intersect_and_union.
type Areas struct {
	Intersect, Union, Pred, Label []int64
}

// Areas returns a copy of the summed histograms.
func (a *Accumulator) Areas() Areas {
	u := make([]int64, a.c)
	for k := range u {
		u[k] = a.pred[k] + a.label[k] - a.intersect[k]
	}
	return Areas{Intersect: slices.Clone(a.intersect), Union: u, Pred: slices.Clone(a.pred), Label: slices.Clone(a.label)}
}

// Metrics returns mmseg's total_area_to_metrics of the summed histograms
// and the nanmean of each per-class array.
func (a *Accumulator) Metrics() *Metrics {
	c := a.c
	m := &Metrics{NumImages: a.images, NumClasses: c,
		IoU: make([]float64, c), Acc: make([]float64, c), Dice: make([]float64, c)}
	var si, sl int64
	for k := range c {
		i, p, l := float64(a.intersect[k]), float64(a.pred[k]), float64(a.label[k])
		u := float64(a.pred[k] + a.label[k] - a.intersect[k])
		m.IoU[k] = i / u
		m.Acc[k] = i / l
		m.Dice[k] = 2 * i / (p + l)
		si += a.intersect[k]
		sl += a.label[k]
	}
	m.AAcc = float64(si) / float64(sl)
	m.MIoU, m.MAcc, m.MDice = nanmean(m.IoU), nanmean(m.Acc), nanmean(m.Dice)
	return m
}

// nanmean is numpy's nanmean of a 1-D float64 array: NaNs replaced by zero,
// summed in numpy's pairwise order, divided by the count of the others.
func nanmean(x []float64) float64 {
	z := make([]float64, len(x))
	n := 0
	for i, v := range x {
		if !math.IsNaN(v) {
			z[i] = v
			n++
		}
	}
	return pairwiseSum(z) / float64(n)
}

// pairwiseSum adds x in the order of numpy's pairwise_sum
// (numpy/core/src/umath/loops_utils.h.src, numpy 1.24): eight running sums
// for blocks of up to 128 values, halves split at a multiple of eight above
// that.
func pairwiseSum(x []float64) float64 {
	n := len(x)
	switch {
	case n < 8:
		s := 0.0
		for _, v := range x {
			s += v
		}
		return s
	case n <= 128:
		var r [8]float64
		copy(r[:], x[:8])
		i := 8
		for ; i < n-n%8; i += 8 {
			for j := range r {
				r[j] += x[i+j]
			}
		}
		s := ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
		for ; i < n; i++ {
			s += x[i]
		}
		return s
	}
	n2 := n / 2
	n2 -= n2 % 8
	return pairwiseSum(x[:n2]) + pairwiseSum(x[n2:])
}
