package xgraph

import (
	"fmt"
	"strings"

	"argus/tensor"
)

// Tensor is a dense row-major tensor that carries its element type, so that
// integer and boolean values (shapes, indices, masks) flow through a graph
// beside float32 activations. Values of a float type live in F and values
// of an integer or boolean type in I; the other slice is nil. Element
// (i0, ..., in) of a tensor with shape (d0, ..., dn) is at index
// ((i0*d1+i1)*d2+...)*dn+in. A tensor of shape () holds one element.
type Tensor struct {
	DType DType
	Shape []int
	F     []float32
	I     []int64
}

// NewFloat returns a float32 tensor holding data with the given shape. It
// panics if the sizes disagree.
func NewFloat(data []float32, shape ...int) *Tensor {
	checkLen(len(data), shape)
	return &Tensor{DType: Float32, Shape: append([]int{}, shape...), F: data}
}

// NewInt returns a tensor of type dt (an integer or boolean type) holding
// data with the given shape. It panics if the sizes disagree.
func NewInt(dt DType, data []int64, shape ...int) *Tensor {
	checkLen(len(data), shape)
	return &Tensor{DType: dt, Shape: append([]int{}, shape...), I: data}
}

// Zero returns a zero-filled tensor of type dt and the given shape.
func Zero(dt DType, shape ...int) *Tensor {
	n := tensor.NumElements(shape)
	t := &Tensor{DType: dt, Shape: append([]int{}, shape...)}
	if dt.IsFloat() {
		t.F = make([]float32, n)
	} else {
		t.I = make([]int64, n)
	}
	return t
}

// FromDense returns a float32 tensor that shares t's storage.
func FromDense(t *tensor.Tensor) *Tensor {
	return &Tensor{DType: Float32, Shape: append([]int{}, t.Shape()...), F: t.Data()}
}

func checkLen(n int, shape []int) {
	if tensor.NumElements(shape) != n {
		panic(fmt.Sprintf("xgraph: %d elements do not fit shape %v", n, shape))
	}
}

// Len returns the number of elements.
func (t *Tensor) Len() int {
	if t.DType.IsFloat() {
		return len(t.F)
	}
	return len(t.I)
}

// Dense returns t as an engine tensor sharing its storage. It panics if t is
// not of a float type.
func (t *Tensor) Dense() *tensor.Tensor {
	if !t.DType.IsFloat() {
		panic("xgraph: Dense of a " + t.DType.String() + " tensor")
	}
	return tensor.Wrap(t.F, t.Shape...)
}

// Float returns element i as a float64 whatever the type.
func (t *Tensor) Float(i int) float64 {
	if t.DType.IsFloat() {
		return float64(t.F[i])
	}
	return float64(t.I[i])
}

// Ints returns the elements as int64 values, converting floats by
// truncation.
func (t *Tensor) Ints() []int64 {
	if !t.DType.IsFloat() {
		return t.I
	}
	out := make([]int64, len(t.F))
	for i, v := range t.F {
		out[i] = int64(v)
	}
	return out
}

// Reshaped returns a tensor with the same storage and a new shape. It panics
// if the sizes disagree.
func (t *Tensor) Reshaped(shape []int) *Tensor {
	checkLen(t.Len(), shape)
	return &Tensor{DType: t.DType, Shape: append([]int{}, shape...), F: t.F, I: t.I}
}

// Clone returns a deep copy.
func (t *Tensor) Clone() *Tensor {
	c := &Tensor{DType: t.DType, Shape: append([]int{}, t.Shape...)}
	if t.F != nil {
		c.F = append([]float32{}, t.F...)
	}
	if t.I != nil {
		c.I = append([]int64{}, t.I...)
	}
	return c
}

// String returns a short description such as "float32[1 3 224 224]", with
// the values when there are few of them.
func (t *Tensor) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s%v", t.DType, t.Shape)
	if n := t.Len(); n <= 8 {
		b.WriteString("{")
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteString(" ")
			}
			if t.DType.IsFloat() {
				fmt.Fprintf(&b, "%g", t.F[i])
			} else {
				fmt.Fprintf(&b, "%d", t.I[i])
			}
		}
		b.WriteString("}")
	}
	return b.String()
}

// WithType returns t labelled with another type of the same storage class
// (float or integer), sharing the storage.
func (t *Tensor) WithType(dt DType) *Tensor {
	if dt.IsFloat() != t.DType.IsFloat() {
		panic("xgraph: WithType across float and integer types")
	}
	return &Tensor{DType: dt, Shape: t.Shape, F: t.F, I: t.I}
}
