// Package reid holds the parts of person re-identification that stand
// apart from any model: distances between feature sets, the Market-1501
// evaluation protocol (CMC, mAP, mINP) exactly as torchreid computes it,
// and the cluster memory of cluster-wise contrastive learning. The
// Market-1501, DukeMTMC-reID and MSMT17 readers are data/dataset's.
package reid

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"argus/internal/par"
)

// DefaultMaxRank is the CMC length torchreid reports.
const DefaultMaxRank = 50

// Result holds the Market-1501 protocol's numbers.
type Result struct {
	// MAP is the mean over valid queries of the average precision, in
	// float64 as the reference keeps it.
	MAP float64
	// MINP is the mean inverse negative penalty: the mean over valid queries
	// of (number of true matches) / (rank of the last true match).
	MINP float64
	// CMC[r] is the fraction of valid queries whose first true match is at
	// rank r+1 or better, in float32 as the reference keeps it.
	CMC []float32
	// Valid is the number of queries with at least one true match.
	Valid int
}

// ErrNoValidQuery reports that no query had a true match left in the gallery.
var ErrNoValidQuery = errors.New("no query has a true match in the gallery")

// Evaluate runs torchreid's eval_market1501 on the nq×ng distance matrix
// dist (row-major, query by gallery). For each query, gallery items with the
// same pid and the same camera are removed; a true match is an item with the
// same pid from another camera; queries without one are skipped. When the
// gallery is smaller than maxRank the CMC is cut to the gallery size, as in
// the reference.
//
// The reference sorts each row fully with numpy.argsort. Evaluate sorts
// nothing when no kept non-match ties a match in distance, because then the
// ranks of the matches follow from counting, and falls back to a replica of
// numpy's argsort for rows with such ties, so the numbers agree in both cases.
// Queries run in parallel.
func Evaluate(dist []float32, qPids, gPids, qCams, gCams []int, maxRank int) (Result, error) {
	nq, ng := len(qPids), len(gPids)
	if len(qCams) != nq || len(gCams) != ng {
		return Result{}, fmt.Errorf("evaluate: %d query pids but %d camids, %d gallery pids but %d camids", nq, len(qCams), ng, len(gCams))
	}
	if len(dist) != nq*ng {
		return Result{}, fmt.Errorf("evaluate: distance matrix has %d entries, want %d×%d", len(dist), nq, ng)
	}
	if maxRank < 1 {
		return Result{}, fmt.Errorf("evaluate: max rank %d < 1", maxRank)
	}
	maxRank = min(maxRank, ng)

	res := make([]queryEval, nq)
	par.For(nq, 8, func(q int) {
		res[q] = evalQuery(dist[q*ng:(q+1)*ng], qPids[q], qCams[q], gPids, gCams)
	})

	counts := make([]int, maxRank)
	var aps, inps []float64
	for _, r := range res {
		if !r.valid {
			continue
		}
		if r.first < maxRank {
			counts[r.first]++
		}
		aps = append(aps, r.ap)
		inps = append(inps, r.inp)
	}
	if len(aps) == 0 {
		return Result{}, ErrNoValidQuery
	}
	out := Result{CMC: make([]float32, maxRank), Valid: len(aps)}
	cum := 0
	for r, c := range counts {
		cum += c
		out.CMC[r] = float32(cum) / float32(len(aps))
	}
	out.MAP = pairwiseMean(aps)
	out.MINP = pairwiseMean(inps)
	return out, nil
}

type queryEval struct {
	valid   bool
	first   int
	ap, inp float64
}

// evalQuery scores one query row.
func evalQuery(row []float32, pid, cam int, gPids, gCams []int) queryEval {
	var pos []float32
	for j, p := range gPids {
		if p == pid && gCams[j] != cam {
			pos = append(pos, row[j])
		}
	}
	if len(pos) == 0 {
		return queryEval{}
	}
	slices.Sort(pos)
	if pos[0] != pos[0] || pos[len(pos)-1] != pos[len(pos)-1] {
		return evalQuerySorted(row, pid, cam, gPids, gCams)
	}
	// before[k] counts kept non-matches whose distance falls between match
	// k-1 and match k; a kept non-match tied with a match needs the
	// reference's sort order.
	before := make([]int, len(pos)+1)
	last := pos[len(pos)-1]
	for j, d := range row {
		if gPids[j] == pid {
			continue // a match, or removed
		}
		if d != d {
			return evalQuerySorted(row, pid, cam, gPids, gCams)
		}
		if d > last {
			continue
		}
		// The first match not closer than d, by a branch-free binary
		// search (pos is short and d random, so branches mispredict).
		k, n := 0, len(pos)
		for n > 1 {
			h := n >> 1
			if pos[k+h] < d {
				k += h
			}
			n -= h
		}
		if pos[k] < d {
			k++
		}
		if pos[k] == d {
			return evalQuerySorted(row, pid, cam, gPids, gCams)
		}
		before[k]++
	}
	ranks := make([]int, len(pos))
	neg := 0
	for k := range pos {
		neg += before[k]
		ranks[k] = k + neg
	}
	return scoreRanks(ranks)
}

// evalQuerySorted is the reference's loop over a fully sorted row.
func evalQuerySorted(row []float32, pid, cam int, gPids, gCams []int) queryEval {
	order := Argsort(row)
	var ranks []int
	kept := 0
	for _, j := range order {
		if gPids[j] == pid && gCams[j] == cam {
			continue
		}
		if gPids[j] == pid {
			ranks = append(ranks, kept)
		}
		kept++
	}
	if len(ranks) == 0 {
		return queryEval{}
	}
	return scoreRanks(ranks)
}

// scoreRanks turns the 0-based ranks of the matches among kept gallery items
// into AP and INP the way the reference does: precision (k+1)/(rank+1) at
// each hit, summed, divided by the number of hits. The reference sums a whole
// row of mostly zeros pairwise, so the two sums may differ in the last bit.
func scoreRanks(ranks []int) queryEval {
	terms := make([]float64, len(ranks))
	for k, r := range ranks {
		terms[k] = float64(k+1) / (float64(r) + 1)
	}
	n := float64(len(ranks))
	return queryEval{
		valid: true,
		first: ranks[0],
		ap:    PairwiseSum(terms) / n,
		inp:   n / (float64(ranks[len(ranks)-1]) + 1),
	}
}

// PairwiseSum adds in the pattern of numpy's pairwise summation (eight
// accumulators up to 128 elements, halves above), which keeps the rounding
// of long sums identical to the reference's, in float32 and float64 alike.
func PairwiseSum[F float32 | float64](a []F) F {
	n := len(a)
	switch {
	case n < 8:
		var s F
		for _, v := range a {
			s += v
		}
		return s
	case n <= 128:
		var r [8]F
		copy(r[:], a[:8])
		i := 8
		for ; i < n-n%8; i += 8 {
			for k := 0; k < 8; k++ {
				r[k] += a[i+k]
			}
		}
		s := (r[0] + r[1]) + (r[2] + r[3]) + ((r[4] + r[5]) + (r[6] + r[7]))
		for ; i < n; i++ {
			s += a[i]
		}
		return s
	default:
		m := n / 2
		m -= m % 8
		return PairwiseSum(a[:m]) + PairwiseSum(a[m:])
	}
}

func pairwiseMean(a []float64) float64 {
	if len(a) == 0 {
		return math.NaN()
	}
	return PairwiseSum(a) / float64(len(a))
}
