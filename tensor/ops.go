package tensor

import "fmt"

// BroadcastTo returns a new tensor holding t broadcast to shape under NumPy
// rules. It panics if t's shape does not broadcast to shape.
func BroadcastTo(t *Tensor, shape []int) *Tensor {
	if b, err := BroadcastShapes(t.shape, shape); err != nil || !EqualShapes(b, shape) {
		panic(fmt.Sprintf("tensor: cannot broadcast %v to %v", t.shape, shape))
	}
	out := Zeros(shape...)
	if EqualShapes(t.shape, shape) {
		copy(out.data, t.data)
		return out
	}
	if len(t.data) == 1 {
		out.Fill(t.data[0])
		return out
	}
	if len(out.data) == 0 {
		return out
	}
	if outer, mid, inner, ok := BlockBroadcast(t.shape, shape); ok {
		i := 0
		for range outer {
			for _, v := range t.data[:mid] {
				row := out.data[i : i+inner]
				for j := range row {
					row[j] = v
				}
				i += inner
			}
		}
		return out
	}
	st := broadcastStrides(t.shape, shape)
	idx := make([]int, len(shape))
	ti := 0
	for o := range out.data {
		out.data[o] = t.data[ti]
		for d := len(shape) - 1; d >= 0; d-- {
			idx[d]++
			ti += st[d]
			if idx[d] < shape[d] {
				break
			}
			ti -= st[d] * shape[d]
			idx[d] = 0
		}
	}
	return out
}

// Permute returns a new tensor whose dimension i is t's dimension perm[i]; it
// is NumPy's transpose with axes. It panics if perm is not a permutation of
// t's dimensions.
func Permute(t *Tensor, perm ...int) *Tensor {
	n := len(t.shape)
	if len(perm) != n {
		panic(fmt.Sprintf("tensor: permutation %v for shape %v", perm, t.shape))
	}
	seen := make([]bool, n)
	shape := make([]int, n)
	for i, p := range perm {
		if p < 0 || p >= n || seen[p] {
			panic(fmt.Sprintf("tensor: permutation %v for shape %v", perm, t.shape))
		}
		seen[p] = true
		shape[i] = t.shape[p]
	}
	out := Zeros(shape...)
	if len(out.data) == 0 {
		return out
	}
	own := Strides(t.shape)
	st := make([]int, n)
	for i, p := range perm {
		st[i] = own[p]
	}
	// Walk the output in order; the innermost output dimension is copied
	// in one loop with the source stride.
	inner := 1
	if n > 0 {
		inner = shape[n-1]
	}
	innerStride := 0
	if n > 0 {
		innerStride = st[n-1]
	}
	idx := make([]int, n)
	src := 0
	for o := 0; o < len(out.data); o += inner {
		row := out.data[o : o+inner]
		s := src
		for j := range row {
			row[j] = t.data[s]
			s += innerStride
		}
		for d := n - 2; d >= 0; d-- {
			idx[d]++
			src += st[d]
			if idx[d] < shape[d] {
				break
			}
			src -= st[d] * shape[d]
			idx[d] = 0
		}
	}
	return out
}

// NormAxis returns axis as a non-negative dimension index for a tensor with
// dims dimensions; negative axes count from the end. It panics when axis is
// out of range.
func NormAxis(axis, dims int) int {
	if axis < 0 {
		axis += dims
	}
	if axis < 0 || axis >= dims {
		panic(fmt.Sprintf("tensor: axis %d out of range for %d dimensions", axis, dims))
	}
	return axis
}

// Split3 returns the sizes of the dimensions before, at and after axis:
// the tensor is viewed as an outer × n × inner block.
func Split3(shape []int, axis int) (outer, n, inner int) {
	outer, inner = 1, 1
	for _, d := range shape[:axis] {
		outer *= d
	}
	for _, d := range shape[axis+1:] {
		inner *= d
	}
	return outer, shape[axis], inner
}

// BlockBroadcast reports whether small, broadcast to big, varies over one
// contiguous run of big's dimensions only: big is then an outer × mid ×
// inner block and the broadcast element at (o, m, i) is small's element m.
// Bias vectors over channels (C×1×1 against N×C×H×W) and row vectors (D
// against ...×D) have this form. A one-element small gives mid 1.
func BlockBroadcast(small, big []int) (outer, mid, inner int, ok bool) {
	if len(small) > len(big) {
		return 0, 0, 0, false
	}
	off := len(big) - len(small)
	first, last := -1, -1
	for i, d := range small {
		if d != 1 {
			if first < 0 {
				first = i + off
			}
			last = i + off
		}
	}
	if first < 0 {
		return 1, 1, NumElements(big), true
	}
	for j := first; j <= last; j++ {
		if small[j-off] != big[j] {
			return 0, 0, 0, false
		}
	}
	return NumElements(big[:first]), NumElements(big[first : last+1]), NumElements(big[last+1:]), true
}
