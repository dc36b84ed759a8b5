package autograd

import (
	"fmt"

	"argus/internal/kernels"
	"argus/tensor"
)

// MatMul returns the product of an m×k matrix a and a k×n matrix b.
func MatMul(a, b *Var) *Var {
	as, bs := a.Shape(), b.Shape()
	if len(as) != 2 || len(bs) != 2 || as[1] != bs[0] {
		panic(fmt.Sprintf("autograd: MatMul of %v and %v", as, bs))
	}
	return Apply(&matMulOp{a: a, b: b})
}

type matMulOp struct{ a, b *Var }

func (o *matMulOp) Operands() []*Var { return []*Var{o.a, o.b} }

func (o *matMulOp) Forward() *tensor.Tensor {
	m, k, n := o.a.Shape()[0], o.a.Shape()[1], o.b.Shape()[1]
	out := tensor.Zeros(m, n)
	kernels.Sgemm(false, false, m, n, k, 1, o.a.value.Data(), k, o.b.value.Data(), n, 0, out.Data(), n)
	return out
}

func (o *matMulOp) Backward(g *tensor.Tensor) []*tensor.Tensor {
	m, k, n := o.a.Shape()[0], o.a.Shape()[1], o.b.Shape()[1]
	var ga, gb *tensor.Tensor
	if o.a.requiresGrad {
		ga = tensor.Zeros(m, k)
		kernels.Sgemm(false, true, m, k, n, 1, g.Data(), n, o.b.value.Data(), n, 0, ga.Data(), k)
	}
	if o.b.requiresGrad {
		gb = tensor.Zeros(k, n)
		kernels.Sgemm(true, false, k, n, m, 1, o.a.value.Data(), k, g.Data(), n, 0, gb.Data(), n)
	}
	return []*tensor.Tensor{ga, gb}
}
