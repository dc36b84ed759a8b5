package assign

import (
	"fmt"
	"math"
)

// DynamicK returns OTA's number of positives for each of the g ground truths
// from their IoUs with n predictions (a g x n matrix): max(1, floor(sum of the
// q largest IoUs)). OTA uses q = 20 and SimOTA q = 10; q is capped at n.
func DynamicK(ious []float64, g, n, q int) []int {
	if len(ious) != g*n {
		panic(fmt.Sprintf("assign: %d IoUs for a %dx%d matrix", len(ious), g, n))
	}
	q = min(q, n)
	ks := make([]int, g)
	for i := range g {
		row := ious[i*n : i*n+n]
		// The q largest, summed from the largest down.
		var s float64
		for _, j := range FirstK(0, n, q, func(a, b int) bool { return row[a] > row[b] }) {
			s += row[j]
		}
		ks[i] = max(1, int(s))
	}
	return ks
}

// StageK is Dynamic Sparse R-CNN's per-stage number of positives per ground
// truth: maxK - step*(stages - stage) for stage 1..stages, growing over the
// stages as the proposals improve (K = 3, step = 0.5, 6 stages give 0.5, 1,
// ..., 3).
func StageK(stage, stages int, maxK, step float64) float64 {
	return maxK - step*float64(stages-stage)
}

// Transport assigns n predictions by optimal transport. cost is a (g+1) x n
// matrix: rows 0..g-1 are the ground truths, row g the background. Ground
// truth i supplies k[i] units, the background the remaining n - sum(k), and
// every prediction demands one. The plan is rescaled so each row's maximum
// is 1 and each prediction goes to the row with the largest entry in its
// column (the first on ties): assigned[j] is a ground-truth index, or -1 for
// background. It also returns the plan.
func Transport(cost []float64, g, n int, k []float64, s Sinkhorn) (assigned []int, plan []float64, err error) {
	if len(k) != g {
		return nil, nil, fmt.Errorf("assign: %d supplies for %d ground truths", len(k), g)
	}
	supply := make([]float64, g+1)
	var total float64
	for i, v := range k {
		supply[i] = v
		total += v
	}
	supply[g] = float64(n) - total
	if !(supply[g] > 0) {
		return nil, nil, fmt.Errorf("assign: ground truths supply %v units but there are only %d predictions; lower k", total, n)
	}
	demand := make([]float64, n)
	for j := range demand {
		demand[j] = 1
	}
	plan, _, err = s.Plan(cost, g+1, n, supply, demand)
	if err != nil {
		return nil, nil, err
	}
	return ArgmaxRescaled(plan, g+1, n), plan, nil
}

// ArgmaxRescaled divides each row of the rows x n plan by its maximum and
// returns, for each column, the row of the largest value (first on ties),
// with the last row (background) reported as -1.
func ArgmaxRescaled(plan []float64, rows, n int) []int {
	scale := make([]float64, rows)
	for i := range rows {
		m := math.Inf(-1)
		for _, v := range plan[i*n : i*n+n] {
			m = max(m, v)
		}
		scale[i] = m
	}
	out := make([]int, n)
	for j := range n {
		best, arg := math.Inf(-1), 0
		for i := range rows {
			if v := plan[i*n+j] / scale[i]; v > best {
				best, arg = v, i
			}
		}
		if arg == rows-1 {
			arg = -1
		}
		out[j] = arg
	}
	return out
}

// SimOTA assigns n predictions to g ground truths as YOLOX's SimOTA: each
// ground truth takes its k cheapest predictions (k from DynamicK with q top
// IoUs; ties by index), and a prediction taken by several goes to the ground
// truth of least cost for it. cost and ious are g x n. assigned[j] is a
// ground-truth index or -1; ks are the dynamic k. NaN or infinite costs are
// refused.
func SimOTA(cost, ious []float64, g, n, q int) (assigned, ks []int, err error) {
	if err := CheckFinite(cost, g, n); err != nil {
		return nil, nil, err
	}
	if len(ious) != g*n {
		return nil, nil, fmt.Errorf("assign: %d IoUs for a %dx%d matrix", len(ious), g, n)
	}
	ks = DynamicK(ious, g, n, q)
	assigned, err = Cheapest(cost, g, n, ks)
	return assigned, ks, err
}

// Cheapest is SimOTA's selection for given numbers of positives: ground
// truth i takes its ks[i] cheapest predictions of the g x n cost (ties by
// index), and a prediction taken by several goes to the ground truth of
// least cost for it among all g (the first on ties), as YOLOX resolves
// them. assigned[j] is a ground-truth
// index or -1. NaN or infinite costs are refused.
func Cheapest(cost []float64, g, n int, ks []int) (assigned []int, err error) {
	if err := CheckFinite(cost, g, n); err != nil {
		return nil, err
	}
	if len(ks) != g {
		return nil, fmt.Errorf("assign: %d numbers of positives for %d ground truths", len(ks), g)
	}
	count := make([]int, n)
	owner := make([]int, n)
	for j := range owner {
		owner[j] = -1
	}
	for i := range g {
		row := cost[i*n : i*n+n]
		for _, j := range FirstK(0, n, ks[i], func(a, b int) bool { return row[a] < row[b] }) {
			count[j]++
			owner[j] = i
		}
	}
	for j := range n {
		if count[j] > 1 {
			best := 0
			for i := 1; i < g; i++ {
				if cost[i*n+j] < cost[best*n+j] {
					best = i
				}
			}
			owner[j] = best
		}
	}
	return owner, nil
}

// FirstK returns the k first indices of [lo, hi) in the order less gives,
// ties by index (as a stable sort would give them), in that order, in
// O((hi−lo)·k) time.
func FirstK(lo, hi, k int, less func(a, b int) bool) []int {
	k = min(k, hi-lo)
	if k <= 0 {
		return nil
	}
	out := make([]int, 0, k)
	for j := lo; j < hi; j++ {
		if len(out) == k && !less(j, out[k-1]) {
			continue
		}
		// Insert after every kept index not after j: j comes later than
		// all of them, so equal ones stay before it.
		at := len(out)
		for at > 0 && less(j, out[at-1]) {
			at--
		}
		if len(out) < k {
			out = append(out, 0)
		}
		copy(out[at+1:], out[at:len(out)-1])
		out[at] = j
	}
	return out
}
