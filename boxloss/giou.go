// Package boxloss holds differentiable box regression losses on the
// engine's tensors.
package boxloss

import (
	"fmt"

	"argus/autograd"
	"argus/tensor"
)

// Reduction says how per-box losses are combined.
type Reduction int

const (
	// None returns one loss per box, shape (n).
	None Reduction = iota
	// Mean returns the mean over boxes, shape ().
	Mean
	// Sum returns the sum over boxes, shape ().
	Sum
)

// eps is torchvision's default guard against empty unions and enclosures.
const eps = 1e-7

// GIoU returns the generalized IoU loss 1 - GIoU between matching rows of
// pred and target, both (n, 4) xyxy boxes, as torchvision's
// generalized_box_iou_loss. Gradients flow to both operands; at equal
// coordinates inside min and max the gradient is split in half, as in torch.
// It panics on shapes other than (n, 4), a programmer error.
func GIoU(pred, target *autograd.Var, r Reduction) *autograd.Var {
	ps, ts := pred.Shape(), target.Shape()
	if len(ps) != 2 || ps[1] != 4 || !tensor.EqualShapes(ps, ts) {
		panic(fmt.Sprintf("boxloss: GIoU of shapes %v and %v, want (n, 4) twice", ps, ts))
	}
	return autograd.Apply(&giouOp{pred: pred, target: target, red: r})
}

type giouOp struct {
	pred, target *autograd.Var
	red          Reduction
}

func (o *giouOp) Operands() []*autograd.Var { return []*autograd.Var{o.pred, o.target} }

func (o *giouOp) Forward() *tensor.Tensor {
	p, t := o.pred.Value().Data(), o.target.Value().Data()
	n := len(p) / 4
	loss := make([]float32, n)
	var sum float64
	for i := range n {
		l := giouTerms(p[4*i:4*i+4], t[4*i:4*i+4]).loss
		loss[i] = float32(l)
		sum += float64(loss[i])
	}
	switch o.red {
	case Mean:
		if n == 0 {
			return tensor.Scalar(0)
		}
		return tensor.Scalar(float32(sum / float64(n)))
	case Sum:
		return tensor.Scalar(float32(sum))
	}
	return tensor.FromSlice(loss, n)
}

func (o *giouOp) Backward(g *tensor.Tensor) []*tensor.Tensor {
	p, t := o.pred.Value().Data(), o.target.Value().Data()
	n := len(p) / 4
	gp, gt := tensor.Zeros(n, 4), tensor.Zeros(n, 4)
	gpd, gtd := gp.Data(), gt.Data()
	gd := g.Data()
	for i := range n {
		var gi float64
		switch o.red {
		case None:
			gi = float64(gd[i])
		case Mean:
			gi = float64(gd[0]) / float64(n)
		case Sum:
			gi = float64(gd[0])
		}
		var dp, dt [4]float64
		s := giouTerms(p[4*i:4*i+4], t[4*i:4*i+4])
		s.grad(gi, &dp, &dt)
		for j := range 4 {
			gpd[4*i+j] = float32(dp[j])
			gtd[4*i+j] = float32(dt[j])
		}
	}
	return []*tensor.Tensor{gp, gt}
}

// terms are the intermediate values of one box pair's loss.
type terms struct {
	a, b           [4]float64 // pred and target, xyxy
	ix1, iy1       float64    // intersection corners
	ix2, iy2       float64
	overlap        bool
	inter, union   float64
	cx1, cy1       float64 // enclosing box corners
	cx2, cy2, area float64
	loss           float64
}

func giouTerms(p, t []float32) terms {
	var s terms
	for j := range 4 {
		s.a[j], s.b[j] = float64(p[j]), float64(t[j])
	}
	a, b := &s.a, &s.b
	s.ix1, s.iy1 = max(a[0], b[0]), max(a[1], b[1])
	s.ix2, s.iy2 = min(a[2], b[2]), min(a[3], b[3])
	s.overlap = s.iy2 > s.iy1 && s.ix2 > s.ix1
	if s.overlap {
		s.inter = (s.ix2 - s.ix1) * (s.iy2 - s.iy1)
	}
	s.union = (a[2]-a[0])*(a[3]-a[1]) + (b[2]-b[0])*(b[3]-b[1]) - s.inter
	s.cx1, s.cy1 = min(a[0], b[0]), min(a[1], b[1])
	s.cx2, s.cy2 = max(a[2], b[2]), max(a[3], b[3])
	s.area = (s.cx2 - s.cx1) * (s.cy2 - s.cy1)
	s.loss = 1 - (s.inter/(s.union+eps) - (s.area-s.union)/(s.area+eps))
	return s
}

// route sends gradient g of max(x, y) (or min) to x and y: to the one
// selected, half each on a tie.
func route(g, x, y float64, pickX bool, dx, dy *float64) {
	switch {
	case x == y:
		*dx += g / 2
		*dy += g / 2
	case pickX:
		*dx += g
	default:
		*dy += g
	}
}

// grad adds the gradient of g*loss with respect to both boxes to dp and dt.
func (s *terms) grad(g float64, dp, dt *[4]float64) {
	a, b := &s.a, &s.b
	ue, ce := s.union+eps, s.area+eps
	// loss = 1 - I/(U+eps) + (C-U)/(C+eps)
	gU := g * (s.inter/(ue*ue) - 1/ce)
	gI := g*(-1/ue) - gU // U = A1 + A2 - I
	gC := g * ue / (ce * ce)
	// U through the two areas.
	dp[0] -= gU * (a[3] - a[1])
	dp[2] += gU * (a[3] - a[1])
	dp[1] -= gU * (a[2] - a[0])
	dp[3] += gU * (a[2] - a[0])
	dt[0] -= gU * (b[3] - b[1])
	dt[2] += gU * (b[3] - b[1])
	dt[1] -= gU * (b[2] - b[0])
	dt[3] += gU * (b[2] - b[0])
	if s.overlap {
		h, w := s.iy2-s.iy1, s.ix2-s.ix1
		route(-gI*h, a[0], b[0], a[0] > b[0], &dp[0], &dt[0])
		route(gI*h, a[2], b[2], a[2] < b[2], &dp[2], &dt[2])
		route(-gI*w, a[1], b[1], a[1] > b[1], &dp[1], &dt[1])
		route(gI*w, a[3], b[3], a[3] < b[3], &dp[3], &dt[3])
	}
	h, w := s.cy2-s.cy1, s.cx2-s.cx1
	route(-gC*h, a[0], b[0], a[0] < b[0], &dp[0], &dt[0])
	route(gC*h, a[2], b[2], a[2] > b[2], &dp[2], &dt[2])
	route(-gC*w, a[1], b[1], a[1] < b[1], &dp[1], &dt[1])
	route(gC*w, a[3], b[3], a[3] > b[3], &dp[3], &dt[3])
}
