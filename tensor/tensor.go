// Package tensor provides dense N-dimensional tensors stored contiguously in
// row-major order.
//
// The element at index (i0, i1, ..., in) of a tensor with shape (d0, ..., dn)
// lies at Data()[((i0*d1+i1)*d2+i2)...*dn+in]. Float32 tensors are the engine's
// currency; int8 and int32 tensors hold quantised weights, activations and
// accumulators.
package tensor

import (
	"fmt"
	"strings"
)

// Elem is the set of element types a Dense tensor can hold.
type Elem interface {
	~float32 | ~int8 | ~int32
}

// Dense is an N-dimensional tensor of T in row-major order. The zero value is
// an empty tensor of shape ().
type Dense[T Elem] struct {
	shape []int
	data  []T
}

// Tensor is the float32 tensor used throughout the engine.
type Tensor = Dense[float32]

// Int8 is a tensor of int8 values, for quantised weights and activations.
type Int8 = Dense[int8]

// Int32 is a tensor of int32 values, for quantised accumulators and biases.
type Int32 = Dense[int32]

// Make returns a zero-filled tensor of the given shape. It panics if a
// dimension is negative.
func Make[T Elem](shape ...int) *Dense[T] {
	n := checkShape(shape)
	return &Dense[T]{shape: cloneInts(shape), data: make([]T, n)}
}

// Wrap returns a tensor of the given shape that uses data as its storage
// without copying. It panics if len(data) does not match the shape.
func Wrap[T Elem](data []T, shape ...int) *Dense[T] {
	n := checkShape(shape)
	if n != len(data) {
		panic(fmt.Sprintf("tensor: %d elements do not fit shape %v", len(data), shape))
	}
	return &Dense[T]{shape: cloneInts(shape), data: data}
}

// Zeros returns a float32 tensor of zeros.
func Zeros(shape ...int) *Tensor { return Make[float32](shape...) }

// Full returns a float32 tensor filled with v.
func Full(v float32, shape ...int) *Tensor {
	t := Zeros(shape...)
	t.Fill(v)
	return t
}

// Ones returns a float32 tensor of ones.
func Ones(shape ...int) *Tensor { return Full(1, shape...) }

// FromSlice returns a float32 tensor holding a copy of data with the given
// shape. With no shape, the tensor is one-dimensional.
func FromSlice(data []float32, shape ...int) *Tensor {
	if len(shape) == 0 {
		shape = []int{len(data)}
	}
	return Wrap(append([]float32(nil), data...), shape...)
}

// Scalar returns a float32 tensor of shape () holding v.
func Scalar(v float32) *Tensor { return &Tensor{data: []float32{v}} }

// Shape returns the tensor's dimensions. The caller must not modify it.
func (t *Dense[T]) Shape() []int { return t.shape }

// Data returns the underlying row-major storage. Writes through it change the
// tensor and every view that shares its storage.
func (t *Dense[T]) Data() []T { return t.data }

// Dims returns the number of dimensions.
func (t *Dense[T]) Dims() int { return len(t.shape) }

// Dim returns the size of dimension i; negative i counts from the end.
func (t *Dense[T]) Dim(i int) int {
	if i < 0 {
		i += len(t.shape)
	}
	return t.shape[i]
}

// Len returns the number of elements.
func (t *Dense[T]) Len() int { return len(t.data) }

// Item returns the single element of a one-element tensor.
func (t *Dense[T]) Item() T {
	if len(t.data) != 1 {
		panic(fmt.Sprintf("tensor: Item on shape %v", t.shape))
	}
	return t.data[0]
}

// Clone returns a deep copy.
func (t *Dense[T]) Clone() *Dense[T] {
	return &Dense[T]{shape: cloneInts(t.shape), data: append([]T(nil), t.data...)}
}

// Reshape returns a view with a new shape sharing t's storage. One dimension
// may be -1, in which case it is inferred.
func (t *Dense[T]) Reshape(shape ...int) *Dense[T] {
	s, err := InferShape(len(t.data), shape)
	if err != nil {
		panic("tensor: " + err.Error())
	}
	return &Dense[T]{shape: s, data: t.data}
}

// Fill sets every element to v.
func (t *Dense[T]) Fill(v T) {
	for i := range t.data {
		t.data[i] = v
	}
}

// CopyFrom copies src's elements into t. Both must have the same number of
// elements.
func (t *Dense[T]) CopyFrom(src *Dense[T]) {
	if len(src.data) != len(t.data) {
		panic(fmt.Sprintf("tensor: copy %v into %v", src.shape, t.shape))
	}
	copy(t.data, src.data)
}

// Offset returns the position in Data of the element at idx.
func (t *Dense[T]) Offset(idx ...int) int {
	if len(idx) != len(t.shape) {
		panic(fmt.Sprintf("tensor: %d indices for shape %v", len(idx), t.shape))
	}
	off := 0
	for i, v := range idx {
		if v < 0 || v >= t.shape[i] {
			panic(fmt.Sprintf("tensor: index %v out of range for shape %v", idx, t.shape))
		}
		off = off*t.shape[i] + v
	}
	return off
}

// At returns the element at idx.
func (t *Dense[T]) At(idx ...int) T { return t.data[t.Offset(idx...)] }

// Set stores v at idx.
func (t *Dense[T]) Set(v T, idx ...int) { t.data[t.Offset(idx...)] = v }

// SameShape reports whether t and u have identical shapes.
func (t *Dense[T]) SameShape(u *Dense[T]) bool { return EqualShapes(t.shape, u.shape) }

// String formats small tensors in full and large ones by shape only.
func (t *Dense[T]) String() string {
	if len(t.data) > 64 {
		return fmt.Sprintf("Tensor%v", t.shape)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Tensor%v%v", t.shape, t.data)
	return b.String()
}

// Strides returns the row-major strides of shape, in elements.
func Strides(shape []int) []int {
	s := make([]int, len(shape))
	acc := 1
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = acc
		acc *= shape[i]
	}
	return s
}

// NumElements returns the product of the dimensions of shape.
func NumElements(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// EqualShapes reports whether two shapes are identical.
func EqualShapes(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// InferShape resolves a single -1 in shape so that it holds n elements.
func InferShape(n int, shape []int) ([]int, error) {
	s := cloneInts(shape)
	neg, prod := -1, 1
	for i, d := range s {
		switch {
		case d == -1 && neg < 0:
			neg = i
		case d < 0:
			return nil, fmt.Errorf("invalid shape %v", shape)
		default:
			prod *= d
		}
	}
	if neg >= 0 {
		if prod == 0 || n%prod != 0 {
			return nil, fmt.Errorf("cannot reshape %d elements to %v", n, shape)
		}
		s[neg] = n / prod
		prod *= s[neg]
	}
	if prod != n {
		return nil, fmt.Errorf("cannot reshape %d elements to %v", n, shape)
	}
	return s, nil
}

// BroadcastShapes returns the shape that a and b broadcast to under NumPy
// rules, or an error naming both shapes.
func BroadcastShapes(a, b []int) ([]int, error) {
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := 0; i < n; i++ {
		da, db := 1, 1
		if j := len(a) - n + i; j >= 0 {
			da = a[j]
		}
		if j := len(b) - n + i; j >= 0 {
			db = b[j]
		}
		switch {
		case da == db || db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			return nil, fmt.Errorf("shapes %v and %v do not broadcast", a, b)
		}
	}
	return out, nil
}

func checkShape(shape []int) int {
	n := 1
	for _, d := range shape {
		if d < 0 {
			panic(fmt.Sprintf("tensor: negative dimension in shape %v", shape))
		}
		n *= d
	}
	return n
}

func cloneInts(s []int) []int { return append([]int{}, s...) }

// Narrow returns a view of the entries lo through hi−1 along the first
// dimension, sharing t's storage: for a batch N×C×H×W it is the sub-batch
// (hi−lo)×C×H×W, whose data is Data()[lo*C*H*W : hi*C*H*W]. It panics when
// the range is outside [0, Dim(0)].
func (t *Dense[T]) Narrow(lo, hi int) *Dense[T] {
	if len(t.shape) == 0 || lo < 0 || hi < lo || hi > t.shape[0] {
		panic(fmt.Sprintf("tensor: Narrow [%d, %d) of shape %v", lo, hi, t.shape))
	}
	row := 1
	for _, d := range t.shape[1:] {
		row *= d
	}
	shape := cloneInts(t.shape)
	shape[0] = hi - lo
	return &Dense[T]{shape: shape, data: t.data[lo*row : hi*row : hi*row]}
}
