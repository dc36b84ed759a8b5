package autograd

import "argus/tensor"

// Add returns a + b with NumPy broadcasting.
func Add(a, b *Var) *Var { return Apply(&addOp{a: a, b: b}) }

type addOp struct{ a, b *Var }

func (o *addOp) Operands() []*Var { return []*Var{o.a, o.b} }

func (o *addOp) Forward() *tensor.Tensor {
	return tensor.Binary(o.a.value, o.b.value, func(x, y float32) float32 { return x + y })
}

func (o *addOp) Backward(g *tensor.Tensor) []*tensor.Tensor {
	return []*tensor.Tensor{tensor.SumTo(g, o.a.Shape()), tensor.SumTo(g, o.b.Shape())}
}
