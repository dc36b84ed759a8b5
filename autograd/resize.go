package autograd

import (
	"fmt"

	"argus/internal/par"
	"argus/tensor"
)

// ResizeBilinear resamples x (N×C×H×W) to N×C×outH×outW by bilinear
// interpolation, as torch.nn.functional.interpolate with mode "bilinear".
// With alignCorners the corner pixels' centres of input and output
// coincide; otherwise their outer edges do (half-pixel centres, clamped at
// the border).
func ResizeBilinear(x *Var, outH, outW int, alignCorners bool) *Var {
	s := x.Shape()
	if len(s) != 4 || outH <= 0 || outW <= 0 || s[2] == 0 || s[3] == 0 {
		panic(fmt.Sprintf("autograd: ResizeBilinear of %v to %d×%d", s, outH, outW))
	}
	return Apply(&resizeOp{x: x, ys: lerpTaps(s[2], outH, alignCorners), xs: lerpTaps(s[3], outW, alignCorners), align: alignCorners})
}

// tap is the pair of input indices an output index reads and the weight of
// the second.
type tap struct {
	i0, i1 int
	w1     float32
}

// lerpTaps computes the source taps for one axis the way PyTorch does, in
// float32.
func lerpTaps(in, out int, alignCorners bool) []tap {
	taps := make([]tap, out)
	var scale float32
	if alignCorners {
		if out > 1 {
			scale = float32(in-1) / float32(out-1)
		}
	} else {
		scale = float32(in) / float32(out)
	}
	for i := range taps {
		var src float32
		if alignCorners {
			src = scale * float32(i)
		} else {
			src = max(scale*(float32(i)+0.5)-0.5, 0)
		}
		i0 := min(int(src), in-1)
		i1 := i0
		if i0 < in-1 {
			i1 = i0 + 1
		}
		taps[i] = tap{i0: i0, i1: i1, w1: src - float32(i0)}
	}
	return taps
}

type resizeOp struct {
	x      *Var
	ys, xs []tap
	align  bool // for Describe
}

func (o *resizeOp) Operands() []*Var { return []*Var{o.x} }

func (o *resizeOp) Forward() *tensor.Tensor {
	s := o.x.Shape()
	h, w := s[2], s[3]
	oh, ow := len(o.ys), len(o.xs)
	out := tensor.Zeros(s[0], s[1], oh, ow)
	xd, od := o.x.value.Data(), out.Data()
	par.Workers(s[0]*s[1], 0, func(_, lo, hi int) {
		for p := lo; p < hi; p++ {
			src := xd[p*h*w : (p+1)*h*w]
			dst := od[p*oh*ow : (p+1)*oh*ow]
			for oy, ty := range o.ys {
				r0, r1 := src[ty.i0*w:(ty.i0+1)*w], src[ty.i1*w:(ty.i1+1)*w]
				wy1 := ty.w1
				wy0 := 1 - wy1
				for ox, tx := range o.xs {
					wx1 := tx.w1
					wx0 := 1 - wx1
					dst[oy*ow+ox] = wy0*(wx0*r0[tx.i0]+wx1*r0[tx.i1]) + wy1*(wx0*r1[tx.i0]+wx1*r1[tx.i1])
				}
			}
		}
	})
	return out
}

func (o *resizeOp) Backward(g *tensor.Tensor) []*tensor.Tensor {
	s := o.x.Shape()
	h, w := s[2], s[3]
	oh, ow := len(o.ys), len(o.xs)
	gx := tensor.Zeros(s...)
	gd, gxd := g.Data(), gx.Data()
	par.Workers(s[0]*s[1], 0, func(_, lo, hi int) {
		for p := lo; p < hi; p++ {
			src := gd[p*oh*ow : (p+1)*oh*ow]
			dst := gxd[p*h*w : (p+1)*h*w]
			for oy, ty := range o.ys {
				r0, r1 := dst[ty.i0*w:(ty.i0+1)*w], dst[ty.i1*w:(ty.i1+1)*w]
				wy1 := ty.w1
				wy0 := 1 - wy1
				for ox, tx := range o.xs {
					v := src[oy*ow+ox]
					wx1 := tx.w1
					wx0 := 1 - wx1
					r0[tx.i0] += wy0 * wx0 * v
					r0[tx.i1] += wy0 * wx1 * v
					r1[tx.i0] += wy1 * wx0 * v
					r1[tx.i1] += wy1 * wx1 * v
				}
			}
		}
	})
	return []*tensor.Tensor{gx}
}
