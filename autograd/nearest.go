package autograd

import (
	"fmt"

	"argus/internal/par"
	"argus/tensor"
)

// ResizeNearest resamples x (N×C×H×W) to N×C×outH×outW by nearest
// neighbours, as torch.nn.functional.interpolate with mode "nearest" and a
// size: output index i reads input index min(floor(i·in/out), in−1), the
// scale in/out in float32. It is FPN's top-down path.
func ResizeNearest(x *Var, outH, outW int) *Var {
	s := x.Shape()
	if len(s) != 4 || outH <= 0 || outW <= 0 || s[2] == 0 || s[3] == 0 {
		panic(fmt.Sprintf("autograd: ResizeNearest of %v to %d×%d", s, outH, outW))
	}
	return Apply(&nearestOp{x: x, ys: nearestTaps(s[2], outH), xs: nearestTaps(s[3], outW)})
}

// nearestTaps returns the input index of each output index along one axis,
// as PyTorch's nearest_idx computes it.
func nearestTaps(in, out int) []int {
	taps := make([]int, out)
	scale := float32(in) / float32(out)
	for i := range taps {
		switch out {
		case in:
			taps[i] = i
		case 2 * in:
			taps[i] = i >> 1
		default:
			taps[i] = min(int(float32(i)*scale), in-1)
		}
	}
	return taps
}

type nearestOp struct {
	x      *Var
	ys, xs []int
}

func (o *nearestOp) Operands() []*Var { return []*Var{o.x} }

func (o *nearestOp) Forward() *tensor.Tensor {
	s := o.x.Shape()
	h, w := s[2], s[3]
	oh, ow := len(o.ys), len(o.xs)
	out := tensor.Zeros(s[0], s[1], oh, ow)
	xd, od := o.x.value.Data(), out.Data()
	par.Workers(s[0]*s[1], 0, func(_, lo, hi int) {
		for p := lo; p < hi; p++ {
			src := xd[p*h*w : (p+1)*h*w]
			dst := od[p*oh*ow : (p+1)*oh*ow]
			for oy, iy := range o.ys {
				row, d := src[iy*w:(iy+1)*w], dst[oy*ow:(oy+1)*ow]
				for ox, ix := range o.xs {
					d[ox] = row[ix]
				}
			}
		}
	})
	return out
}

// Backward sums each output gradient into the input pixel it copied, in
// output order.
func (o *nearestOp) Backward(g *tensor.Tensor) []*tensor.Tensor {
	s := o.x.Shape()
	h, w := s[2], s[3]
	oh, ow := len(o.ys), len(o.xs)
	gx := tensor.Zeros(s...)
	gd, gxd := g.Data(), gx.Data()
	par.Workers(s[0]*s[1], 0, func(_, lo, hi int) {
		for p := lo; p < hi; p++ {
			src := gd[p*oh*ow : (p+1)*oh*ow]
			dst := gxd[p*h*w : (p+1)*h*w]
			for oy, iy := range o.ys {
				row, d := dst[iy*w:(iy+1)*w], src[oy*ow:(oy+1)*ow]
				for ox, ix := range o.xs {
					row[ix] += d[ox]
				}
			}
		}
	})
	return []*tensor.Tensor{gx}
}
