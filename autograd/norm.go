package autograd

import (
	"fmt"
	"math"

	"argus/internal/kernels"
	"argus/internal/par"
	"argus/tensor"
)

// BatchNormOptions configures BatchNorm2d.
type BatchNormOptions struct {
	// Training normalises with the batch statistics and updates the running
	// statistics; otherwise the running statistics normalise.
	Training bool
	// Momentum weighs the batch statistics in the running-statistic update
	// running = (1−Momentum)·running + Momentum·batch (PyTorch uses 0.1).
	Momentum float32
	// Eps is added to the variance; zero means PyTorch's 1e-5.
	Eps float32
}

// BatchNorm2d normalises x (N×C×H×W, or any N×C×... shape) per channel over
// the batch and spatial axes and applies the affine weight and bias (C each,
// or nil for none).
//
// In training it uses the batch mean and biased variance, and, when
// runningMean and runningVar (C each) are not nil, updates them in place
// with the unbiased variance as PyTorch does. In evaluation it normalises
// with runningMean and runningVar, which must then be given.
func BatchNorm2d(x, weight, bias *Var, runningMean, runningVar *tensor.Tensor, opt BatchNormOptions) *Var {
	s := x.Shape()
	if len(s) < 2 {
		panic(fmt.Sprintf("autograd: BatchNorm2d of %v: want N×C×...", s))
	}
	c := s[1]
	for _, p := range []*Var{weight, bias} {
		if p != nil && p.value.Len() != c {
			panic(fmt.Sprintf("autograd: BatchNorm2d affine parameter %v for %d channels", p.Shape(), c))
		}
	}
	for _, t := range []*tensor.Tensor{runningMean, runningVar} {
		if t != nil && t.Len() != c {
			panic(fmt.Sprintf("autograd: BatchNorm2d running statistic %v for %d channels", t.Shape(), c))
		}
	}
	if !opt.Training && (runningMean == nil || runningVar == nil) {
		panic("autograd: BatchNorm2d in evaluation needs running statistics")
	}
	if opt.Training && x.value.Len()/max(c, 1) <= 1 {
		// PyTorch raises "Expected more than 1 value per channel when
		// training"; the statistics of one value would give 0/0. The usual
		// cause is a batch of one on a 1×1 map (PSPNet's bin-1 pyramid branch).
		panic(fmt.Sprintf("autograd: BatchNorm2d in training needs more than one value per channel, got input %v "+
			"(%d per channel): use a batch above 1 or evaluation mode", s, x.value.Len()/max(c, 1)))
	}
	eps := opt.Eps
	if eps == 0 {
		eps = 1e-5
	}
	return Apply(&batchNormOp{x: x, w: weight, b: bias, rm: runningMean, rv: runningVar, training: opt.Training, momentum: opt.Momentum, eps: eps})
}

type batchNormOp struct {
	x, w, b  *Var
	rm, rv   *tensor.Tensor
	training bool
	momentum float32
	eps      float32
	xhat     *tensor.Tensor
	invStd   []float32
}

func (o *batchNormOp) Operands() []*Var { return []*Var{o.x, o.w, o.b} }

func (o *batchNormOp) Forward() *tensor.Tensor {
	n, c, inner := tensor.Split3(o.x.Shape(), 1)
	xd := o.x.value.Data()
	out := tensor.Zeros(o.x.Shape()...)
	od := out.Data()
	// The normalised input is kept for Backward only when it will run;
	// otherwise it is staged in the output, which overwrites it.
	hd := od
	if recording(o.x, o.w, o.b) {
		o.xhat = tensor.Wrap(getBuf(o.x.value.Len()), o.x.Shape()...)
		hd = o.xhat.Data()
	}
	o.invStd = make([]float32, c)
	cnt := float64(n * inner)
	par.Workers(c, 0, func(_, lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			var mean, variance float64
			if o.training {
				// One pass over the channel: the sums of the values and
				// of their squares about a shift (the channel's first value),
				// which keeps the variance accurate when the mean is large.
				shift := float64(xd[ch*inner])
				var s, ss float64
				for i := 0; i < n; i++ {
					s1, s2 := sumShifted(xd[(i*c+ch)*inner:][:inner], float32(shift))
					s += s1
					ss += s2
				}
				mean = shift + s/cnt
				ss -= s * s / cnt
				ss = max(ss, 0)
				variance = ss / cnt
				if o.rm != nil {
					m := float64(o.momentum)
					o.rm.Data()[ch] = float32((1-m)*float64(o.rm.Data()[ch]) + m*mean)
				}
				if o.rv != nil {
					m := float64(o.momentum)
					o.rv.Data()[ch] = float32((1-m)*float64(o.rv.Data()[ch]) + m*ss/(cnt-1))
				}
			} else {
				mean, variance = float64(o.rm.Data()[ch]), float64(o.rv.Data()[ch])
			}
			inv := 1 / math.Sqrt(variance+float64(o.eps))
			o.invStd[ch] = float32(inv)
			w, b := float32(1), float32(0)
			if o.w != nil {
				w = o.w.value.Data()[ch]
			}
			if o.b != nil {
				b = o.b.value.Data()[ch]
			}
			m32, inv32 := float32(mean), float32(inv)
			// Without recording there is nothing to save; the arithmetic is
			// the same, so values match with and without recording to the bit.
			for i := 0; i < n; i++ {
				k := (i*c + ch) * inner
				var h []float32
				if o.xhat != nil {
					h = hd[k : k+inner]
				}
				kernels.NormAffine(od[k:k+inner], h, xd[k:k+inner], m32, inv32, w, b)
			}
		}
	})
	return out
}

func (o *batchNormOp) Backward(g *tensor.Tensor) []*tensor.Tensor {
	n, c, inner := tensor.Split3(o.x.Shape(), 1)
	gd, hd := g.Data(), o.xhat.Data()
	var gx, gw, gb *tensor.Tensor
	if o.x.requiresGrad {
		gx = tensor.Zeros(o.x.Shape()...)
	}
	if o.w != nil && o.w.requiresGrad {
		gw = tensor.Zeros(c)
	}
	if o.b != nil && o.b.requiresGrad {
		gb = tensor.Zeros(c)
	}
	cnt := float64(n * inner)
	par.Workers(c, 0, func(_, lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			var sg, sgh float64
			for i := 0; i < n; i++ {
				k := (i*c + ch) * inner
				h := hd[k : k+inner]
				for j, v := range gd[k : k+inner] {
					sg += float64(v)
					sgh += float64(v) * float64(h[j])
				}
			}
			if gw != nil {
				gw.Data()[ch] = float32(sgh)
			}
			if gb != nil {
				gb.Data()[ch] = float32(sg)
			}
			if gx == nil {
				continue
			}
			w := float32(1)
			if o.w != nil {
				w = o.w.value.Data()[ch]
			}
			scale := w * o.invStd[ch]
			if !o.training {
				for i := 0; i < n; i++ {
					k := (i*c + ch) * inner
					dst := gx.Data()[k : k+inner]
					for j, v := range gd[k : k+inner] {
						dst[j] = v * scale
					}
				}
				continue
			}
			// gx = w·invStd·(g − mean(g) − xhat·mean(g·xhat))
			mg, mgh := float32(sg/cnt), float32(sgh/cnt)
			for i := 0; i < n; i++ {
				k := (i*c + ch) * inner
				kernels.NormGrad(gx.Data()[k:k+inner], gd[k:k+inner], hd[k:k+inner], mg, mgh, scale)
			}
		}
	})
	return []*tensor.Tensor{gx, gw, gb}
}

// sumShifted returns the sum of v−shift and of its squares over xs, in
// float64 from float32 partial sums over blocks short enough to keep the
// float32 rounding small.
func sumShifted(xs []float32, shift float32) (s, ss float64) {
	for len(xs) > 0 {
		blk := xs[:min(len(xs), 256)]
		xs = xs[len(blk):]
		var a0, a1, q0, q1 float32
		j := 0
		for ; j+1 < len(blk); j += 2 {
			d0, d1 := blk[j]-shift, blk[j+1]-shift
			a0 += d0
			a1 += d1
			q0 += d0 * d0
			q1 += d1 * d1
		}
		if j < len(blk) {
			d := blk[j] - shift
			a0 += d
			q0 += d * d
		}
		s += float64(a0) + float64(a1)
		ss += float64(q0) + float64(q1)
	}
	return s, ss
}

// release gives the saved normalised input back to the buffer cache.
func (o *batchNormOp) release() {
	if o.xhat != nil {
		putBuf(o.xhat.Data())
		o.xhat = nil
	}
}

// LayerNorm normalises x over its last len(normShape) dimensions, which must
// equal normShape, and applies the element-wise affine weight and bias
// (shape normShape each, or nil). Eps zero means PyTorch's 1e-5.
func LayerNorm(x *Var, normShape []int, weight, bias *Var, eps float32) *Var {
	s := x.Shape()
	k := len(normShape)
	if k == 0 || k > len(s) || !tensor.EqualShapes(s[len(s)-k:], normShape) {
		panic(fmt.Sprintf("autograd: LayerNorm of %v over %v", s, normShape))
	}
	d := tensor.NumElements(normShape)
	if d == 0 {
		panic(fmt.Sprintf("autograd: LayerNorm of %v over empty %v", s, normShape))
	}
	for _, p := range []*Var{weight, bias} {
		if p != nil && p.value.Len() != d {
			panic(fmt.Sprintf("autograd: LayerNorm affine parameter %v for %v", p.Shape(), normShape))
		}
	}
	if eps == 0 {
		eps = 1e-5
	}
	rows := x.value.Len() / d
	// Layer norm is a group norm with one group per row whose affine
	// parameters vary along the normalised elements.
	return Apply(&groupNormOp{x: x, w: weight, b: bias, rows: rows, size: d, eps: eps, perElem: true, axes: k})
}

// GroupNorm normalises x (N×C×...) over groups of C/groups channels together
// with the spatial axes, and applies the per-channel affine weight and bias
// (C each, or nil). Eps zero means PyTorch's 1e-5.
func GroupNorm(x *Var, groups int, weight, bias *Var, eps float32) *Var {
	s := x.Shape()
	if len(s) < 2 || groups <= 0 || s[1]%groups != 0 || x.value.Len() == 0 {
		panic(fmt.Sprintf("autograd: GroupNorm of %v in %d groups", s, groups))
	}
	c := s[1]
	for _, p := range []*Var{weight, bias} {
		if p != nil && p.value.Len() != c {
			panic(fmt.Sprintf("autograd: GroupNorm affine parameter %v for %d channels", p.Shape(), c))
		}
	}
	if eps == 0 {
		eps = 1e-5
	}
	inner := x.value.Len() / (s[0] * c)
	return Apply(&groupNormOp{x: x, w: weight, b: bias, rows: s[0] * groups, size: c / groups * inner, eps: eps, channels: c, inner: inner, groups: groups})
}

// groupNormOp normalises each of rows contiguous blocks of size elements.
// With perElem the affine parameters are indexed by position within the
// block; otherwise by channel, where a channel is inner consecutive elements
// and channels repeat every channels·inner elements.
type groupNormOp struct {
	x, w, b    *Var
	rows, size int
	eps        float32
	perElem    bool
	channels   int
	inner      int
	// axes (a layer norm's trailing normalised axes) and groups (a group
	// norm's) are for Describe.
	axes, groups int
	xhat         *tensor.Tensor
	invStd       []float32
}

func (o *groupNormOp) Operands() []*Var { return []*Var{o.x, o.w, o.b} }

// param returns the affine parameter index of element j of block row.
func (o *groupNormOp) param(row, j int) int {
	if o.perElem {
		return j
	}
	return ((row*o.size + j) / o.inner) % o.channels
}

func (o *groupNormOp) Forward() *tensor.Tensor {
	xd := o.x.value.Data()
	out := tensor.Zeros(o.x.Shape()...)
	od := out.Data()
	// The normalised input is kept for Backward only when it will run;
	// otherwise it is staged in the output, which overwrites it.
	hd := od
	if recording(o.x, o.w, o.b) {
		o.xhat = tensor.Zeros(o.x.Shape()...)
		hd = o.xhat.Data()
	}
	o.invStd = make([]float32, o.rows)
	var wd, bd []float32
	if o.w != nil {
		wd = o.w.value.Data()
	}
	if o.b != nil {
		bd = o.b.value.Data()
	}
	par.Workers(o.rows, 0, func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			src := xd[r*o.size : (r+1)*o.size]
			var s float64
			for _, v := range src {
				s += float64(v)
			}
			mean := s / float64(o.size)
			var ss float64
			for _, v := range src {
				d := float64(v) - mean
				ss += d * d
			}
			inv := float32(1 / math.Sqrt(ss/float64(o.size)+float64(o.eps)))
			o.invStd[r] = inv
			m := float32(mean)
			h, dst := hd[r*o.size:(r+1)*o.size], od[r*o.size:(r+1)*o.size]
			for j, v := range src {
				xh := (v - m) * inv
				h[j] = xh
				y := xh
				if wd != nil || bd != nil {
					p := o.param(r, j)
					if wd != nil {
						y *= wd[p]
					}
					if bd != nil {
						y += bd[p]
					}
				}
				dst[j] = y
			}
		}
	})
	return out
}

func (o *groupNormOp) Backward(g *tensor.Tensor) []*tensor.Tensor {
	gd, hd := g.Data(), o.xhat.Data()
	var gx, gw, gb *tensor.Tensor
	if o.w != nil && o.w.requiresGrad {
		gw = tensor.Zeros(o.w.Shape()...)
	}
	if o.b != nil && o.b.requiresGrad {
		gb = tensor.Zeros(o.b.Shape()...)
	}
	// Parameter gradients are sums over rows; done serially to avoid races.
	if gw != nil || gb != nil {
		for r := 0; r < o.rows; r++ {
			h, gr := hd[r*o.size:(r+1)*o.size], gd[r*o.size:(r+1)*o.size]
			for j, v := range gr {
				p := o.param(r, j)
				if gw != nil {
					gw.Data()[p] += v * h[j]
				}
				if gb != nil {
					gb.Data()[p] += v
				}
			}
		}
	}
	if o.x.requiresGrad {
		gx = tensor.Zeros(o.x.Shape()...)
		var wd []float32
		if o.w != nil {
			wd = o.w.value.Data()
		}
		par.Workers(o.rows, 0, func(_, lo, hi int) {
			gh := make([]float32, o.size)
			for r := lo; r < hi; r++ {
				h, gr := hd[r*o.size:(r+1)*o.size], gd[r*o.size:(r+1)*o.size]
				var s, sh float64
				for j, v := range gr {
					if wd != nil {
						v *= wd[o.param(r, j)]
					}
					gh[j] = v
					s += float64(v)
					sh += float64(v) * float64(h[j])
				}
				m, mh := float32(s/float64(o.size)), float32(sh/float64(o.size))
				inv := o.invStd[r]
				dst := gx.Data()[r*o.size : (r+1)*o.size]
				for j, v := range gh {
					dst[j] = inv * (v - m - h[j]*mh)
				}
			}
		})
	}
	return []*tensor.Tensor{gx, gw, gb}
}

// recording reports whether an op over these operands will be recorded, so
// that its Backward may run.
func recording(vs ...*Var) bool {
	for _, v := range vs {
		if v != nil && v.requiresGrad {
			return true
		}
	}
	return false
}

func (o *batchNormOp) ownsGrads() {}
