// Package ref holds plain reference implementations of the layers the DPU
// runs, on int8 tensors in HWC layout (channel fastest). It is written
// independently of the simulator, with float64 rounding instead of integer
// shifts, so that the tests can hold one against the other bit for bit.
package ref

import (
	"fmt"
	"math"

	"argus/internal/geom"
)

// Tensor is an int8 feature map of H x W x C, element (y, x, c) at
// Data[(y*W+x)*C+c].
type Tensor struct {
	H, W, C int
	Data    []int8
}

// New returns a zero tensor.
func New(h, w, c int) Tensor { return Tensor{H: h, W: w, C: c, Data: make([]int8, h*w*c)} }

// At returns element (y, x, c), or 0 outside the tensor (zero padding).
func (t Tensor) At(y, x, c int) int8 {
	if y < 0 || y >= t.H || x < 0 || x >= t.W {
		return 0
	}
	return t.Data[(y*t.W+x)*t.C+c]
}

// Round modes, activations: the values of the ISA's fields.
const (
	RoundDPU, RoundStandard, RoundPy3    = 0, 1, 2
	ActNone, ActReLU, ActReLU6, ActLeaky = 0, 1, 2, 3
)

// Round returns x / 2^s rounded with mode.
func Round(x int64, s int, mode int) int64 {
	return int64(RoundFloat(float64(x)/math.Exp2(float64(s)), mode))
}

// RoundFloat rounds v to an integer with mode: RoundDPU takes halves toward
// +inf (floor(v + 1/2)), RoundStandard away from zero, RoundPy3 to even.
// The quantiser rounds real values onto the fixed-point grid with it, so
// that it and the layers agree on what each mode means.
func RoundFloat(v float64, mode int) float64 {
	switch mode {
	case RoundStandard:
		return math.Round(v)
	case RoundPy3:
		return math.RoundToEven(v)
	}
	return math.Floor(v + 0.5)
}

// Out is the requantisation of a layer: the accumulator's right shift,
// activation and rounding.
type Out struct {
	ShiftCut int
	Act      int
	ActFix   int // ReLU6 clips at 6 * 2^ActFix
	Round    int
}

// Apply turns an accumulator into an int8 output.
func (q Out) Apply(acc int64) int8 {
	var v int64
	switch q.Act {
	case ActReLU:
		if acc < 0 {
			acc = 0
		}
		v = Round(acc, q.ShiftCut, q.Round)
	case ActReLU6:
		if acc < 0 {
			acc = 0
		}
		v = Round(acc, q.ShiftCut, q.Round)
		if six := int64(6) * int64(1) << q.ActFix; v > six {
			v = six
		}
	case ActLeaky:
		if acc < 0 {
			// slope 26/256
			v = Round(acc*26, q.ShiftCut+8, q.Round)
		} else {
			v = Round(acc, q.ShiftCut, q.Round)
		}
	default:
		v = Round(acc, q.ShiftCut, q.Round)
	}
	if v > 127 {
		return 127
	}
	if v < -128 {
		return -128
	}
	return int8(v)
}

// window resolves the layer window k (its Kernel, Stride, Padding and
// PadEnd; no dilation) over the input and unpacks it. A window that does
// not fit the input is a mistake of the caller, and the layers panic on it.
func window(in Tensor, k geom.Window) (oh, ow, kh, kw, sh, sw, top, left int) {
	w, err := k.Resolve([]int{in.H, in.W}, k.Kernel, false)
	if err == nil && (w.Dilation[0] != 1 || w.Dilation[1] != 1) {
		err = fmt.Errorf("dilations %v", w.Dilation)
	}
	if err != nil {
		panic(fmt.Sprintf("ref: window %v over %dx%d: %v", k, in.H, in.W, err))
	}
	return w.Out[0], w.Out[1], w.Kernel[0], w.Kernel[1], w.Stride[0], w.Stride[1], w.Padding[0], w.Padding[1]
}

// The layers slide the window k over their input: its Kernel is KH x KW,
// its Stride, and its Padding the padding at the top and left, PadEnd at
// the bottom and right (nil: the same), as in geom.Window.

// Conv is a convolution layer: Weights is OC x KH x KW x C, Bias has OC
// values that ShiftBias aligns with the accumulator. The accumulator wraps
// like a 32-bit register.
func Conv(in Tensor, weights, bias []int8, oc int, k geom.Window, shiftBias int, q Out) Tensor {
	oh, ow, kh, kw, sh, sw, top, left := window(in, k)
	out := New(oh, ow, oc)
	for oy := 0; oy < oh; oy++ {
		for ox := 0; ox < ow; ox++ {
			for o := 0; o < oc; o++ {
				var acc int64
				for ky := 0; ky < kh; ky++ {
					for kx := 0; kx < kw; kx++ {
						for c := 0; c < in.C; c++ {
							x := in.At(oy*sh+ky-top, ox*sw+kx-left, c)
							wv := weights[((o*kh+ky)*kw+kx)*in.C+c]
							acc += int64(x) * int64(wv)
						}
					}
				}
				acc = int64(int32(acc + int64(bias[o])*(int64(1)<<shiftBias)))
				out.Data[(oy*ow+ox)*oc+o] = q.Apply(acc)
			}
		}
	}
	return out
}

// Depthwise is a depthwise convolution: Weights is KH x KW x C, one filter
// per channel.
func Depthwise(in Tensor, weights, bias []int8, k geom.Window, shiftBias int, q Out) Tensor {
	oh, ow, kh, kw, sh, sw, top, left := window(in, k)
	out := New(oh, ow, in.C)
	for oy := 0; oy < oh; oy++ {
		for ox := 0; ox < ow; ox++ {
			for c := 0; c < in.C; c++ {
				var acc int64
				for ky := 0; ky < kh; ky++ {
					for kx := 0; kx < kw; kx++ {
						acc += int64(in.At(oy*sh+ky-top, ox*sw+kx-left, c)) * int64(weights[(ky*kw+kx)*in.C+c])
					}
				}
				acc = int64(int32(acc + int64(bias[c])*(int64(1)<<shiftBias)))
				out.Data[(oy*ow+ox)*in.C+c] = q.Apply(acc)
			}
		}
	}
	return out
}

// MaxPool takes the maximum over each window; padding never wins (it reads
// as -128).
func MaxPool(in Tensor, k geom.Window) Tensor {
	oh, ow, kh, kw, sh, sw, top, left := window(in, k)
	out := New(oh, ow, in.C)
	for oy := 0; oy < oh; oy++ {
		for ox := 0; ox < ow; ox++ {
			for c := 0; c < in.C; c++ {
				m := -128
				for ky := 0; ky < kh; ky++ {
					for kx := 0; kx < kw; kx++ {
						y, x := oy*sh+ky-top, ox*sw+kx-left
						if y >= 0 && y < in.H && x >= 0 && x < in.W && int(in.At(y, x, c)) > m {
							m = int(in.At(y, x, c))
						}
					}
				}
				out.Data[(oy*ow+ox)*in.C+c] = int8(m)
			}
		}
	}
	return out
}

// AvgPool sums each window (padding counts as zero), multiplies by mult and
// shifts right by shift: mult/2^shift approximates 1/(KH*KW).
func AvgPool(in Tensor, k geom.Window, mult, shift, round int) Tensor {
	oh, ow, kh, kw, sh, sw, top, left := window(in, k)
	out := New(oh, ow, in.C)
	q := Out{ShiftCut: shift, Round: round}
	for oy := 0; oy < oh; oy++ {
		for ox := 0; ox < ow; ox++ {
			for c := 0; c < in.C; c++ {
				var sum int64
				for ky := 0; ky < kh; ky++ {
					for kx := 0; kx < kw; kx++ {
						sum += int64(in.At(oy*sh+ky-top, ox*sw+kx-left, c))
					}
				}
				out.Data[(oy*ow+ox)*in.C+c] = q.Apply(sum * int64(mult))
			}
		}
	}
	return out
}

// Add is the element-wise sum a*2^shiftA + b*2^shiftB, requantised; Mul
// multiplies the shifted operands instead.
func Add(a, b Tensor, shiftA, shiftB int, q Out) Tensor {
	return elew(a, b, shiftA, shiftB, q, false)
}

// Mul is the element-wise product of the shifted operands, requantised.
func Mul(a, b Tensor, shiftA, shiftB int, q Out) Tensor {
	return elew(a, b, shiftA, shiftB, q, true)
}

func elew(a, b Tensor, shiftA, shiftB int, q Out, mul bool) Tensor {
	out := New(a.H, a.W, a.C)
	for i := range a.Data {
		x := int64(a.Data[i]) * (int64(1) << shiftA)
		y := int64(b.Data[i]) * (int64(1) << shiftB)
		if mul {
			out.Data[i] = q.Apply(x * y)
		} else {
			out.Data[i] = q.Apply(x + y)
		}
	}
	return out
}
