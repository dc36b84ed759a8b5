package autograd

import (
	"fmt"
	"math"

	"argus/internal/geom"
	"argus/internal/par"
	"argus/tensor"
)

// MaxPool2dOptions configures MaxPool2d. A zero Stride means the kernel
// size, and a zero Dilation means 1, as in PyTorch.
type MaxPool2dOptions struct {
	Kernel   [2]int
	Stride   [2]int
	Padding  [2]int // implicit -Inf on each side; at most half the kernel
	Dilation [2]int
	CeilMode bool // round the output size up instead of down
}

// poolGeom is one axis of a resolved pooling window (geom.Window),
// unpacked for the loops: output position o and tap k read input position
// o*stride - pad + k*dil.
type poolGeom struct{ in, out, k, stride, pad, dil int }

// poolAxes resolves the pooling window of x's shape s with PyTorch's
// conventions (a zero stride is the kernel, a zero dilation 1, padding at
// most half the kernel) and returns its two axes.
func poolAxes(name string, s []int, kernel, stride, pad, dil [2]int, ceil bool) [2]poolGeom {
	if len(s) != 4 {
		panic(fmt.Sprintf("autograd: %s of %v: want N×C×H×W", name, s))
	}
	w := geom.Window{Stride: make([]int, 2), Dilation: make([]int, 2), Padding: pad[:]}
	for i := range 2 {
		w.Stride[i], w.Dilation[i] = stride[i], max(dil[i], 1)
		if w.Stride[i] == 0 {
			w.Stride[i] = kernel[i]
		}
		if pad[i]*2 > kernel[i] {
			panic(fmt.Sprintf("autograd: %s with kernel %v, stride %v, padding %v", name, kernel, stride, pad))
		}
	}
	w, err := w.Resolve(s[2:], kernel[:], ceil)
	if err != nil {
		panic(fmt.Sprintf("autograd: %s of %v with kernel %v, stride %v, padding %v: %v", name, s, kernel, stride, pad, err))
	}
	var g [2]poolGeom
	for i := range 2 {
		g[i] = poolGeom{in: w.In[i], out: w.Out[i], k: w.Kernel[i], stride: w.Stride[i], pad: w.Padding[i], dil: w.Dilation[i]}
	}
	return g
}

// MaxPool2d returns the maximum of x (N×C×H×W) over each pooling window.
// The gradient flows to the first maximal element of each window.
func MaxPool2d(x *Var, opt MaxPool2dOptions) *Var {
	g := poolAxes("MaxPool2d", x.Shape(), opt.Kernel, opt.Stride, opt.Padding, opt.Dilation, opt.CeilMode)
	return Apply(&maxPoolOp{x: x, g: g, ceil: opt.CeilMode})
}

type maxPoolOp struct {
	x    *Var
	g    [2]poolGeom
	ceil bool    // for Describe; g holds the output sizes
	arg  []int32 // index within the input plane of each output's maximum
}

func (o *maxPoolOp) Operands() []*Var { return []*Var{o.x} }

func (o *maxPoolOp) Forward() *tensor.Tensor {
	s := o.x.Shape()
	gh, gw := o.g[0], o.g[1]
	planes := s[0] * s[1]
	out := tensor.Zeros(s[0], s[1], gh.out, gw.out)
	o.arg = make([]int32, out.Len())
	xd, od := o.x.value.Data(), out.Data()
	inPlane, outPlane := gh.in*gw.in, gh.out*gw.out
	// Without padding, and with every window inside the image, the taps
	// need no bounds checks.
	inside := gh.pad == 0 && gw.pad == 0 &&
		(gh.out-1)*gh.stride+(gh.k-1)*gh.dil < gh.in && (gw.out-1)*gw.stride+(gw.k-1)*gw.dil < gw.in
	par.Workers(planes, 0, func(_, lo, hi int) {
		for p := lo; p < hi; p++ {
			src := xd[p*inPlane : (p+1)*inPlane]
			dst := od[p*outPlane : (p+1)*outPlane]
			arg := o.arg[p*outPlane : (p+1)*outPlane]
			if inside {
				maxPoolInside(gh, gw, src, dst, arg)
				continue
			}
			// Windows wholly inside the image skip the bounds checks; the
			// border runs the general loop below.
			oy0, oy1 := interior(gh)
			ox0, ox1 := interior(gw)
			if oy0 < oy1 && ox0 < ox1 {
				maxPoolRect(gh, gw, src, dst, arg, oy0, oy1, ox0, ox1)
			}
			for oy := 0; oy < gh.out; oy++ {
				y0 := oy*gh.stride - gh.pad
				for ox := 0; ox < gw.out; ox++ {
					if oy >= oy0 && oy < oy1 && ox == ox0 && ox0 < ox1 {
						ox = ox1 - 1
						continue
					}
					x0 := ox*gw.stride - gw.pad
					best, bi := float32(math.Inf(-1)), int32(-1)
					for ky := 0; ky < gh.k; ky++ {
						y := y0 + ky*gh.dil
						if y < 0 || y >= gh.in {
							continue
						}
						row := src[y*gw.in : (y+1)*gw.in]
						for kx := 0; kx < gw.k; kx++ {
							x := x0 + kx*gw.dil
							if x < 0 || x >= gw.in {
								continue
							}
							if v := row[x]; v > best || bi < 0 || v != v {
								best, bi = v, int32(y*gw.in+x)
								if v != v {
									break
								}
							}
						}
					}
					dst[oy*gw.out+ox] = best
					arg[oy*gw.out+ox] = bi
				}
			}
		}
	})
	return out
}

// interior returns the outputs [lo, hi) of one axis whose windows lie
// wholly inside the input.
func interior(g poolGeom) (lo, hi int) {
	lo = (g.pad + g.stride - 1) / g.stride
	last := g.in - 1 - (g.k-1)*g.dil + g.pad // greatest window start, padded
	if last < 0 {
		return 0, 0
	}
	hi = min(g.out, last/g.stride+1)
	return lo, max(lo, hi)
}

// maxPoolRect is MaxPool2d on the outputs [oy0, oy1) × [ox0, ox1) of one
// plane, whose windows lie inside it.
func maxPoolRect(gh, gw poolGeom, src, dst []float32, arg []int32, oy0, oy1, ox0, ox1 int) {
	w := gw.in
	if gh.k == 3 && gw.k == 3 && gh.dil == 1 && gw.dil == 1 {
		for oy := oy0; oy < oy1; oy++ {
			y := oy*gh.stride - gh.pad
			r0, r1, r2 := src[y*w:(y+1)*w], src[(y+1)*w:(y+2)*w], src[(y+2)*w:(y+3)*w]
			d, a := dst[oy*gw.out:(oy+1)*gw.out], arg[oy*gw.out:(oy+1)*gw.out]
			for ox := ox0; ox < ox1; ox++ {
				x := ox*gw.stride - gw.pad
				if x < 0 || x+2 >= len(r0) || x+2 >= len(r1) || x+2 >= len(r2) {
					panic("autograd: max pooling window outside the plane")
				}
				best, bi := r0[x], x
				if v := r0[x+1]; v > best || v != v {
					best, bi = v, x+1
				}
				if v := r0[x+2]; v > best || v != v {
					best, bi = v, x+2
				}
				if v := r1[x]; v > best || v != v {
					best, bi = v, w+x
				}
				if v := r1[x+1]; v > best || v != v {
					best, bi = v, w+x+1
				}
				if v := r1[x+2]; v > best || v != v {
					best, bi = v, w+x+2
				}
				if v := r2[x]; v > best || v != v {
					best, bi = v, 2*w+x
				}
				if v := r2[x+1]; v > best || v != v {
					best, bi = v, 2*w+x+1
				}
				if v := r2[x+2]; v > best || v != v {
					best, bi = v, 2*w+x+2
				}
				d[ox], a[ox] = best, int32(y*w+bi)
			}
		}
		return
	}
	for oy := oy0; oy < oy1; oy++ {
		y0 := oy*gh.stride - gh.pad
		for ox := ox0; ox < ox1; ox++ {
			x0 := ox*gw.stride - gw.pad
			bi := y0*w + x0
			best := src[bi]
			for ky := 0; ky < gh.k; ky++ {
				row := src[(y0+ky*gh.dil)*w:]
				for kx := 0; kx < gw.k; kx++ {
					x := x0 + kx*gw.dil
					if v := row[x]; v > best || v != v {
						best, bi = v, (y0+ky*gh.dil)*w+x
					}
				}
			}
			dst[oy*gw.out+ox] = best
			arg[oy*gw.out+ox] = int32(bi)
		}
	}
}

// maxPoolInside is MaxPool2d on one plane whose windows all lie inside it.
func maxPoolInside(gh, gw poolGeom, src, dst []float32, arg []int32) {
	if gh.k == 2 && gw.k == 2 && gh.stride == 2 && gw.stride == 2 && gh.dil == 1 && gw.dil == 1 {
		maxPool2x2(gh.out, gw.out, gw.in, src, dst, arg)
		return
	}
	for oy := 0; oy < gh.out; oy++ {
		y0 := oy * gh.stride
		for ox := 0; ox < gw.out; ox++ {
			x0 := ox * gw.stride
			bi := y0*gw.in + x0
			best := src[bi]
			for ky := 0; ky < gh.k; ky++ {
				row := src[(y0+ky*gh.dil)*gw.in:]
				for kx := 0; kx < gw.k; kx++ {
					x := x0 + kx*gw.dil
					if v := row[x]; v > best || v != v {
						best, bi = v, (y0+ky*gh.dil)*gw.in+x
					}
				}
			}
			dst[oy*gw.out+ox] = best
			arg[oy*gw.out+ox] = int32(bi)
		}
	}
}

// maxPool2x2 is 2×2 max pooling with stride 2 over a plane of width w.
func maxPool2x2(oh, ow, w int, src, dst []float32, arg []int32) {
	for oy := 0; oy < oh; oy++ {
		i0 := 2 * oy * w
		r0, r1 := src[i0:i0+w], src[i0+w:i0+2*w]
		d, a := dst[oy*ow:(oy+1)*ow], arg[oy*ow:(oy+1)*ow]
		for ox := range d {
			x := 2 * ox
			best, bi := r0[x], i0+x
			if v := r0[x+1]; v > best || v != v && best == best {
				best, bi = v, i0+x+1
			}
			if v := r1[x]; v > best || v != v && best == best {
				best, bi = v, i0+w+x
			}
			if v := r1[x+1]; v > best || v != v && best == best {
				best, bi = v, i0+w+x+1
			}
			d[ox], a[ox] = best, int32(bi)
		}
	}
}

func (o *maxPoolOp) Backward(g *tensor.Tensor) []*tensor.Tensor {
	s := o.x.Shape()
	gx := tensor.Zeros(s...)
	inPlane, outPlane := o.g[0].in*o.g[1].in, o.g[0].out*o.g[1].out
	gd, gxd := g.Data(), gx.Data()
	par.Workers(s[0]*s[1], 0, func(_, lo, hi int) {
		for p := lo; p < hi; p++ {
			dst := gxd[p*inPlane : (p+1)*inPlane]
			arg := o.arg[p*outPlane : (p+1)*outPlane]
			for i, v := range gd[p*outPlane : (p+1)*outPlane] {
				if a := arg[i]; a >= 0 {
					dst[a] += v
				}
			}
		}
	})
	return []*tensor.Tensor{gx}
}

// AvgPool2dOptions configures AvgPool2d. A zero Stride means the kernel
// size. The zero value of ExcludePad counts padding zeros in the divisor,
// PyTorch's default count_include_pad=True.
type AvgPool2dOptions struct {
	Kernel     [2]int
	Stride     [2]int
	Padding    [2]int // implicit zeros on each side; at most half the kernel
	CeilMode   bool   // round the output size up instead of down
	ExcludePad bool   // divide by the number of input elements in the window only
}

// AvgPool2d returns the mean of x (N×C×H×W) over each pooling window.
func AvgPool2d(x *Var, opt AvgPool2dOptions) *Var {
	g := poolAxes("AvgPool2d", x.Shape(), opt.Kernel, opt.Stride, opt.Padding, [2]int{1, 1}, opt.CeilMode)
	op := &avgPoolOp{x: x, out: [2]int{g[0].out, g[1].out}, opt: opt}
	for i := range 2 {
		op.win[i] = avgWindows(g[i], opt.ExcludePad)
	}
	return Apply(op)
}

// AdaptiveAvgPool2d returns the mean of x (N×C×H×W) over outH×outW windows
// that tile the input as PyTorch's adaptive_avg_pool2d does: output row i
// covers input rows floor(i·H/outH) to ceil((i+1)·H/outH).
func AdaptiveAvgPool2d(x *Var, outH, outW int) *Var {
	s := x.Shape()
	if len(s) != 4 || outH <= 0 || outW <= 0 || s[2] == 0 || s[3] == 0 {
		panic(fmt.Sprintf("autograd: AdaptiveAvgPool2d of %v to %d×%d", s, outH, outW))
	}
	op := &avgPoolOp{x: x, out: [2]int{outH, outW}, adaptive: true}
	for i, n := range op.out {
		in := s[2+i]
		w := make([]window, n)
		for j := range w {
			lo, hi := j*in/n, ((j+1)*in+n-1)/n
			w[j] = window{lo: lo, hi: hi, div: hi - lo}
		}
		op.win[i] = w
	}
	return Apply(op)
}

// window is the input range [lo, hi) an average covers along one axis, and
// that axis's share of the divisor.
type window struct{ lo, hi, div int }

func avgWindows(g poolGeom, excludePad bool) []window {
	w := make([]window, g.out)
	for i := range w {
		start := i*g.stride - g.pad
		end := min(start+g.k, g.in+g.pad)
		div := end - start
		start, end = max(start, 0), min(end, g.in)
		if excludePad {
			div = end - start
		}
		w[i] = window{lo: start, hi: end, div: div}
	}
	return w
}

type avgPoolOp struct {
	x   *Var
	out [2]int
	win [2][]window
	// adaptive and opt say how the windows were made, for Describe.
	adaptive bool
	opt      AvgPool2dOptions
}

func (o *avgPoolOp) Operands() []*Var { return []*Var{o.x} }

func (o *avgPoolOp) Forward() *tensor.Tensor {
	s := o.x.Shape()
	h, w := s[2], s[3]
	out := tensor.Zeros(s[0], s[1], o.out[0], o.out[1])
	xd, od := o.x.value.Data(), out.Data()
	for p := 0; p < s[0]*s[1]; p++ {
		src := xd[p*h*w : (p+1)*h*w]
		dst := od[p*o.out[0]*o.out[1] : (p+1)*o.out[0]*o.out[1]]
		for oy, wy := range o.win[0] {
			for ox, wx := range o.win[1] {
				var acc float32
				for y := wy.lo; y < wy.hi; y++ {
					for _, v := range src[y*w+wx.lo : y*w+wx.hi] {
						acc += v
					}
				}
				dst[oy*o.out[1]+ox] = acc / float32(wy.div*wx.div)
			}
		}
	}
	return out
}

func (o *avgPoolOp) Backward(g *tensor.Tensor) []*tensor.Tensor {
	s := o.x.Shape()
	h, w := s[2], s[3]
	gx := tensor.Zeros(s...)
	gd, gxd := g.Data(), gx.Data()
	for p := 0; p < s[0]*s[1]; p++ {
		dst := gxd[p*h*w : (p+1)*h*w]
		src := gd[p*o.out[0]*o.out[1] : (p+1)*o.out[0]*o.out[1]]
		for oy, wy := range o.win[0] {
			for ox, wx := range o.win[1] {
				v := src[oy*o.out[1]+ox] / float32(wy.div*wx.div)
				for y := wy.lo; y < wy.hi; y++ {
					addConst(dst[y*w+wx.lo:y*w+wx.hi], v)
				}
			}
		}
	}
	return []*tensor.Tensor{gx}
}

// GeM is generalised-mean pooling over the spatial positions of x
// (N×C×H×W), as the re-ID literature writes it (Radenović et al.):
// (mean over H×W of clamp(x, eps)^p)^(1/p), returned as N×C. The exponent
// p is a Var of one element and receives a gradient: p = 1 is average
// pooling, large p tends to max pooling. It is composed of Clamp, Log, Mul,
// Exp, MeanAxes and Div, so its backward is theirs; x^p is computed as
// exp(p·log x), which the clamp keeps finite.
func GeM(x, p *Var, eps float32) *Var {
	s := x.Shape()
	if len(s) != 4 || s[2] == 0 || s[3] == 0 || p.value.Len() != 1 || !(eps > 0) {
		panic(fmt.Sprintf("autograd: GeM of %v with exponent %v and eps %g", s, p.Shape(), eps))
	}
	// p of shape [1] broadcasts against both; used as it is, it stays the
	// parameter a tracer names by the state dict.
	logX := Log(Clamp(x, eps, float32(math.Inf(1))))
	m := MeanAxes(Exp(Mul(logX, p)), false, 2, 3)
	return Exp(Div(Log(m), p))
}
