package autograd

import (
	"fmt"

	"argus/internal/kernels"
	"argus/internal/par"
	"argus/tensor"
)

// Linear returns x·wᵀ + b for x of shape (..., In), weights w of shape
// (Out, In) as in PyTorch, and bias b of shape (Out), or nil for none. The
// output has shape (..., Out).
func Linear(x, w, b *Var) *Var {
	xs, ws := x.Shape(), w.Shape()
	if len(xs) < 1 || len(ws) != 2 || xs[len(xs)-1] != ws[1] {
		panic(fmt.Sprintf("autograd: Linear of input %v with weights %v", xs, ws))
	}
	if b != nil && (len(b.Shape()) != 1 || b.Shape()[0] != ws[0]) {
		panic(fmt.Sprintf("autograd: Linear bias %v for weights %v", b.Shape(), ws))
	}
	return Apply(&linearOp{x: x, w: w, b: b})
}

type linearOp struct{ x, w, b *Var }

func (o *linearOp) Operands() []*Var { return []*Var{o.x, o.w, o.b} }

func (o *linearOp) dims() (m, in, out int) {
	ws := o.w.Shape()
	in, out = ws[1], ws[0]
	return o.x.value.Len() / max(in, 1), in, out
}

func (o *linearOp) Forward() *tensor.Tensor {
	m, in, out := o.dims()
	shape := append(append([]int{}, o.x.Shape()[:o.x.value.Dims()-1]...), out)
	y := tensor.Zeros(shape...)
	yd := y.Data()
	if o.b != nil {
		bd := o.b.value.Data()
		for i := 0; i < m; i++ {
			copy(yd[i*out:(i+1)*out], bd)
		}
	}
	beta := float32(0)
	if o.b != nil {
		beta = 1
	}
	kernels.Sgemm(false, true, m, out, in, 1, o.x.value.Data(), in, o.w.value.Data(), in, beta, yd, out)
	return y
}

func (o *linearOp) Backward(g *tensor.Tensor) []*tensor.Tensor {
	m, in, out := o.dims()
	var gx, gw, gb *tensor.Tensor
	if o.x.requiresGrad {
		gx = tensor.Zeros(o.x.Shape()...)
		kernels.Sgemm(false, false, m, in, out, 1, g.Data(), out, o.w.value.Data(), in, 0, gx.Data(), in)
	}
	if o.w.requiresGrad {
		gw = tensor.Zeros(out, in)
		kernels.Sgemm(true, false, out, in, m, 1, g.Data(), out, o.x.value.Data(), in, 0, gw.Data(), in)
	}
	if o.b != nil && o.b.requiresGrad {
		gb = tensor.Zeros(out)
		gbd, gd := gb.Data(), g.Data()
		for i := 0; i < m; i++ {
			addTo(gbd, gd[i*out:(i+1)*out])
		}
	}
	return []*tensor.Tensor{gx, gw, gb}
}

// BatchMatMul returns the batched matrix product of a (..., M, K) and
// b (..., K, N). The batch dimensions must be equal, or one operand may be a
// plain matrix that is shared by every batch entry.
func BatchMatMul(a, b *Var) *Var {
	as, bs := a.Shape(), b.Shape()
	if len(as) < 2 || len(bs) < 2 || as[len(as)-1] != bs[len(bs)-2] {
		panic(fmt.Sprintf("autograd: BatchMatMul of %v and %v", as, bs))
	}
	var batch []int
	switch {
	case len(as) == 2:
		batch = bs[:len(bs)-2]
	case len(bs) == 2:
		batch = as[:len(as)-2]
	case tensor.EqualShapes(as[:len(as)-2], bs[:len(bs)-2]):
		batch = as[:len(as)-2]
	default:
		panic(fmt.Sprintf("autograd: BatchMatMul of %v and %v: batch dimensions differ", as, bs))
	}
	return Apply(&bmmOp{a: a, b: b, batch: append([]int{}, batch...)})
}

type bmmOp struct {
	a, b  *Var
	batch []int
}

func (o *bmmOp) Operands() []*Var { return []*Var{o.a, o.b} }

// dims returns the batch count, the matrix sizes and the per-batch strides of
// a and b (zero for a shared matrix).
func (o *bmmOp) dims() (nb, m, k, n, sa, sb int) {
	as, bs := o.a.Shape(), o.b.Shape()
	m, k, n = as[len(as)-2], as[len(as)-1], bs[len(bs)-1]
	nb = tensor.NumElements(o.batch)
	if len(as) > 2 {
		sa = m * k
	}
	if len(bs) > 2 {
		sb = k * n
	}
	return
}

func (o *bmmOp) Forward() *tensor.Tensor {
	nb, m, k, n, sa, sb := o.dims()
	out := tensor.Zeros(append(append([]int{}, o.batch...), m, n)...)
	ad, bd, od := o.a.value.Data(), o.b.value.Data(), out.Data()
	par.Workers(nb, itemWorkers(nb, 2*float64(m*n*k)), func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			kernels.Sgemm(false, false, m, n, k, 1, ad[i*sa:], k, bd[i*sb:], n, 0, od[i*m*n:], n)
		}
	})
	return out
}

func (o *bmmOp) Backward(g *tensor.Tensor) []*tensor.Tensor {
	nb, m, k, n, sa, sb := o.dims()
	ad, bd, gd := o.a.value.Data(), o.b.value.Data(), g.Data()
	var ga, gb *tensor.Tensor
	if o.a.requiresGrad {
		ga = tensor.Zeros(o.a.Shape()...)
		gad := ga.Data()
		// A shared operand sums its gradient over the batch, so the
		// accumulation runs serially there.
		for i := 0; i < nb; i++ {
			beta := float32(0)
			if sa == 0 && i > 0 {
				beta = 1
			}
			kernels.Sgemm(false, true, m, k, n, 1, gd[i*m*n:], n, bd[i*sb:], n, beta, gad[i*sa:], k)
		}
	}
	if o.b.requiresGrad {
		gb = tensor.Zeros(o.b.Shape()...)
		gbd := gb.Data()
		for i := 0; i < nb; i++ {
			beta := float32(0)
			if sb == 0 && i > 0 {
				beta = 1
			}
			kernels.Sgemm(true, false, k, n, m, 1, ad[i*sa:], k, gd[i*m*n:], n, beta, gbd[i*sb:], n)
		}
	}
	return []*tensor.Tensor{ga, gb}
}

func (o *linearOp) ownsGrads() {}
