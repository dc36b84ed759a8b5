package reid

import (
	"fmt"
	"math"

	"argus/autograd"
	"argus/internal/kernels"
	"argus/tensor"
)

// TripletStats describes the hard examples a triplet loss chose, for
// diagnostics.
type TripletStats struct {
	// Active is the number of anchors whose hinge was positive.
	Active int
	// MeanPositive and MeanNegative are the means of the hardest positive
	// and negative distances.
	MeanPositive, MeanNegative float64
}

// BatchHardTriplet returns the batch-hard triplet loss of the strong
// baseline (Hermans et al.; Luo et al.'s TripletLoss with
// hard_example_mining): for each anchor i of the batch x (N×d, features
// as they are, not normalised) the hardest positive (largest distance to a
// sample of the same label, the anchor itself included) and the hardest
// negative (smallest distance to a sample of another label), on the
// Euclidean distance sqrt(max(‖a‖² + ‖b‖² − 2a·b, 1e-12)), and the mean
// over anchors of max(0, d_ap − d_an + margin), PyTorch's
// MarginRankingLoss(margin)(d_an, d_ap, 1). Ties pick the lowest index.
// Every label must have another label in the batch (a batch of one
// identity has no negatives).
func BatchHardTriplet(x *autograd.Var, labels []int, margin float32) (*autograd.Var, TripletStats, error) {
	s := x.Shape()
	if len(s) != 2 || len(labels) != s[0] || s[0] < 2 {
		return nil, TripletStats{}, fmt.Errorf("triplet loss: input %v with %d labels (want N×d, N ≥ 2)", s, len(labels))
	}
	op := &triplet{x: x, labels: labels, margin: margin}
	if err := op.mine(); err != nil {
		return nil, TripletStats{}, err
	}
	st := TripletStats{}
	for i := range labels {
		if op.active[i] {
			st.Active++
		}
		st.MeanPositive += float64(op.dap[i]) / float64(len(labels))
		st.MeanNegative += float64(op.dan[i]) / float64(len(labels))
	}
	return autograd.Apply(op), st, nil
}

// triplet is the differentiable op behind BatchHardTriplet.
type triplet struct {
	x        *autograd.Var
	labels   []int
	margin   float32
	pos, neg []int     // hardest positive and negative of each anchor
	dap, dan []float32 // their distances
	// clampP and clampN mark pairs whose squared distance was clamped,
	// whose gradient is zero.
	clampP, clampN []bool
	active         []bool
}

// mine computes the distances and picks the hard examples.
func (o *triplet) mine() error {
	n, d := o.x.Shape()[0], o.x.Shape()[1]
	xd := o.x.Value().Data()
	g := make([]float32, n*n)
	kernels.Sgemm(false, true, n, n, d, 1, xd, d, xd, d, 0, g, n)
	sq := make([]float32, n)
	for i := range n {
		var s float32
		for _, v := range xd[i*d : (i+1)*d] {
			s += v * v
		}
		sq[i] = s
	}
	o.pos, o.neg = make([]int, n), make([]int, n)
	o.dap, o.dan = make([]float32, n), make([]float32, n)
	o.clampP, o.clampN = make([]bool, n), make([]bool, n)
	o.active = make([]bool, n)
	for i := range n {
		p, q := -1, -1
		var dp, dn float32
		var cp, cn bool
		for j := range n {
			v := sq[i] + sq[j] - 2*g[i*n+j]
			clamped := !(v > 1e-12)
			if clamped {
				v = 1e-12
			}
			dist := float32(math.Sqrt(float64(v)))
			if o.labels[j] == o.labels[i] {
				if p < 0 || dist > dp {
					p, dp, cp = j, dist, clamped
				}
			} else if q < 0 || dist < dn {
				q, dn, cn = j, dist, clamped
			}
		}
		if q < 0 {
			return fmt.Errorf("triplet loss: sample %d (label %d) has no negative in the batch: every label needs another", i, o.labels[i])
		}
		o.pos[i], o.neg[i], o.dap[i], o.dan[i], o.clampP[i], o.clampN[i] = p, q, dp, dn, cp, cn
		o.active[i] = dp-dn+o.margin > 0
	}
	return nil
}

func (o *triplet) Operands() []*autograd.Var { return []*autograd.Var{o.x} }

func (o *triplet) Forward() *tensor.Tensor {
	var loss float64
	for i := range o.labels {
		if o.active[i] {
			loss += float64(o.dap[i] - o.dan[i] + o.margin)
		}
	}
	return tensor.Scalar(float32(loss / float64(len(o.labels))))
}

func (o *triplet) Backward(g *tensor.Tensor) []*tensor.Tensor {
	n, d := o.x.Shape()[0], o.x.Shape()[1]
	xd := o.x.Value().Data()
	gx := tensor.Zeros(n, d)
	gd := gx.Data()
	scale := g.Data()[0] / float32(n)
	// pull adds sign·scale·∂dist(i, j)/∂x to the gradients of i and j:
	// ∂dist/∂x_i = (x_i − x_j)/dist, and the opposite for x_j.
	pull := func(i, j int, dist float32, clamped bool, sign float32) {
		if clamped || i == j {
			return
		}
		c := sign * scale / dist
		xi, xj := xd[i*d:(i+1)*d], xd[j*d:(j+1)*d]
		gi, gj := gd[i*d:(i+1)*d], gd[j*d:(j+1)*d]
		for k := range xi {
			v := c * (xi[k] - xj[k])
			gi[k] += v
			gj[k] -= v
		}
	}
	for i := range n {
		if !o.active[i] {
			continue
		}
		pull(i, o.pos[i], o.dap[i], o.clampP[i], 1)
		pull(i, o.neg[i], o.dan[i], o.clampN[i], -1)
	}
	return []*tensor.Tensor{gx}
}
