package executor

import (
	"fmt"

	"argus/compiler/xgraph"
	"argus/tensor"
)

// axis normalises a possibly negative axis for a tensor of the given rank.
func axis(a int64, rank int) (int, error) {
	if a < 0 {
		a += int64(rank)
	}
	if a < 0 || a >= int64(rank) {
		return 0, fmt.Errorf("axis %d out of range for rank %d", a, rank)
	}
	return int(a), nil
}

// strides returns row-major strides for shape.
func strides(shape []int) []int { return tensor.Strides(shape) }

func numel(shape []int) int { return tensor.NumElements(shape) }

// broadcast returns the numpy broadcast of the shapes.
func broadcast(shapes ...[]int) ([]int, error) {
	var out []int
	for i, s := range shapes {
		if i == 0 {
			out = append([]int{}, s...)
			continue
		}
		var err error
		if out, err = tensor.BroadcastShapes(out, s); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// bstrides returns strides that read a tensor of shape s as if broadcast to
// out: zero along broadcast dimensions.
func bstrides(s, out []int) []int {
	st := make([]int, len(out))
	own := strides(s)
	off := len(out) - len(s)
	for i := range s {
		if s[i] != 1 {
			st[off+i] = own[i]
		}
	}
	return st
}

// bindex returns, for each element of the broadcast shape out, the index in
// a tensor of shape s that supplies it.
func bindex(s, out []int) []int {
	n := numel(out)
	idx := make([]int, n)
	if equalInts(s, out) {
		for i := range idx {
			idx[i] = i
		}
		return idx
	}
	if numel(s) == 1 {
		return idx
	}
	st := bstrides(s, out)
	walk(out, st, func(i, off int) { idx[i] = off })
	return idx
}

// walk calls fn(i, off) for every element i of shape in row-major order,
// where off is the dot product of the element's coordinates with st.
func walk(shape, st []int, fn func(i, off int)) {
	n := numel(shape)
	if n == 0 {
		return
	}
	r := len(shape)
	if r == 0 {
		fn(0, 0)
		return
	}
	coord := make([]int, r)
	off := 0
	last := shape[r-1]
	ls := st[r-1]
	for i := 0; i < n; {
		o := off
		for j := 0; j < last; j++ {
			fn(i, o)
			i++
			o += ls
		}
		// Advance the coordinates above the last dimension.
		for d := r - 2; d >= 0; d-- {
			coord[d]++
			off += st[d]
			if coord[d] < shape[d] {
				break
			}
			off -= st[d] * shape[d]
			coord[d] = 0
		}
	}
}

func equalInts(a, b []int) bool { return tensor.EqualShapes(a, b) }

// take returns a tensor of shape out whose element i is src's element
// idx[i], for any element type.
func take(src *xgraph.Tensor, out []int, idx []int) *xgraph.Tensor {
	t := &xgraph.Tensor{DType: src.DType, Shape: append([]int{}, out...)}
	if src.DType.IsFloat() {
		t.F = make([]float32, len(idx))
		for i, j := range idx {
			t.F[i] = src.F[j]
		}
	} else {
		t.I = make([]int64, len(idx))
		for i, j := range idx {
			t.I[i] = src.I[j]
		}
	}
	return t
}

// ints converts int64 values to int.
func ints(v []int64) []int {
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}

// intsInput returns input i as int64 values, or nil when absent.
func (c *call) intsInput(i int) ([]int64, bool) {
	t := c.input(i)
	if t == nil {
		return nil, false
	}
	return t.Ints(), true
}

func one(t *xgraph.Tensor) []*xgraph.Tensor { return []*xgraph.Tensor{t} }

func boolTensor(shape []int) *xgraph.Tensor { return xgraph.Zero(xgraph.Bool, shape...) }
