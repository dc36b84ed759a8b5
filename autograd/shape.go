package autograd

import (
	"fmt"

	"argus/tensor"
)

// Reshape returns x with a new shape holding the same elements in the same
// order; one dimension may be -1 and is then inferred. The result shares x's
// storage.
func Reshape(x *Var, shape ...int) *Var {
	s, err := tensor.InferShape(x.value.Len(), shape)
	if err != nil {
		panic(fmt.Sprintf("autograd: Reshape %v: %v", x.Shape(), err))
	}
	return Apply(&reshapeOp{x: x, shape: s})
}

type reshapeOp struct {
	x     *Var
	shape []int
}

func (o *reshapeOp) Operands() []*Var { return []*Var{o.x} }

func (o *reshapeOp) Forward() *tensor.Tensor { return o.x.value.Reshape(o.shape...) }

func (o *reshapeOp) Backward(g *tensor.Tensor) []*tensor.Tensor {
	return []*tensor.Tensor{g.Reshape(o.x.Shape()...)}
}

// Flatten merges dimensions start through end (inclusive; negative values
// count from the end) into one, as torch.flatten does. Flatten(x, 1, -1)
// turns N×C×H×W into N×(C·H·W).
func Flatten(x *Var, start, end int) *Var {
	s := x.Shape()
	if len(s) == 0 {
		return Reshape(x, 1)
	}
	start, end = tensor.NormAxis(start, len(s)), tensor.NormAxis(end, len(s))
	if start > end {
		panic(fmt.Sprintf("autograd: Flatten %v from %d to %d", s, start, end))
	}
	shape := append([]int{}, s[:start]...)
	shape = append(shape, tensor.NumElements(s[start:end+1]))
	shape = append(shape, s[end+1:]...)
	return Reshape(x, shape...)
}

// Permute reorders x's dimensions: dimension i of the result is dimension
// perm[i] of x. The result is a new contiguous tensor.
func Permute(x *Var, perm ...int) *Var {
	p := append([]int{}, perm...)
	for i := range p {
		p[i] = tensor.NormAxis(p[i], x.value.Dims())
	}
	return Apply(&permuteOp{x: x, perm: p})
}

// Transpose swaps dimensions a and b of x.
func Transpose(x *Var, a, b int) *Var {
	n := x.value.Dims()
	a, b = tensor.NormAxis(a, n), tensor.NormAxis(b, n)
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	perm[a], perm[b] = perm[b], perm[a]
	return Permute(x, perm...)
}

type permuteOp struct {
	x    *Var
	perm []int
}

func (o *permuteOp) Operands() []*Var { return []*Var{o.x} }

func (o *permuteOp) Forward() *tensor.Tensor { return tensor.Permute(o.x.value, o.perm...) }

func (o *permuteOp) Backward(g *tensor.Tensor) []*tensor.Tensor {
	inv := make([]int, len(o.perm))
	for i, p := range o.perm {
		inv[p] = i
	}
	return []*tensor.Tensor{tensor.Permute(g, inv...)}
}
