// Package coco evaluates box detections exactly as pycocotools' COCOeval
// does: the instances and results files it scores are read and written by
// data/cocofile.
package coco

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"argus/data/cocofile"
)

// AreaRange is an object size range in square pixels, bounds included.
type AreaRange struct {
	Label    string
	Min, Max float64
}

// Params are the settings of a box evaluation, as in pycocotools' Params.
type Params struct {
	// IoUThresholds are the IoU thresholds at which detections are matched
	// (at most 64).
	IoUThresholds []float64
	// RecallThresholds are the recall values at which precision is sampled.
	RecallThresholds []float64
	// MaxDets are the per-image detection limits, ascending.
	MaxDets []int
	// AreaRanges are the object size ranges.
	AreaRanges []AreaRange
	// Workers is the number of goroutines; 0 means GOMAXPROCS.
	Workers int
}

// linspace returns n values from start to stop as numpy.linspace computes
// them, so that thresholds compare equal to pycocotools' own.
func linspace(start, stop float64, n int) []float64 {
	out := make([]float64, n)
	step := (stop - start) / float64(n-1)
	for i := range out {
		out[i] = float64(float64(i)*step) + start
	}
	out[n-1] = stop
	return out
}

// DefaultParams returns pycocotools' defaults for boxes: IoU 0.50:0.05:0.95,
// 101 recall points, maxDets 1, 10, 100 and the all/small/medium/large
// ranges.
func DefaultParams() Params {
	return Params{
		IoUThresholds:    linspace(0.5, 0.95, int(math.Round((0.95-0.5)/0.05))+1),
		RecallThresholds: linspace(0, 1, int(math.Round((1.0-0.0)/0.01))+1),
		MaxDets:          []int{1, 10, 100},
		AreaRanges: []AreaRange{
			{"all", 0, 1e5 * 1e5},
			{"small", 0, 32 * 32},
			{"medium", 32 * 32, 96 * 96},
			{"large", 96 * 96, 1e5 * 1e5},
		},
	}
}

func (p *Params) validate() error {
	switch {
	case len(p.IoUThresholds) == 0 || len(p.IoUThresholds) > 64:
		return fmt.Errorf("params: need 1 to 64 IoU thresholds, have %d", len(p.IoUThresholds))
	case len(p.RecallThresholds) == 0:
		return errors.New("params: no recall thresholds")
	case len(p.MaxDets) == 0:
		return errors.New("params: no maxDets")
	case len(p.AreaRanges) == 0:
		return errors.New("params: no area ranges")
	}
	for i, m := range p.MaxDets {
		if m < 0 || i > 0 && m < p.MaxDets[i-1] {
			return errors.New("params: maxDets must be non-negative and ascending")
		}
	}
	return nil
}

// Eval holds the accumulated result of an evaluation: pycocotools'
// eval['precision'] and eval['recall'] arrays, with -1 where a setting has no
// ground truth.
type Eval struct {
	Params Params
	// CategoryIDs are the evaluated categories, ascending (the K axis).
	CategoryIDs []int64
	// Precision is the T x R x K x A x M array, row-major.
	Precision []float64
	// Recall is the T x K x A x M array, row-major.
	Recall []float64
}

// dims returns T, R, K, A, M.
func (e *Eval) dims() (t, r, k, a, m int) {
	return len(e.Params.IoUThresholds), len(e.Params.RecallThresholds), len(e.CategoryIDs),
		len(e.Params.AreaRanges), len(e.Params.MaxDets)
}

// PrecisionAt returns precision[t, r, k, a, m].
func (e *Eval) PrecisionAt(t, r, k, a, m int) float64 {
	_, R, K, A, M := e.dims()
	return e.Precision[(((t*R+r)*K+k)*A+a)*M+m]
}

// RecallAt returns recall[t, k, a, m].
func (e *Eval) RecallAt(t, k, a, m int) float64 {
	_, _, K, A, M := e.dims()
	return e.Recall[((t*K+k)*A+a)*M+m]
}

// Evaluate runs the bbox evaluation of pycocotools (COCOeval evaluate and
// accumulate) with DefaultParams.
func Evaluate(gt *cocofile.Dataset, dt []cocofile.Result) (*Eval, error) {
	return EvaluateParams(gt, dt, DefaultParams())
}

// gtBox and dtBox are the evaluator's compact records.
type gtBox struct {
	box   [4]float64
	area  float64
	id    int64
	crowd bool
}

type dtBox struct {
	box   [4]float64
	area  float64
	score float64
}

// group is the ground truth and detections of one image and category, as
// index ranges into the category's sorted lists.
type group struct {
	img            int32
	g0, g1, d0, d1 int32
}

// detEntry is a detection in a category's accumulation order.
type detEntry struct {
	score float64
	img   int32
	rank  int32 // position among its image's detections, by score
	idx   int32 // index into the per-area flag arrays
}

// EvaluateParams runs the evaluation with the given parameters. Detections of
// images absent from gt are an error (as in pycocotools' loadRes); those of
// categories absent from gt are ignored. pycocotools' quirks are kept: a
// result's area is w*h, the ground truth's annotated area (not its box)
// decides its size range, and a detection matched to a ground truth whose
// id is 0 counts as unmatched. The work is spread over categories.
func EvaluateParams(gt *cocofile.Dataset, dt []cocofile.Result, p Params) (*Eval, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	if err := cocofile.ValidateResults(gt, dt); err != nil {
		return nil, err
	}
	imgIDs := make([]int64, len(gt.Images))
	for i, im := range gt.Images {
		imgIDs[i] = im.ID
	}
	slices.Sort(imgIDs)
	imgIDs = slices.Compact(imgIDs)
	catIDs := make([]int64, len(gt.Categories))
	for i, c := range gt.Categories {
		catIDs[i] = c.ID
	}
	slices.Sort(catIDs)
	catIDs = slices.Compact(catIDs)
	imgIndex := make(map[int64]int32, len(imgIDs))
	for i, id := range imgIDs {
		imgIndex[id] = int32(i)
	}
	catIndex := make(map[int64]int32, len(catIDs))
	for i, id := range catIDs {
		catIndex[id] = int32(i)
	}

	// Order both lists by (category, image, file order): each category's
	// records become one run, grouped by image in pycocotools' order.
	type key struct{ cat, img, pos int32 }
	gkeys := make([]key, 0, len(gt.Annotations))
	for i, a := range gt.Annotations {
		k, ok := catIndex[a.CategoryID]
		im, ok2 := imgIndex[a.ImageID]
		if ok && ok2 {
			gkeys = append(gkeys, key{k, im, int32(i)})
		}
	}
	dkeys := make([]key, 0, len(dt))
	for i, r := range dt {
		if k, ok := catIndex[r.CategoryID]; ok {
			dkeys = append(dkeys, key{k, imgIndex[r.ImageID], int32(i)})
		}
	}
	byKey := func(a, b key) int {
		if c := cmp.Compare(a.cat, b.cat); c != 0 {
			return c
		}
		if c := cmp.Compare(a.img, b.img); c != 0 {
			return c
		}
		return cmp.Compare(a.pos, b.pos)
	}
	slices.SortFunc(gkeys, byKey)
	slices.SortFunc(dkeys, byKey)
	gts := make([]gtBox, len(gkeys))
	gcat := make([]int32, len(gkeys))
	gimg := make([]int32, len(gkeys))
	for i, k := range gkeys {
		a := &gt.Annotations[k.pos]
		gts[i] = gtBox{box: a.BBox, area: a.Area, id: a.ID, crowd: a.IsCrowd}
		gcat[i], gimg[i] = k.cat, k.img
	}
	dts := make([]dtBox, len(dkeys))
	dcat := make([]int32, len(dkeys))
	dimg := make([]int32, len(dkeys))
	for i, k := range dkeys {
		r := &dt[k.pos]
		// loadRes sets a result's area to w*h.
		dts[i] = dtBox{box: r.BBox, area: float64(r.BBox[2] * r.BBox[3]), score: r.Score}
		dcat[i], dimg[i] = k.cat, k.img
	}

	e := &Eval{Params: p, CategoryIDs: catIDs}
	T, R, K, A, M := e.dims()
	e.Precision = make([]float64, T*R*K*A*M)
	e.Recall = make([]float64, T*K*A*M)
	for i := range e.Precision {
		e.Precision[i] = -1
	}
	for i := range e.Recall {
		e.Recall[i] = -1
	}

	workers := p.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	var next atomic.Int32
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var w worker
			for {
				k := int(next.Add(1) - 1)
				if k >= K {
					return
				}
				g0, _ := slices.BinarySearch(gcat, int32(k))
				g1, _ := slices.BinarySearch(gcat, int32(k+1))
				d0, _ := slices.BinarySearch(dcat, int32(k))
				d1, _ := slices.BinarySearch(dcat, int32(k+1))
				w.category(e, k, gts[g0:g1], gimg[g0:g1], dts[d0:d1], dimg[d0:d1])
			}
		}()
	}
	wg.Wait()
	return e, nil
}

// worker holds the scratch space of one goroutine.
type worker struct {
	groups  []group
	ious    []float64
	order   []int32 // detections of a group by score
	gperm   []int32 // ground truth of a group, ignored last
	gtIg    []bool
	gtm     []bool // T x G
	entries []detEntry
	// Per area, per detection entry: the IoU thresholds at which it matched a
	// ground truth with a non-zero id (pycocotools' dtm != 0), and those at
	// which it is ignored.
	matched [][]uint64
	ignored [][]uint64
	npig    []int
	selM    []uint64
	selI    []uint64
	pr, tps []float64
}

// category evaluates and accumulates one category. gts and dts are its
// records ordered by image, and gimg, dimg their image indices.
func (w *worker) category(e *Eval, k int, gts []gtBox, gimg []int32, dts []dtBox, dimg []int32) {
	p := &e.Params
	T, A := len(p.IoUThresholds), len(p.AreaRanges)
	maxDet := p.MaxDets[len(p.MaxDets)-1]

	// Group by image: a merge of the two image-ordered lists.
	w.groups = w.groups[:0]
	for gi, di := 0, 0; gi < len(gts) || di < len(dts); {
		img := int32(math.MaxInt32)
		if gi < len(gts) {
			img = gimg[gi]
		}
		if di < len(dts) && dimg[di] < img {
			img = dimg[di]
		}
		g := group{img: img, g0: int32(gi), d0: int32(di)}
		for gi < len(gts) && gimg[gi] == img {
			gi++
		}
		for di < len(dts) && dimg[di] == img {
			di++
		}
		g.g1, g.d1 = int32(gi), int32(di)
		w.groups = append(w.groups, g)
	}

	w.entries = w.entries[:0]
	w.matched = resize2(w.matched, A)
	w.ignored = resize2(w.ignored, A)
	for a := range A {
		w.matched[a] = w.matched[a][:0]
		w.ignored[a] = w.ignored[a][:0]
	}
	w.npig = resize(w.npig, A)
	clear(w.npig)

	for _, g := range w.groups {
		gs := gts[g.g0:g.g1]
		ds := dts[g.d0:g.d1]
		// Detections by score, highest first, stable; cut at the largest
		// maxDet.
		w.order = w.order[:0]
		for i := range ds {
			w.order = append(w.order, int32(i))
		}
		slices.SortStableFunc(w.order, func(a, b int32) int { return cmp.Compare(ds[b].score, ds[a].score) })
		if len(w.order) > maxDet {
			w.order = w.order[:maxDet]
		}
		D, G := len(w.order), len(gs)
		base := int32(len(w.entries))
		for r, i := range w.order {
			w.entries = append(w.entries, detEntry{score: ds[i].score, img: g.img, rank: int32(r), idx: base + int32(r)})
		}
		// IoU of every detection with every ground truth, as maskApi's bbIou.
		w.ious = resize(w.ious, D*G)
		for d, i := range w.order {
			for j := range gs {
				w.ious[d*G+j] = boxIoU(&ds[i].box, &gs[j].box, gs[j].crowd)
			}
		}
		for a, ar := range p.AreaRanges {
			w.gtIg = resize(w.gtIg, G)
			w.gperm = w.gperm[:0]
			for j := range gs {
				ig := gs[j].crowd || gs[j].area < ar.Min || gs[j].area > ar.Max
				w.gtIg[j] = ig
				if !ig {
					w.gperm = append(w.gperm, int32(j))
					w.npig[a]++
				}
			}
			for j := range gs {
				if w.gtIg[j] {
					w.gperm = append(w.gperm, int32(j))
				}
			}
			w.match(p, ds, gs, D, G, a)
		}
	}

	// Every image's detections in the order pycocotools concatenates and
	// mergesorts them: score descending, then image, then rank.
	slices.SortFunc(w.entries, func(x, y detEntry) int {
		if c := cmp.Compare(y.score, x.score); c != 0 {
			return c
		}
		if c := cmp.Compare(x.img, y.img); c != 0 {
			return c
		}
		return cmp.Compare(x.rank, y.rank)
	})
	for a := range A {
		if len(w.groups) == 0 || w.npig[a] == 0 {
			continue
		}
		for m, md := range p.MaxDets {
			w.accumulate(e, k, a, m, md, T)
		}
	}
}

// match runs pycocotools' greedy matching of one image, category and area
// range at every IoU threshold, appending the flags of the group's
// detections to w.matched[a] and w.ignored[a].
func (w *worker) match(p *Params, ds []dtBox, gs []gtBox, D, G, a int) {
	T := len(p.IoUThresholds)
	w.gtm = resize(w.gtm, T*G)
	clear(w.gtm)
	ar := p.AreaRanges[a]
	for d, i := range w.order {
		var mbits, ibits uint64
		row := w.ious[d*G : d*G+G]
		for t, thr := range p.IoUThresholds {
			iou := min(thr, 1-1e-10)
			m := -1
			gtm := w.gtm[t*G : t*G+G]
			for pj, j := range w.gperm {
				// Skip ground truth already matched unless it is a crowd.
				if gtm[pj] && !gs[j].crowd {
					continue
				}
				// Matched to a regular object: ignored ones come after.
				if m > -1 && !w.gtIg[w.gperm[m]] && w.gtIg[j] {
					break
				}
				if row[j] < iou {
					continue
				}
				iou = row[j]
				m = pj
			}
			dtm := false
			if m > -1 {
				j := w.gperm[m]
				if w.gtIg[j] {
					ibits |= 1 << t
				}
				// pycocotools records the ground truth's id and later tests
				// it for truth, so a match to id 0 counts as no match.
				dtm = gs[j].id != 0
				if dtm {
					mbits |= 1 << t
				}
				gtm[m] = true
			}
			if !dtm && (ds[i].area < ar.Min || ds[i].area > ar.Max) {
				ibits |= 1 << t
			}
		}
		w.matched[a] = append(w.matched[a], mbits)
		w.ignored[a] = append(w.ignored[a], ibits)
	}
}

// accumulate fills precision[:, :, k, a, m] and recall[:, k, a, m].
func (w *worker) accumulate(e *Eval, k, a, m, maxDet, T int) {
	p := &e.Params
	_, R, K, A, M := e.dims()
	npig := float64(w.npig[a])
	matched, ignored := w.matched[a], w.ignored[a]
	w.selM, w.selI = w.selM[:0], w.selI[:0]
	for _, en := range w.entries {
		if int(en.rank) < maxDet {
			w.selM = append(w.selM, matched[en.idx])
			w.selI = append(w.selI, ignored[en.idx])
		}
	}
	nd := len(w.selM)
	w.pr, w.tps = resize(w.pr, nd), resize(w.tps, nd)
	pr, tps := w.pr, w.tps
	for t := range T {
		bit := uint64(1) << t
		var tp, fp float64
		last := -1.0
		for i, mb := range w.selM {
			if w.selI[i]&bit == 0 {
				if mb&bit != 0 {
					tp++
				} else {
					fp++
				}
				last = tp / (fp + tp + eps)
			} else if last < 0 {
				last = tp / (fp + tp + eps)
			}
			tps[i] = tp
			pr[i] = last
		}
		rec := 0.0
		if nd > 0 {
			rec = tp / npig
		}
		e.Recall[((t*K+k)*A+a)*M+m] = rec
		for i := nd - 1; i > 0; i-- {
			if pr[i] > pr[i-1] {
				pr[i-1] = pr[i]
			}
		}
		// numpy.searchsorted(rc, recThrs, side='left') with rc = tp/npig: the
		// first recall at or above each threshold; thresholds past the last
		// recall get 0. Recall changes only with tp, so it is divided out
		// once per value.
		i := 0
		rcTP, rc := -1.0, 0.0
		for r, thr := range p.RecallThresholds {
			for i < nd {
				if tps[i] != rcTP {
					rcTP, rc = tps[i], tps[i]/npig
				}
				if rc >= thr {
					break
				}
				i++
			}
			q := 0.0
			if i < nd {
				q = pr[i]
			}
			e.Precision[(((t*R+r)*K+k)*A+a)*M+m] = q
		}
	}
}

// eps is numpy.spacing(1).
const eps = 2.220446049250313e-16

// boxIoU is maskApi's bbIou for one pair of [x, y, w, h] boxes: for a crowd
// ground truth the union is the detection's area. The explicit conversions
// keep each product rounded as in C.
func boxIoU(d, g *[4]float64, crowd bool) float64 {
	w := math.Min(d[2]+d[0], g[2]+g[0]) - math.Max(d[0], g[0])
	if w <= 0 {
		return 0
	}
	h := math.Min(d[3]+d[1], g[3]+g[1]) - math.Max(d[1], g[1])
	if h <= 0 {
		return 0
	}
	i := float64(w * h)
	da := float64(d[2] * d[3])
	if crowd {
		return i / da
	}
	ga := float64(g[2] * g[3])
	return i / (da + ga - i)
}

func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

func resize2[T any](s [][]T, n int) [][]T {
	for len(s) < n {
		s = append(s, nil)
	}
	return s[:n]
}
