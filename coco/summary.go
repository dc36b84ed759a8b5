package coco

import (
	"fmt"
	"io"
	"strings"
)

// Summary is the 12 numbers of pycocotools' summarize() for boxes. A value
// of -1 means no ground truth in that setting.
type Summary struct {
	AP    float64 `json:"AP"`
	AP50  float64 `json:"AP50"`
	AP75  float64 `json:"AP75"`
	APs   float64 `json:"APs"`
	APm   float64 `json:"APm"`
	APl   float64 `json:"APl"`
	AR1   float64 `json:"AR1"`
	AR10  float64 `json:"AR10"`
	AR100 float64 `json:"AR100"`
	ARs   float64 `json:"ARs"`
	ARm   float64 `json:"ARm"`
	ARl   float64 `json:"ARl"`
}

// Values returns the numbers in pycocotools' stats order.
func (s Summary) Values() [12]float64 {
	return [12]float64{s.AP, s.AP50, s.AP75, s.APs, s.APm, s.APl, s.AR1, s.AR10, s.AR100, s.ARs, s.ARm, s.ARl}
}

// statLine describes one of the 12 numbers as summarize() does.
type statLine struct {
	ap      bool
	iou     float64 // 0 for the mean over thresholds
	area    string
	maxDets int
}

// lines returns the 12 settings of summarize() for the parameters' maxDets,
// which must have at least three entries.
func (e *Eval) lines() []statLine {
	md := e.Params.MaxDets
	last := md[len(md)-1]
	at := func(i int) int {
		if i < len(md) {
			return md[i]
		}
		return last
	}
	return []statLine{
		{true, 0, "all", 100}, {true, .5, "all", at(2)}, {true, .75, "all", at(2)},
		{true, 0, "small", at(2)}, {true, 0, "medium", at(2)}, {true, 0, "large", at(2)},
		{false, 0, "all", at(0)}, {false, 0, "all", at(1)}, {false, 0, "all", at(2)},
		{false, 0, "small", at(2)}, {false, 0, "medium", at(2)}, {false, 0, "large", at(2)},
	}
}

// stat computes one summary number: the mean of the entries above -1 of the
// selected slice of precision or recall, as summarize()'s _summarize.
func (e *Eval) stat(l statLine) float64 {
	T, R, K, A, M := e.dims()
	a := -1
	for i, ar := range e.Params.AreaRanges {
		if ar.Label == l.area {
			a = i
		}
	}
	m := -1
	for i, v := range e.Params.MaxDets {
		if v == l.maxDets {
			m = i
		}
	}
	if a < 0 || m < 0 {
		return -1
	}
	var vals []float64
	for t := range T {
		if l.iou != 0 && e.Params.IoUThresholds[t] != l.iou {
			continue
		}
		if l.ap {
			for r := range R {
				for k := range K {
					if v := e.Precision[(((t*R+r)*K+k)*A+a)*M+m]; v > -1 {
						vals = append(vals, v)
					}
				}
			}
		} else {
			for k := range K {
				if v := e.Recall[((t*K+k)*A+a)*M+m]; v > -1 {
					vals = append(vals, v)
				}
			}
		}
	}
	return mean(vals)
}

// Summary returns the 12 summary numbers.
func (e *Eval) Summary() Summary {
	var v [12]float64
	for i, l := range e.lines() {
		v[i] = e.stat(l)
	}
	return Summary{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11]}
}

// CategoryAP returns the AP of category index k (area "all", the largest
// maxDets, mean over IoU thresholds and recall points), or -1 when the
// category has no ground truth.
func (e *Eval) CategoryAP(k int) float64 {
	T, R, K, A, M := e.dims()
	var vals []float64
	m := M - 1
	a := 0
	for t := range T {
		for r := range R {
			if v := e.Precision[(((t*R+r)*K+k)*A+a)*M+m]; v > -1 {
				vals = append(vals, v)
			}
		}
	}
	return mean(vals)
}

// PRCurve returns precision at each recall threshold for IoU threshold
// index t, category index k (or the mean over categories with ground truth
// when k < 0), area "all" and the largest maxDets.
func (e *Eval) PRCurve(t, k int) []float64 {
	_, R, K, A, M := e.dims()
	out := make([]float64, R)
	for r := range R {
		if k >= 0 {
			out[r] = e.Precision[(((t*R+r)*K+k)*A+0)*M+M-1]
			continue
		}
		var vals []float64
		for kk := range K {
			if v := e.Precision[(((t*R+r)*K+kk)*A+0)*M+M-1]; v > -1 {
				vals = append(vals, v)
			}
		}
		out[r] = mean(vals)
	}
	return out
}

// mean is numpy's mean of a 1-d float64 array (pairwise summation), or -1
// for an empty one as summarize() returns.
func mean(v []float64) float64 {
	if len(v) == 0 {
		return -1
	}
	return pairwiseSum(v) / float64(len(v))
}

// pairwiseSum adds as numpy's pairwise_sum does, so means agree with
// numpy's to the last bit in practice.
func pairwiseSum(a []float64) float64 {
	n := len(a)
	switch {
	case n < 8:
		res := 0.0
		for _, v := range a {
			res += v
		}
		return res
	case n <= 128:
		var r [8]float64
		copy(r[:], a[:8])
		i := 8
		for ; i < n-n%8; i += 8 {
			for j := range 8 {
				r[j] += a[i+j]
			}
		}
		res := ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
		for ; i < n; i++ {
			res += a[i]
		}
		return res
	default:
		n2 := n / 2
		n2 -= n2 % 8
		return pairwiseSum(a[:n2]) + pairwiseSum(a[n2:])
	}
}

// WriteSummary prints the 12 lines of pycocotools' summarize().
func (e *Eval) WriteSummary(w io.Writer) error {
	s := e.Summary().Values()
	p := e.Params
	var b strings.Builder
	for i, l := range e.lines() {
		title, typ := "Average Precision", "(AP)"
		if !l.ap {
			title, typ = "Average Recall", "(AR)"
		}
		iou := fmt.Sprintf("%0.2f:%0.2f", p.IoUThresholds[0], p.IoUThresholds[len(p.IoUThresholds)-1])
		if l.iou != 0 {
			iou = fmt.Sprintf("%0.2f", l.iou)
		}
		fmt.Fprintf(&b, " %-18s %s @[ IoU=%-9s | area=%6s | maxDets=%3d ] = %0.3f\n", title, typ, iou, l.area, l.maxDets, s[i])
	}
	_, err := io.WriteString(w, b.String())
	return err
}
