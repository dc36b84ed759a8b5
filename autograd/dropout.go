package autograd

import (
	"fmt"

	"argus/tensor"
)

// Dropout zeroes each element of x with probability p during training and
// scales the survivors by 1/(1−p), so the expected value is unchanged. When
// training is false, or p is 0, it returns x itself. The mask is drawn from
// rng, so the same seed drops the same elements.
func Dropout(x *Var, p float32, training bool, rng *tensor.RNG) *Var {
	if p < 0 || p > 1 {
		panic(fmt.Sprintf("autograd: Dropout probability %v outside [0, 1]", p))
	}
	if !training || p == 0 {
		return x
	}
	mask := make([]float32, x.value.Len())
	if p < 1 {
		scale := 1 / (1 - p)
		r := rng.Rand()
		for i := range mask {
			if r.Float32() >= p {
				mask[i] = scale
			}
		}
	}
	return Apply(&maskOp{x: x, mask: mask, p: p})
}

// maskOp multiplies x element-wise by a constant mask, drawn by Dropout
// (or, whole channels at a time, by Dropout2d) with probability p.
type maskOp struct {
	x        *Var
	mask     []float32
	p        float32
	channels bool // drawn per channel, by Dropout2d
}

func (o *maskOp) Operands() []*Var { return []*Var{o.x} }

func (o *maskOp) Forward() *tensor.Tensor {
	out := tensor.Zeros(o.x.Shape()...)
	od, xd := out.Data(), o.x.value.Data()
	chunks(len(od), func(lo, hi int) { mulInto(od[lo:hi], xd[lo:hi], o.mask[lo:hi]) })
	return out
}

func (o *maskOp) Backward(g *tensor.Tensor) []*tensor.Tensor {
	gx := tensor.Zeros(o.x.Shape()...)
	gxd, gd := gx.Data(), g.Data()
	chunks(len(gxd), func(lo, hi int) { mulInto(gxd[lo:hi], gd[lo:hi], o.mask[lo:hi]) })
	return []*tensor.Tensor{gx}
}

// mulInto writes the element-wise product of a and b into dst.
func mulInto(dst, a, b []float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	for i := range dst {
		dst[i] = a[i] * b[i]
	}
}

// DropPath is stochastic depth as timm's drop_path computes it: sample i of
// x (its first axis) is kept, divided by the keep probability 1−p, when
// keep[i] is true and zeroed otherwise. The caller draws keep (one flag per
// sample, true with probability 1−p), so that a test or a reference run can
// feed in the same masks; nn.DropPath draws them from a seeded generator.
// With p zero it returns x itself.
func DropPath(x *Var, p float32, keep []bool) *Var {
	if p < 0 || p >= 1 {
		panic(fmt.Sprintf("autograd: DropPath probability %v outside [0, 1)", p))
	}
	s := x.Shape()
	if len(s) == 0 || len(keep) != s[0] {
		panic(fmt.Sprintf("autograd: DropPath of %v with %d flags", s, len(keep)))
	}
	if p == 0 {
		return x
	}
	mask := make([]float32, x.value.Len())
	per := len(mask) / s[0]
	scale := 1 / (1 - p)
	for i, k := range keep {
		if k {
			row := mask[i*per : (i+1)*per]
			for j := range row {
				row[j] = scale
			}
		}
	}
	return Apply(&maskOp{x: x, mask: mask, p: p})
}
