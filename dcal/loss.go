package dcal

import (
	"fmt"
	"math"

	"argus/autograd"
	"argus/tensor"
)

// Uncertainty returns the terms of the uncertainty-weighted sum of the
// branches' losses in FairMOT's form, 0.5·(exp(−s_i)·L_i + s_i) for each
// loss L_i and its learnable weight s_i (s is a vector of len(losses)
// values); the loss is their sum, which may be negative.
func Uncertainty(losses []*autograd.Var, s *autograd.Var) []*autograd.Var {
	if sh := s.Shape(); len(sh) != 1 || sh[0] != len(losses) {
		panic(fmt.Sprintf("dcal: %d losses with uncertainty weights %v", len(losses), sh))
	}
	out := make([]*autograd.Var, len(losses))
	for i, l := range losses {
		si := autograd.Reshape(autograd.Slice(s, 0, i, i+1))
		out[i] = autograd.Scale(autograd.Add(autograd.Mul(autograd.Exp(autograd.Neg(si)), l), si), 0.5)
	}
	return out
}

// Partners draws PWCA's second image for each of the n images of a batch:
// another image of the same batch, uniformly among the n−1 others (the
// batch is a uniform draw from the training set, so the partner is a
// random training image other than the first); with n = 1 the image is its
// own partner.
func Partners(rng *tensor.RNG, n int) []int {
	out := make([]int, n)
	if n < 2 {
		return out
	}
	r := rng.Rand()
	for i := range out {
		out[i] = (i + 1 + r.IntN(n-1)) % n
	}
	return out
}

// Queries returns the number of patches whose queries GLCA keeps for a
// ratio of the patch tokens: ratio·patches rounded to the nearest whole
// number, at least 1 and at most patches.
func Queries(patches int, ratio float64) int {
	return min(max(int(math.Round(ratio*float64(patches))), 1), patches)
}
