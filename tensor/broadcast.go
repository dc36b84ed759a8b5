package tensor

import "fmt"

// Binary applies f element-wise to a and b broadcast together under NumPy
// rules and returns a new tensor. It panics if the shapes do not broadcast.
func Binary(a, b *Tensor, f func(x, y float32) float32) *Tensor {
	ad, bd := a.data, b.data
	if EqualShapes(a.shape, b.shape) {
		out := Zeros(a.shape...)
		for i, x := range ad {
			out.data[i] = f(x, bd[i])
		}
		return out
	}
	shape, err := BroadcastShapes(a.shape, b.shape)
	if err != nil {
		panic("tensor: " + err.Error())
	}
	out := Zeros(shape...)
	if len(bd) == 1 {
		y := bd[0]
		for i, x := range ad {
			out.data[i] = f(x, y)
		}
		return out
	}
	if len(ad) == 1 {
		x := ad[0]
		for i, y := range bd {
			out.data[i] = f(x, y)
		}
		return out
	}
	as, bs := broadcastStrides(a.shape, shape), broadcastStrides(b.shape, shape)
	idx := make([]int, len(shape))
	ai, bi := 0, 0
	for o := range out.data {
		out.data[o] = f(ad[ai], bd[bi])
		for d := len(shape) - 1; d >= 0; d-- {
			idx[d]++
			ai += as[d]
			bi += bs[d]
			if idx[d] < shape[d] {
				break
			}
			ai -= as[d] * shape[d]
			bi -= bs[d] * shape[d]
			idx[d] = 0
		}
	}
	return out
}

// broadcastStrides returns the strides with which a tensor of shape s is read
// when broadcast to shape to: zero along broadcast dimensions.
func broadcastStrides(s, to []int) []int {
	st := make([]int, len(to))
	own := Strides(s)
	off := len(to) - len(s)
	for i := range s {
		if s[i] != 1 {
			st[off+i] = own[i]
		}
	}
	return st
}

// SumTo reduces t by summation to shape, which t's shape must broadcast from.
// It is the adjoint of broadcasting and gives the gradient of a broadcast
// operand.
func SumTo(t *Tensor, shape []int) *Tensor {
	if EqualShapes(t.shape, shape) {
		return t
	}
	if b, err := BroadcastShapes(shape, t.shape); err != nil || !EqualShapes(b, t.shape) {
		panic(fmt.Sprintf("tensor: cannot sum %v to %v", t.shape, shape))
	}
	out := Zeros(shape...)
	if outer, mid, inner, ok := BlockBroadcast(shape, t.shape); ok {
		sumBlock(t.data, out.data, outer, mid, inner)
		return out
	}
	if len(out.data) == 1 {
		var s float32
		for _, v := range t.data {
			s += v
		}
		out.data[0] = s
		return out
	}
	os := broadcastStrides(shape, t.shape)
	idx := make([]int, len(t.shape))
	oi := 0
	for _, v := range t.data {
		out.data[oi] += v
		for d := len(t.shape) - 1; d >= 0; d-- {
			idx[d]++
			oi += os[d]
			if idx[d] < t.shape[d] {
				break
			}
			oi -= os[d] * t.shape[d]
			idx[d] = 0
		}
	}
	return out
}

// sumBlock adds the outer × mid × inner block src into dst (mid values),
// summing over the outer and inner indices.
func sumBlock(src, dst []float32, outer, mid, inner int) {
	dst = dst[:mid]
	for o := 0; o < outer; o++ {
		block := src[o*mid*inner : (o+1)*mid*inner]
		if inner == 1 {
			for m, v := range block[:mid] {
				dst[m] += v
			}
			continue
		}
		for m := range dst {
			var s float32
			for _, v := range block[m*inner : (m+1)*inner] {
				s += v
			}
			dst[m] += s
		}
	}
}
