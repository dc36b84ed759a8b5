package reid

import (
	"fmt"
	"math"

	"argus/autograd"
	"argus/tensor"
)

// L2Normalize returns the rows of x (N×d) scaled to unit norm,
// x/max(‖x‖, 1e-12) as PyTorch's F.normalize computes it; its gradient is
// (g − y·(y·g))/‖x‖ per row.
func L2Normalize(x *autograd.Var) *autograd.Var {
	if s := x.Shape(); len(s) != 2 {
		panic(fmt.Sprintf("reid: L2Normalize of %v, want N×d", s))
	}
	return autograd.Apply(&l2norm{x: x})
}

type l2norm struct {
	x    *autograd.Var
	norm []float32
	y    *tensor.Tensor
}

func (o *l2norm) Operands() []*autograd.Var { return []*autograd.Var{o.x} }

func (o *l2norm) Forward() *tensor.Tensor {
	n, d := o.x.Shape()[0], o.x.Shape()[1]
	xd := o.x.Value().Data()
	o.y = tensor.Zeros(n, d)
	yd := o.y.Data()
	o.norm = make([]float32, n)
	for i := range n {
		var s float64
		for _, v := range xd[i*d : (i+1)*d] {
			s += float64(v) * float64(v)
		}
		nv := float32(max(math.Sqrt(s), 1e-12))
		o.norm[i] = nv
		for k, v := range xd[i*d : (i+1)*d] {
			yd[i*d+k] = v / nv
		}
	}
	return o.y
}

func (o *l2norm) Backward(g *tensor.Tensor) []*tensor.Tensor {
	n, d := o.x.Shape()[0], o.x.Shape()[1]
	gd, yd := g.Data(), o.y.Data()
	gx := tensor.Zeros(n, d)
	out := gx.Data()
	for i := range n {
		y, gr := yd[i*d:(i+1)*d], gd[i*d:(i+1)*d]
		var dot float32
		for k := range y {
			dot += y[k] * gr[k]
		}
		for k := range y {
			out[i*d+k] = (gr[k] - y[k]*dot) / o.norm[i]
		}
	}
	return []*tensor.Tensor{gx}
}
