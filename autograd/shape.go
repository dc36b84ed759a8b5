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
	// flatten holds the merged axes when Flatten made the op, for
	// Describe: an exporter can then keep the other axes symbolic.
	flatten *[2]int
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
	return Apply(&reshapeOp{x: x, shape: shape, flatten: &[2]int{start, end}})
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

// Slice returns the elements of x with index in [start, end) along axis
// (negative axis counts from the end). The result is a new tensor.
func Slice(x *Var, axis, start, end int) *Var {
	s := x.Shape()
	axis = tensor.NormAxis(axis, len(s))
	if start < 0 || end < start || end > s[axis] {
		panic(fmt.Sprintf("autograd: Slice [%d, %d) of axis %d of %v", start, end, axis, s))
	}
	return Apply(&sliceOp{x: x, axis: axis, start: start, end: end})
}

type sliceOp struct {
	x                *Var
	axis, start, end int
}

func (o *sliceOp) Operands() []*Var { return []*Var{o.x} }

func (o *sliceOp) Forward() *tensor.Tensor {
	s := append([]int{}, o.x.Shape()...)
	outer, n, inner := tensor.Split3(s, o.axis)
	m := o.end - o.start
	s[o.axis] = m
	out := tensor.Zeros(s...)
	xd, od := o.x.value.Data(), out.Data()
	for i := 0; i < outer; i++ {
		copy(od[i*m*inner:(i+1)*m*inner], xd[(i*n+o.start)*inner:(i*n+o.end)*inner])
	}
	return out
}

func (o *sliceOp) Backward(g *tensor.Tensor) []*tensor.Tensor {
	outer, n, inner := tensor.Split3(o.x.Shape(), o.axis)
	m := o.end - o.start
	gx := tensor.Zeros(o.x.Shape()...)
	gd, gxd := g.Data(), gx.Data()
	for i := 0; i < outer; i++ {
		copy(gxd[(i*n+o.start)*inner:(i*n+o.end)*inner], gd[i*m*inner:(i+1)*m*inner])
	}
	return []*tensor.Tensor{gx}
}

// Split cuts x along axis into consecutive pieces of the given sizes, which
// must add up to the axis length.
func Split(x *Var, axis int, sizes ...int) []*Var {
	s := x.Shape()
	axis = tensor.NormAxis(axis, len(s))
	total := 0
	for _, n := range sizes {
		if n < 0 {
			panic(fmt.Sprintf("autograd: Split %v into %v", s, sizes))
		}
		total += n
	}
	if total != s[axis] {
		panic(fmt.Sprintf("autograd: Split axis %d of %v into %v", axis, s, sizes))
	}
	out := make([]*Var, len(sizes))
	at := 0
	for i, n := range sizes {
		out[i] = Slice(x, axis, at, at+n)
		at += n
	}
	return out
}

// Concat joins xs along axis; all other dimensions must agree.
func Concat(xs []*Var, axis int) *Var {
	if len(xs) == 0 {
		panic("autograd: Concat of no tensors")
	}
	s := xs[0].Shape()
	axis = tensor.NormAxis(axis, len(s))
	for _, x := range xs[1:] {
		t := x.Shape()
		ok := len(t) == len(s)
		for d := 0; ok && d < len(s); d++ {
			ok = d == axis || t[d] == s[d]
		}
		if !ok {
			panic(fmt.Sprintf("autograd: Concat of %v and %v along axis %d", s, t, axis))
		}
	}
	return Apply(&concatOp{xs: xs, axis: axis})
}

// Stack joins xs, which must have equal shapes, along a new axis.
func Stack(xs []*Var, axis int) *Var {
	if len(xs) == 0 {
		panic("autograd: Stack of no tensors")
	}
	s := xs[0].Shape()
	axis = tensor.NormAxis(axis, len(s)+1)
	shape := append(append(append([]int{}, s[:axis]...), 1), s[axis:]...)
	parts := make([]*Var, len(xs))
	for i, x := range xs {
		if !tensor.EqualShapes(x.Shape(), s) {
			panic(fmt.Sprintf("autograd: Stack of %v and %v", s, x.Shape()))
		}
		parts[i] = Reshape(x, shape...)
	}
	return Concat(parts, axis)
}

type concatOp struct {
	xs   []*Var
	axis int
}

func (o *concatOp) Operands() []*Var { return o.xs }

func (o *concatOp) Forward() *tensor.Tensor {
	s := append([]int{}, o.xs[0].Shape()...)
	total := 0
	for _, x := range o.xs {
		total += x.Shape()[o.axis]
	}
	s[o.axis] = total
	out := tensor.Zeros(s...)
	outer, _, inner := tensor.Split3(s, o.axis)
	od := out.Data()
	at := 0
	for _, x := range o.xs {
		m := x.Shape()[o.axis]
		xd := x.value.Data()
		for i := 0; i < outer; i++ {
			copy(od[(i*total+at)*inner:(i*total+at+m)*inner], xd[i*m*inner:(i+1)*m*inner])
		}
		at += m
	}
	return out
}

func (o *concatOp) Backward(g *tensor.Tensor) []*tensor.Tensor {
	outer, total, inner := tensor.Split3(g.Shape(), o.axis)
	gd := g.Data()
	grads := make([]*tensor.Tensor, len(o.xs))
	at := 0
	for k, x := range o.xs {
		m := x.Shape()[o.axis]
		if x.requiresGrad {
			gx := tensor.Zeros(x.Shape()...)
			gxd := gx.Data()
			for i := 0; i < outer; i++ {
				copy(gxd[i*m*inner:(i+1)*m*inner], gd[(i*total+at)*inner:(i*total+at+m)*inner])
			}
			grads[k] = gx
		}
		at += m
	}
	return grads
}

// IndexSelect returns the entries of x at the given indices along axis, in
// that order; indices may repeat. It is torch.index_select.
func IndexSelect(x *Var, axis int, index []int) *Var {
	s := x.Shape()
	axis = tensor.NormAxis(axis, len(s))
	for _, i := range index {
		if i < 0 || i >= s[axis] {
			panic(fmt.Sprintf("autograd: IndexSelect index %d out of range for axis %d of %v", i, axis, s))
		}
	}
	return Apply(&indexSelectOp{x: x, axis: axis, index: index})
}

type indexSelectOp struct {
	x     *Var
	axis  int
	index []int
}

func (o *indexSelectOp) Operands() []*Var { return []*Var{o.x} }

func (o *indexSelectOp) Forward() *tensor.Tensor {
	s := append([]int{}, o.x.Shape()...)
	outer, n, inner := tensor.Split3(s, o.axis)
	m := len(o.index)
	s[o.axis] = m
	out := tensor.Zeros(s...)
	xd, od := o.x.value.Data(), out.Data()
	for i := 0; i < outer; i++ {
		for j, k := range o.index {
			copy(od[(i*m+j)*inner:(i*m+j+1)*inner], xd[(i*n+k)*inner:(i*n+k+1)*inner])
		}
	}
	return out
}

func (o *indexSelectOp) Backward(g *tensor.Tensor) []*tensor.Tensor {
	outer, n, inner := tensor.Split3(o.x.Shape(), o.axis)
	m := len(o.index)
	gx := tensor.Zeros(o.x.Shape()...)
	gd, gxd := g.Data(), gx.Data()
	for i := 0; i < outer; i++ {
		for j, k := range o.index {
			addTo(gxd[(i*n+k)*inner:(i*n+k+1)*inner], gd[(i*m+j)*inner:(i*m+j+1)*inner])
		}
	}
	return []*tensor.Tensor{gx}
}

// Gather returns the tensor of index's shape whose element at position p is
// x at p with the coordinate along axis replaced by index at p; it is
// torch.gather. index has as many dimensions as x, and no dimension other
// than axis may exceed x's.
func Gather(x *Var, axis int, index *tensor.Int32) *Var {
	s, is := x.Shape(), index.Shape()
	axis = tensor.NormAxis(axis, len(s))
	if len(is) != len(s) {
		panic(fmt.Sprintf("autograd: Gather of %v with index %v", s, is))
	}
	for d := range s {
		if d != axis && is[d] > s[d] {
			panic(fmt.Sprintf("autograd: Gather of %v with index %v along axis %d", s, is, axis))
		}
	}
	src := make([]int, index.Len())
	st := tensor.Strides(s)
	idx := make([]int, len(is))
	for p, v := range index.Data() {
		if v < 0 || int(v) >= s[axis] {
			panic(fmt.Sprintf("autograd: Gather index %d out of range for axis %d of %v", v, axis, s))
		}
		off := 0
		for d, i := range idx {
			if d == axis {
				i = int(v)
			}
			off += i * st[d]
		}
		src[p] = off
		for d := len(is) - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < is[d] {
				break
			}
			idx[d] = 0
		}
	}
	return Apply(&takeOp{x: x, shape: append([]int{}, is...), src: src})
}

// takeOp picks the elements of x at the flat offsets src into a tensor of
// shape; its gradient scatters back with accumulation.
type takeOp struct {
	x     *Var
	shape []int
	src   []int
}

func (o *takeOp) Operands() []*Var { return []*Var{o.x} }

func (o *takeOp) Forward() *tensor.Tensor {
	out := tensor.Zeros(o.shape...)
	xd, od := o.x.value.Data(), out.Data()
	for i, k := range o.src {
		od[i] = xd[k]
	}
	return out
}

func (o *takeOp) Backward(g *tensor.Tensor) []*tensor.Tensor {
	gx := tensor.Zeros(o.x.Shape()...)
	gxd := gx.Data()
	for i, v := range g.Data() {
		gxd[o.src[i]] += v
	}
	return []*tensor.Tensor{gx}
}

// Where returns a where cond is true and b elsewhere. a and b broadcast to a
// common shape, and cond holds one flag per element of it in row-major
// order.
func Where(cond []bool, a, b *Var) *Var {
	s, err := tensor.BroadcastShapes(a.Shape(), b.Shape())
	if err != nil {
		panic("autograd: Where: " + err.Error())
	}
	if len(cond) != tensor.NumElements(s) {
		panic(fmt.Sprintf("autograd: Where with %d flags for shape %v", len(cond), s))
	}
	return Apply(&whereOp{cond: cond, a: a, b: b, shape: s})
}

type whereOp struct {
	cond  []bool
	a, b  *Var
	shape []int
}

func (o *whereOp) Operands() []*Var { return []*Var{o.a, o.b} }

func (o *whereOp) Forward() *tensor.Tensor {
	out := tensor.BroadcastTo(o.a.value, o.shape)
	bb := tensor.BroadcastTo(o.b.value, o.shape)
	od, bd := out.Data(), bb.Data()
	for i, c := range o.cond {
		if !c {
			od[i] = bd[i]
		}
	}
	return out
}

func (o *whereOp) Backward(g *tensor.Tensor) []*tensor.Tensor {
	ga, gb := tensor.Zeros(o.shape...), tensor.Zeros(o.shape...)
	gad, gbd := ga.Data(), gb.Data()
	for i, v := range g.Data() {
		if o.cond[i] {
			gad[i] = v
		} else {
			gbd[i] = v
		}
	}
	return []*tensor.Tensor{tensor.SumTo(ga, o.a.Shape()), tensor.SumTo(gb, o.b.Shape())}
}

// MaskedFill returns x with the elements where mask is true replaced by v;
// mask holds one flag per element of x in row-major order.
func MaskedFill(x *Var, mask []bool, v float32) *Var {
	if len(mask) != x.value.Len() {
		panic(fmt.Sprintf("autograd: MaskedFill with %d flags for shape %v", len(mask), x.Shape()))
	}
	return Apply(&maskedFillOp{x: x, mask: mask, v: v})
}

type maskedFillOp struct {
	x    *Var
	mask []bool
	v    float32
}

func (o *maskedFillOp) Operands() []*Var { return []*Var{o.x} }

func (o *maskedFillOp) Forward() *tensor.Tensor {
	out := o.x.value.Clone()
	od := out.Data()
	for i, m := range o.mask {
		if m {
			od[i] = o.v
		}
	}
	return out
}

func (o *maskedFillOp) Backward(g *tensor.Tensor) []*tensor.Tensor {
	gx := g.Clone()
	gxd := gx.Data()
	for i, m := range o.mask {
		if m {
			gxd[i] = 0
		}
	}
	return []*tensor.Tensor{gx}
}

// Embedding returns the rows of weight (V×D) at the given indices, shaped
// shape×D; with no shape the result is len(index)×D.
func Embedding(weight *Var, index []int, shape ...int) *Var {
	ws := weight.Shape()
	if len(ws) != 2 {
		panic(fmt.Sprintf("autograd: Embedding weight %v: want V×D", ws))
	}
	if len(shape) == 0 {
		shape = []int{len(index)}
	}
	if tensor.NumElements(shape) != len(index) {
		panic(fmt.Sprintf("autograd: Embedding of %d indices as %v", len(index), shape))
	}
	out := IndexSelect(weight, 0, index)
	return Reshape(out, append(append([]int{}, shape...), ws[1])...)
}
