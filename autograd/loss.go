package autograd

import (
	"fmt"
	"math"

	"argus/tensor"
)

// reduce combines per-element losses as red says.
func reduce(v *Var, red Reduction) *Var {
	switch red {
	case ReduceMean:
		return Mean(v)
	case ReduceSum:
		return Sum(v)
	case ReduceNone:
		return v
	}
	panic(fmt.Sprintf("autograd: unknown reduction %d", red))
}

// L1Loss returns the reduced absolute difference |x − y|.
func L1Loss(x, y *Var, red Reduction) *Var { return reduce(Abs(Sub(x, y)), red) }

// MSELoss returns the reduced squared difference (x − y)².
func MSELoss(x, y *Var, red Reduction) *Var { return reduce(Pow(Sub(x, y), 2), red) }

// SmoothL1Loss returns the reduced Huber-style loss of d = x − y:
// 0.5·d²/beta where |d| < beta and |d| − 0.5·beta elsewhere, as
// torch.nn.functional.smooth_l1_loss; beta 0 gives the L1 loss.
func SmoothL1Loss(x, y *Var, beta float32, red Reduction) *Var {
	if beta < 0 {
		panic(fmt.Sprintf("autograd: SmoothL1Loss with negative beta %v", beta))
	}
	d := Sub(x, y)
	if beta == 0 {
		return reduce(Abs(d), red)
	}
	l := unary(d, Description{Kind: "SmoothL1", Attrs: map[string]any{"beta": beta}},
		func(x, y []float32) {
			for i, v := range x {
				a := float32(math.Abs(float64(v)))
				if a < beta {
					y[i] = 0.5 * v * v / beta
				} else {
					y[i] = a - 0.5*beta
				}
			}
		},
		func(x, _, g, gx []float32) {
			for i, v := range x {
				switch {
				case v <= -beta:
					gx[i] = -g[i]
				case v >= beta:
					gx[i] = g[i]
				default:
					gx[i] = g[i] * v / beta
				}
			}
		})
	return reduce(l, red)
}

// BCEOptions configures BCEWithLogits. The zero value is PyTorch's default.
type BCEOptions struct {
	// Weight rescales each element's loss; it broadcasts to the input.
	Weight *tensor.Tensor
	// PosWeight multiplies the positive term; it broadcasts to the input,
	// typically one value per class along the last axis.
	PosWeight *tensor.Tensor
	Reduction Reduction
}

// BCEWithLogits returns the binary cross-entropy of sigmoid(x) against
// targets y in [0, 1] (same shape as x), computed stably from the logits as
// torch.nn.functional.binary_cross_entropy_with_logits:
// −w·[p·y·log σ(x) + (1−y)·log(1−σ(x))] with p the positive weight.
func BCEWithLogits(x *Var, y *tensor.Tensor, opt BCEOptions) *Var {
	s := x.Shape()
	if !tensor.EqualShapes(s, y.Shape()) {
		panic(fmt.Sprintf("autograd: BCEWithLogits of %v against targets %v", s, y.Shape()))
	}
	op := &bceOp{x: x, y: y}
	if opt.Weight != nil {
		op.w = tensor.BroadcastTo(opt.Weight, s).Data()
	}
	if opt.PosWeight != nil {
		op.pw = tensor.BroadcastTo(opt.PosWeight, s).Data()
	}
	return reduce(Apply(op), opt.Reduction)
}

type bceOp struct {
	x     *Var
	y     *tensor.Tensor
	w, pw []float32
}

func (o *bceOp) Operands() []*Var { return []*Var{o.x} }

func (o *bceOp) Forward() *tensor.Tensor {
	out := tensor.Zeros(o.x.Shape()...)
	od, yd := out.Data(), o.y.Data()
	for i, v := range o.x.value.Data() {
		x, y := float64(v), float64(yd[i])
		// log(1 + e^-x) computed without overflow.
		sp := math.Log1p(math.Exp(-math.Abs(x))) + math.Max(-x, 0)
		lw := 1.0
		if o.pw != nil {
			lw = 1 + (float64(o.pw[i])-1)*y
		}
		l := (1-y)*x + lw*sp
		if o.w != nil {
			l *= float64(o.w[i])
		}
		od[i] = float32(l)
	}
	return out
}

func (o *bceOp) Backward(g *tensor.Tensor) []*tensor.Tensor {
	gx := tensor.Zeros(o.x.Shape()...)
	gxd, yd, gd := gx.Data(), o.y.Data(), g.Data()
	for i, v := range o.x.value.Data() {
		y := yd[i]
		lw := float32(1)
		if o.pw != nil {
			lw = 1 + (o.pw[i]-1)*y
		}
		// d/dx [(1−y)x + lw·softplus(−x)] = (1−y) − lw·σ(−x).
		d := (1 - y) - lw*sigmoid(-v)
		if o.w != nil {
			d *= o.w[i]
		}
		gxd[i] = gd[i] * d
	}
	return []*tensor.Tensor{gx}
}

// SigmoidFocalLoss returns torchvision's sigmoid_focal_loss of logits x
// against binary targets y: the BCE loss scaled by (1 − p_t)^gamma, where
// p_t is the probability of the true label, and by alpha for positives and
// 1 − alpha for negatives; a negative alpha disables the weighting.
// torchvision uses alpha 0.25, gamma 2 and no reduction by default.
func SigmoidFocalLoss(x *Var, y *tensor.Tensor, alpha, gamma float32, red Reduction) *Var {
	ce := BCEWithLogits(x, y, BCEOptions{Reduction: ReduceNone})
	p := Sigmoid(x)
	yv := Const(y)
	// 1 − p_t = p + y − 2·p·y.
	q := Sub(Add(p, yv), Scale(Mul(p, yv), 2))
	loss := Mul(ce, Pow(q, gamma))
	if alpha >= 0 {
		at := tensor.Zeros(y.Shape()...)
		for i, v := range y.Data() {
			at.Data()[i] = alpha*v + (1-alpha)*(1-v)
		}
		loss = Mul(loss, Const(at))
	}
	return reduce(loss, red)
}
