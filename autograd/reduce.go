package autograd

import (
	"fmt"
	"slices"

	"argus/tensor"
)

// Sum returns the sum of all elements of x as a tensor of shape ().
func Sum(x *Var) *Var { return Apply(&sumOp{x: x, shape: []int{}, keep: onesLike(x.Shape())}) }

// Mean returns the mean of all elements of x as a tensor of shape (). It
// panics on an empty tensor, whose mean is undefined.
func Mean(x *Var) *Var {
	if x.value.Len() == 0 {
		panic(fmt.Sprintf("autograd: Mean of empty tensor %v", x.Shape()))
	}
	return Apply(&sumOp{x: x, shape: []int{}, keep: onesLike(x.Shape()), scale: 1 / float32(x.value.Len())})
}

// SumAxes returns the sums of x over the given axes (negative values count
// from the end). With keepDim the reduced axes remain with size 1.
func SumAxes(x *Var, keepDim bool, axes ...int) *Var {
	shape, keep, _ := reduceShapes(x.Shape(), keepDim, axes, "SumAxes")
	return Apply(&sumOp{x: x, shape: shape, keep: keep})
}

// MeanAxes returns the means of x over the given axes (negative values count
// from the end). With keepDim the reduced axes remain with size 1. It panics
// when a reduced axis is empty.
func MeanAxes(x *Var, keepDim bool, axes ...int) *Var {
	shape, keep, n := reduceShapes(x.Shape(), keepDim, axes, "MeanAxes")
	if n == 0 {
		panic(fmt.Sprintf("autograd: MeanAxes of %v over empty axes %v", x.Shape(), axes))
	}
	return Apply(&sumOp{x: x, shape: shape, keep: keep, scale: 1 / float32(n)})
}

// reduceShapes returns the result shape, the shape with reduced axes kept as
// 1, and the number of elements reduced into each output.
func reduceShapes(s []int, keepDim bool, axes []int, name string) (shape, keep []int, n int) {
	if len(axes) == 0 {
		panic(fmt.Sprintf("autograd: %s of %v over no axes", name, s))
	}
	keep = append([]int{}, s...)
	n = 1
	red := make([]bool, len(s))
	for _, a := range axes {
		a = tensor.NormAxis(a, len(s))
		if red[a] {
			panic(fmt.Sprintf("autograd: %s of %v repeats axis %d", name, s, a))
		}
		red[a] = true
		keep[a] = 1
		n *= s[a]
	}
	if keepDim {
		return keep, keep, n
	}
	for i, d := range s {
		if !red[i] {
			shape = append(shape, d)
		}
	}
	return shape, keep, n
}

func onesLike(s []int) []int {
	o := make([]int, len(s))
	for i := range o {
		o[i] = 1
	}
	return o
}

// sumOp sums x to keep (x's shape with reduced axes set to 1), reshapes to
// shape and multiplies by scale when it is non-zero.
type sumOp struct {
	x           *Var
	shape, keep []int
	scale       float32
}

func (o *sumOp) Operands() []*Var { return []*Var{o.x} }

func (o *sumOp) Forward() *tensor.Tensor {
	var out *tensor.Tensor
	if len(o.shape) == 0 {
		var s float64
		for _, v := range o.x.value.Data() {
			s += float64(v)
		}
		out = tensor.Scalar(float32(s))
	} else if axis, ok := singleAxis(o.x.Shape(), o.keep); ok {
		out = sumAxis(o.x.value, axis).Reshape(o.shape...)
	} else {
		out = tensor.SumTo(o.x.value, o.keep)
		if out == o.x.value {
			out = out.Clone()
		}
		out = out.Reshape(o.shape...)
	}
	if o.scale != 0 {
		for i := range out.Data() {
			out.Data()[i] *= o.scale
		}
	}
	return out
}

func (o *sumOp) Backward(g *tensor.Tensor) []*tensor.Tensor {
	gx := tensor.BroadcastTo(g.Reshape(o.keep...), o.x.Shape())
	if o.scale != 0 {
		for i := range gx.Data() {
			gx.Data()[i] *= o.scale
		}
	}
	return []*tensor.Tensor{gx}
}

// singleAxis reports the one axis that keep reduces, if there is only one.
func singleAxis(s, keep []int) (int, bool) {
	axis := -1
	for i := range s {
		if s[i] != keep[i] {
			if axis >= 0 {
				return 0, false
			}
			axis = i
		}
	}
	return axis, axis >= 0
}

// sumAxis sums t over one axis, keeping it with size 1.
func sumAxis(t *tensor.Tensor, axis int) *tensor.Tensor {
	s := t.Shape()
	outer, n, inner := tensor.Split3(s, axis)
	keep := slices.Clone(s)
	keep[axis] = 1
	out := tensor.Zeros(keep...)
	od, td := out.Data(), t.Data()
	for i := 0; i < outer; i++ {
		dst := od[i*inner : (i+1)*inner]
		for j := 0; j < n; j++ {
			addTo(dst, td[(i*n+j)*inner:(i*n+j+1)*inner])
		}
	}
	return out
}

// Max returns the maxima of x along axis (negative values count from the
// end) and, for each, the index along axis of the first maximal element, in
// the result's row-major order. With keepDim the axis remains with size 1.
// The gradient flows to the selected elements. It panics on an empty axis.
func Max(x *Var, axis int, keepDim bool) (*Var, []int) {
	s := x.Shape()
	axis = tensor.NormAxis(axis, len(s))
	idx := Argmax(x.value, axis)
	shape := slices.Clone(s)
	shape[axis] = 1
	v := Apply(&takeOp{x: x, shape: shape, src: alongOffsets(s, axis, 1, idx)})
	if !keepDim {
		v = Reshape(v, slices.Delete(slices.Clone(s), axis, axis+1)...)
	}
	return v, idx
}

// Argmax returns, for every position of t outside axis, the index along axis
// of the first maximal element (NaN counts as maximal, as in PyTorch), in
// row-major order of the remaining dimensions. It panics on an empty axis.
func Argmax(t *tensor.Tensor, axis int) []int {
	s := t.Shape()
	axis = tensor.NormAxis(axis, len(s))
	outer, n, inner := tensor.Split3(s, axis)
	if n == 0 {
		panic(fmt.Sprintf("autograd: Argmax of %v over empty axis %d", s, axis))
	}
	d := t.Data()
	out := make([]int, outer*inner)
	for i := 0; i < outer; i++ {
		for j := 0; j < inner; j++ {
			base := i*n*inner + j
			best, bi := d[base], 0
			for k := 1; k < n && best == best; k++ {
				if v := d[base+k*inner]; v > best || v != v {
					best, bi = v, k
				}
			}
			out[i*inner+j] = bi
		}
	}
	return out
}

// TopK returns the k largest (or, with largest false, smallest) elements of
// x along axis in sorted order, and their indices along axis; the axis has
// size k in the result and the indices follow the result's row-major order.
// Ties keep the lower index first.
func TopK(x *Var, k, axis int, largest bool) (*Var, []int) {
	s := x.Shape()
	axis = tensor.NormAxis(axis, len(s))
	outer, n, inner := tensor.Split3(s, axis)
	if k < 0 || k > n {
		panic(fmt.Sprintf("autograd: TopK %d of axis %d of %v", k, axis, s))
	}
	d := x.value.Data()
	idx := make([]int, outer*k*inner)
	order := make([]int, n)
	for i := 0; i < outer; i++ {
		for j := 0; j < inner; j++ {
			base := i*n*inner + j
			for c := range order {
				order[c] = c
			}
			slices.SortStableFunc(order, func(p, q int) int {
				a, b := d[base+p*inner], d[base+q*inner]
				if !largest {
					a, b = b, a
				}
				switch {
				case a > b:
					return -1
				case a < b:
					return 1
				}
				return 0
			})
			for c := 0; c < k; c++ {
				idx[(i*k+c)*inner+j] = order[c]
			}
		}
	}
	shape := slices.Clone(s)
	shape[axis] = k
	return Apply(&takeOp{x: x, shape: shape, src: alongOffsets(s, axis, k, idx)}), idx
}

// alongOffsets turns indices along axis (laid out as a tensor of shape s with
// axis of size m) into flat offsets into a tensor of shape s.
func alongOffsets(s []int, axis, m int, idx []int) []int {
	outer, n, inner := tensor.Split3(s, axis)
	src := make([]int, len(idx))
	for i := 0; i < outer; i++ {
		for c := 0; c < m; c++ {
			for j := 0; j < inner; j++ {
				p := (i*m+c)*inner + j
				src[p] = (i*n+idx[p])*inner + j
			}
		}
	}
	return src
}
