package kernels

import "fmt"

// elementwise holds the assembly versions of the element-wise kernels
// below for this CPU, each taking a positive multiple of lanes floats; nil
// functions run in Go.
type elementwise struct {
	lanes    int
	relu     func(dst, src *float32, n int)
	reluGrad func(gx, grad, out *float32, n int)
	norm     func(dst, h, src *float32, n int, m, inv, w, b float32)
	normGrad func(gx, grad, h *float32, n int, mg, mgh, scale float32)
}

// vectorPart returns how many leading floats of n the assembly takes.
func (e *elementwise) vectorPart(n int) int {
	if e.lanes == 0 {
		return 0
	}
	return n / e.lanes * e.lanes
}

func checkLens(name string, n int, xs ...[]float32) {
	for _, x := range xs {
		if x != nil && len(x) < n {
			panic(fmt.Sprintf("kernels: %s of %d floats with an operand of %d", name, n, len(x)))
		}
	}
}

// ReLU sets dst[i] = max(src[i], 0) for every i of src; a NaN stays NaN,
// as in PyTorch.
func ReLU(dst, src []float32) {
	n := len(src)
	checkLens("ReLU", n, dst)
	v := ew.vectorPart(n)
	if v > 0 && ew.relu != nil {
		ew.relu(&dst[0], &src[0], v)
	}
	for i := v; i < n; i++ {
		if x := src[i]; x < 0 {
			dst[i] = 0
		} else {
			dst[i] = x
		}
	}
}

// ReLUGrad sets gx[i] = grad[i] where the ReLU's output out[i] is positive
// and 0 elsewhere, for every i of grad. A NaN output passes no gradient,
// as in PyTorch.
func ReLUGrad(gx, grad, out []float32) {
	n := len(grad)
	checkLens("ReLUGrad", n, gx, out)
	v := ew.vectorPart(n)
	if v > 0 && ew.reluGrad != nil {
		ew.reluGrad(&gx[0], &grad[0], &out[0], v)
	}
	for i := v; i < n; i++ {
		if out[i] > 0 {
			gx[i] = grad[i]
		} else {
			gx[i] = 0
		}
	}
}

// NormAffine is batch normalisation's pass over one channel: for every i of
// src, t = (src[i] − m)·inv, h[i] = t when h is not nil, and
// dst[i] = t·w + b. The assembly fuses the last multiply-add, so results
// may differ from plain Go in the last bit; with and without h they agree.
func NormAffine(dst, h, src []float32, m, inv, w, b float32) {
	n := len(src)
	checkLens("NormAffine", n, dst, h)
	v := ew.vectorPart(n)
	if v > 0 && ew.norm != nil {
		var hp *float32
		if h != nil {
			hp = &h[0]
		}
		ew.norm(&dst[0], hp, &src[0], v, m, inv, w, b)
	}
	for i := v; i < n; i++ {
		t := (src[i] - m) * inv
		if h != nil {
			h[i] = t
		}
		dst[i] = t*w + b
	}
}

// NormGrad is the input gradient of batch normalisation in training over
// one channel: gx[i] = (grad[i] − mg − h[i]·mgh)·scale for every i of grad.
func NormGrad(gx, grad, h []float32, mg, mgh, scale float32) {
	n := len(grad)
	checkLens("NormGrad", n, gx, h)
	v := ew.vectorPart(n)
	if v > 0 && ew.normGrad != nil {
		ew.normGrad(&gx[0], &grad[0], &h[0], v, mg, mgh, scale)
	}
	for i := v; i < n; i++ {
		gx[i] = (grad[i] - mg - h[i]*mgh) * scale
	}
}
