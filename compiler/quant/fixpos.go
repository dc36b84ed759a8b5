package quant

import (
	"math"
	"slices"

	"argus/dpu/ref"
	"argus/internal/par"
)

// Bits is the width of every quantised tensor.
const Bits = 8

// ZeroPos is the fix position of a tensor that holds only zeros, as the
// Vitis AI quantiser gives it: any position represents it exactly, and 18
// is the one its calibration reports.
const ZeroPos = 18

// searchWidth is how many positions above the max-abs position the MSE
// search tries (p0 … p0+searchWidth-1).
const searchWidth = 5

// The rounding modes of the two kinds of tensor: activations round halves
// toward +inf as the DPU's shifts do, weights and biases (rounded once, by
// the quantiser) halves away from zero.
const (
	RoundActivation = ref.RoundDPU
	RoundParam      = ref.RoundStandard
)

// Fix returns v on the fixed-point grid of position pos as an int8:
// clamp(round(v·2^pos), −128, 127) with the rounding mode (one of dpu/ref's
// Round modes). Its real value is Fix(v)·2^−pos.
func Fix(v float64, pos, mode int) int8 { return fixScaled(v*math.Exp2(float64(pos)), mode) }

// fixScaled rounds and saturates a value already multiplied by 2^pos.
func fixScaled(v float64, mode int) int8 {
	return int8(min(max(ref.RoundFloat(v, mode), -128), 127))
}

// MaxAbsPos returns the position the value range of x gives before the
// search: with step = max(xmin/(−2^(b−1)−0.5), xmax/(2^(b−1)−0.5)), p0 =
// floor(log2(1/step)), the finest grid on which the extremes round into
// [−128, 127]. A tensor with no value other than zero gets ZeroPos.
func MaxAbsPos(x []float32) int {
	lo, hi := 0.0, 0.0
	for _, v := range x {
		lo = min(lo, float64(v))
		hi = max(hi, float64(v))
	}
	lim := math.Exp2(Bits - 1)
	step := max(lo/(-lim-0.5), hi/(lim-0.5))
	if step == 0 || math.IsNaN(step) || math.IsInf(step, 0) {
		return ZeroPos
	}
	return int(math.Floor(math.Log2(1 / step)))
}

// SquaredError returns Σ (Fix(x, pos, mode)·2^−pos − x)², the error the
// position search minimises.
func SquaredError(x []float32, pos, mode int) float64 {
	scale, inv := math.Exp2(float64(pos)), math.Exp2(-float64(pos))
	var e float64
	for _, v := range x {
		d := float64(fixScaled(float64(v)*scale, mode))*inv - float64(v)
		e += d * d
	}
	return e
}

// Position returns the fix position of x: MaxAbsPos refined by the search
// over p0 … p0+4 for the least SquaredError with the rounding mode, the
// first (coarsest) position winning a tie, as the quantiser's strict
// comparison does. A finer position clips the extremes but rounds the many
// small values better, which the search weighs. An all-zero tensor keeps
// ZeroPos.
func Position(x []float32, mode int) int {
	p0 := MaxAbsPos(x)
	if p0 == ZeroPos && allZero(x) {
		return ZeroPos
	}
	var errs [searchWidth]float64
	par.For(searchWidth, 1, func(i int) { errs[i] = SquaredError(x, p0+i, mode) })
	best, bestErr := p0, math.Inf(1)
	for i, e := range errs {
		if e < bestErr {
			best, bestErr = p0+i, e
		}
	}
	return best
}

func allZero(x []float32) bool {
	for _, v := range x {
		if v != 0 {
			return false
		}
	}
	return true
}

// Mode returns the most frequent of the per-batch positions ps, the
// position the quantiser keeps for an activation. A tie goes to the lowest
// of the tied positions: the coarser grid clips less of the batches that
// voted otherwise. It returns ZeroPos for no positions.
func Mode(ps []int) int {
	if len(ps) == 0 {
		return ZeroPos
	}
	s := slices.Clone(ps)
	slices.Sort(s)
	best, bestN := s[0], 0
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && s[j] == s[i] {
			j++
		}
		if j-i > bestN {
			best, bestN = s[i], j-i
		}
		i = j
	}
	return best
}
