package autograd

import (
	"fmt"
	"math"
	"slices"

	"argus/internal/par"
	"argus/tensor"
)

// RoIAlignOptions configures RoIAlign and, through PoolerOptions,
// MultiLevelRoIAlign.
type RoIAlignOptions struct {
	// OutputSize is the height and width of the pooled grid (7×7 in
	// Sparse R-CNN).
	OutputSize [2]int
	// SpatialScale maps image pixels to feature-map pixels: 1/stride. The
	// pooler sets it per level and ignores this field.
	SpatialScale float32
	// SamplingRatio is the number of sample points per bin along each
	// axis; 0 or less takes ceil(box size / output size) per box and
	// axis, as torchvision does.
	SamplingRatio int
	// Aligned shifts the box by half a feature pixel, so that a box's
	// corners fall on pixel edges rather than pixel centres
	// (torchvision's aligned=True, Detectron2's ROIAlignV2). Without it a
	// box is at least one feature pixel wide and high, as torchvision's
	// aligned=False.
	Aligned bool
}

// RoIAlign pools each box of boxes (K×4, xyxy in image pixels) from the
// image batch[k] of x (N×C×H×W) into a C×OutputSize grid, giving K×C×oh×ow:
// each bin is the mean of a grid of bilinear samples, as
// torchvision.ops.roi_align computes it, sample for sample in float32.
// Samples more than one pixel outside the feature map count as zero. The
// boxes are constants: gradients flow to x only.
func RoIAlign(x *Var, boxes *tensor.Tensor, batch []int, opt RoIAlignOptions) *Var {
	if !(opt.SpatialScale > 0) {
		panic(fmt.Sprintf("autograd: RoIAlign with spatial scale %v", opt.SpatialScale))
	}
	k := checkRoIs("RoIAlign", []*Var{x}, boxes, batch, opt)
	return Apply(newRoIAlignOp([]*Var{x}, []float32{opt.SpatialScale}, make([]int, k), boxes, batch, opt))
}

// PoolerOptions configures MultiLevelRoIAlign: the RoIAlign settings
// (SpatialScale aside) and the rule that picks a box's level,
//
//	level = floor(CanonicalLevel + log2(sqrt(area)/CanonicalSize) + Eps),
//
// clamped to the levels of the feature maps given.
type PoolerOptions struct {
	RoIAlignOptions
	// MinLevel is the level of the first feature map, whose stride is
	// 2^MinLevel (2 for P2).
	MinLevel int
	// CanonicalLevel is the level of a box of side CanonicalSize (4 in
	// the FPN paper).
	CanonicalLevel int
	// CanonicalSize is the box side, in image pixels, that goes to
	// CanonicalLevel: 224 in the FPN paper and torchvision, for images
	// of about 800 pixels; ScaledCanonical scales it to other canvases.
	CanonicalSize float32
	// Eps is added before the floor: torchvision's MultiScaleRoIAlign
	// uses 1e-6, so that a box of exactly twice the canonical size is not
	// put a level down by rounding.
	Eps float32
}

// ScaledCanonical returns the canonical box side for images of h×w
// pixels: the FPN paper's 224 for a shorter side of 800 (COCO's training
// size), scaled in proportion to the shorter side. With the fixed 224 of
// torchvision and Detectron2 a small canvas puts every box on the finest
// level; this scaling is argus's choice, not the paper's.
func ScaledCanonical(h, w int) float32 {
	return 224 * float32(min(h, w)) / 800
}

// PoolerLevels returns the index into the feature maps (0 for the finest)
// of each box of boxes (K×4 xyxy) under opt's rule, for n levels.
// torchvision's MultiScaleRoIAlign computes the same in float32.
func PoolerLevels(boxes *tensor.Tensor, n int, opt PoolerOptions) []int {
	if s := boxes.Shape(); len(s) != 2 || s[1] != 4 {
		panic(fmt.Sprintf("autograd: PoolerLevels of boxes %v", s))
	}
	if !(opt.CanonicalSize > 0) || n < 1 {
		panic(fmt.Sprintf("autograd: PoolerLevels with canonical size %v over %d levels", opt.CanonicalSize, n))
	}
	b := boxes.Data()
	levels := make([]int, len(b)/4)
	lvl0, eps := float32(opt.CanonicalLevel), opt.Eps
	for i := range levels {
		area := (b[4*i+2] - b[4*i]) * (b[4*i+3] - b[4*i+1])
		s := float32(math.Sqrt(float64(area)))
		t := lvl0 + float32(math.Log2(float64(s/opt.CanonicalSize))) + eps
		// NaN (a negative area) and -Inf (an empty box) go to the
		// finest level, as torch's clamp sends -Inf there.
		l := 0
		if f := math.Floor(float64(t)); f >= float64(opt.MinLevel) {
			l = int(min(f-float64(opt.MinLevel), float64(n-1)))
		}
		levels[i] = l
	}
	return levels
}

// MultiLevelRoIAlign pools each box from one of the feature maps features
// (each N×C×Hl×Wl, the first of stride 2^MinLevel, each next one of twice
// the stride): the level PoolerLevels picks, at spatial scale
// 2^-(MinLevel+level). The result is K×C×oh×ow in the boxes' order, as
// torchvision.ops.MultiScaleRoIAlign returns it.
func MultiLevelRoIAlign(features []*Var, boxes *tensor.Tensor, batch []int, opt PoolerOptions) *Var {
	if len(features) == 0 {
		panic("autograd: MultiLevelRoIAlign of no feature maps")
	}
	checkRoIs("MultiLevelRoIAlign", features, boxes, batch, opt.RoIAlignOptions)
	scales := make([]float32, len(features))
	for l := range scales {
		scales[l] = float32(math.Ldexp(1, -(opt.MinLevel + l)))
	}
	levels := PoolerLevels(boxes, len(features), opt)
	return Apply(newRoIAlignOp(features, scales, levels, boxes, batch, opt.RoIAlignOptions))
}

// checkRoIs panics unless the feature maps, boxes and batch indices fit
// together, and returns the number of boxes.
func checkRoIs(name string, xs []*Var, boxes *tensor.Tensor, batch []int, opt RoIAlignOptions) int {
	bs := boxes.Shape()
	if len(bs) != 2 || bs[1] != 4 || len(batch) != bs[0] || opt.OutputSize[0] <= 0 || opt.OutputSize[1] <= 0 {
		panic(fmt.Sprintf("autograd: %s of boxes %v with %d batch indices to %v", name, bs, len(batch), opt.OutputSize))
	}
	s0 := xs[0].Shape()
	for _, x := range xs {
		s := x.Shape()
		if len(s) != 4 || s[0] != s0[0] || s[1] != s0[1] {
			panic(fmt.Sprintf("autograd: %s of feature maps %v and %v", name, s0, s))
		}
	}
	for _, b := range batch {
		if b < 0 || b >= s0[0] {
			panic(fmt.Sprintf("autograd: %s: batch index %d of %d images", name, b, s0[0]))
		}
	}
	return bs[0]
}

// roiTap is one sample coordinate along one axis: the two neighbouring
// pixel rows (or columns) and their weights, hi for lo and lo for hi as
// torchvision names them (hy = 1 − ly). An invalid tap, a sample more than
// one pixel outside the map, has lo < 0.
type roiTap struct {
	lo, hi int32
	wLo    float32 // weight of pixel lo: 1 − frac
	wHi    float32 // weight of pixel hi: frac
}

// roiGeom is the sampling geometry of one box: its level, image, sample
// grid per bin and where its taps start.
type roiGeom struct {
	level, image int
	gh, gw       int     // samples per bin along y and x
	count        float32 // samples averaged per bin, at least 1
	yt, xt       int     // offsets of the box's taps in ytaps and xtaps
}

// roiAlignOp pools boxes from one or more feature maps. Its geometry —
// per box and axis the samples' pixel pairs and weights — is computed once;
// the bilinear weight of a sample is the product of its two axes' weights,
// as torchvision forms it.
type roiAlignOp struct {
	xs     []*Var
	scales []float32 // per level
	boxes  *tensor.Tensor
	batch  []int
	levels []int
	opt    RoIAlignOptions
	geom   []roiGeom
	ytaps  []roiTap
	xtaps  []roiTap
}

func newRoIAlignOp(xs []*Var, scales []float32, levels []int, boxes *tensor.Tensor, batch []int, opt RoIAlignOptions) *roiAlignOp {
	// The boxes and indices are copied: the caller may reuse them, and
	// Describe reports them.
	o := &roiAlignOp{xs: xs, scales: scales, boxes: boxes.Clone(), batch: slices.Clone(batch), levels: levels, opt: opt,
		geom: make([]roiGeom, len(batch))}
	oh, ow := opt.OutputSize[0], opt.OutputSize[1]
	var offset float32
	if opt.Aligned {
		offset = 0.5
	}
	b := boxes.Data()
	for k := range o.geom {
		l := levels[k]
		s := xs[l].Shape()
		h, w := s[2], s[3]
		scale := scales[l]
		x0, y0 := b[4*k]*scale-offset, b[4*k+1]*scale-offset
		x1, y1 := b[4*k+2]*scale-offset, b[4*k+3]*scale-offset
		rw, rh := x1-x0, y1-y0
		if !opt.Aligned {
			rw, rh = max(rw, 1), max(rh, 1)
		}
		binH, binW := rh/float32(oh), rw/float32(ow)
		gh, gw := opt.SamplingRatio, opt.SamplingRatio
		if gh <= 0 {
			gh, gw = ceilGrid(rh/float32(oh)), ceilGrid(rw/float32(ow))
		}
		g := &o.geom[k]
		*g = roiGeom{level: l, image: batch[k], gh: max(gh, 0), gw: max(gw, 0),
			count: float32(max(gh*gw, 1)), yt: len(o.ytaps), xt: len(o.xtaps)}
		o.ytaps = appendTaps(o.ytaps, y0, binH, oh, g.gh, h)
		o.xtaps = appendTaps(o.xtaps, x0, binW, ow, g.gw, w)
	}
	return o
}

// ceilGrid returns ceil(v) as torchvision's adaptive sampling grid, and 0
// for a non-finite v, which would otherwise ask for a grid of any size.
func ceilGrid(v float32) int {
	if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
		return 0
	}
	return int(math.Ceil(float64(v)))
}

// appendTaps appends the taps of bins [0, bins) with grid samples each
// along an axis of n pixels that starts at start with bins of size bin.
func appendTaps(taps []roiTap, start, bin float32, bins, grid, n int) []roiTap {
	for p := range bins {
		for i := range grid {
			v := start + float32(p)*bin + (float32(i)+0.5)*bin/float32(grid)
			taps = append(taps, bilinearTap(v, n))
		}
	}
	return taps
}

// bilinearTap is torchvision's bilinear_interpolate along one axis of n
// pixels.
func bilinearTap(v float32, n int) roiTap {
	if !(v >= -1 && v <= float32(n)) { // NaN is outside too
		return roiTap{lo: -1, hi: -1}
	}
	v = max(v, 0)
	lo := int(v)
	hi := lo + 1
	if lo >= n-1 {
		lo, hi = n-1, n-1
		v = float32(lo)
	}
	f := v - float32(lo)
	return roiTap{lo: int32(lo), hi: int32(hi), wLo: 1 - f, wHi: f}
}

func (o *roiAlignOp) Operands() []*Var { return o.xs }

// plane returns the offset and width of channel c of box k's image in its
// level's data.
func (o *roiAlignOp) plane(k, c int) (off, w int) {
	g := &o.geom[k]
	s := o.xs[g.level].Shape()
	return ((g.image * s[1]) + c) * s[2] * s[3], s[3]
}

// roiSample is one bilinear sample of a bin: the offsets of its four
// pixels in a plane and their weights, torchvision's PreCalc. A sample
// outside the map has zero weights.
type roiSample struct {
	p1, p2, p3, p4 int32
	w1, w2, w3, w4 float32
}

// samples fills the bilinear samples of box k, bin after bin, from its
// axes' taps, and returns them.
func (o *roiAlignOp) samples(k int, buf []roiSample) []roiSample {
	g := &o.geom[k]
	w := o.xs[g.level].Shape()[3]
	oh, ow := o.opt.OutputSize[0], o.opt.OutputSize[1]
	buf = buf[:0]
	for ph := range oh {
		yts := o.ytaps[g.yt+ph*g.gh : g.yt+(ph+1)*g.gh]
		for pw := range ow {
			xts := o.xtaps[g.xt+pw*g.gw : g.xt+(pw+1)*g.gw]
			for _, ty := range yts {
				for _, tx := range xts {
					if ty.lo < 0 || tx.lo < 0 {
						buf = append(buf, roiSample{})
						continue
					}
					r0, r1 := ty.lo*int32(w), ty.hi*int32(w)
					buf = append(buf, roiSample{
						p1: r0 + tx.lo, p2: r0 + tx.hi, p3: r1 + tx.lo, p4: r1 + tx.hi,
						w1: ty.wLo * tx.wLo, w2: ty.wLo * tx.wHi, w3: ty.wHi * tx.wLo, w4: ty.wHi * tx.wHi,
					})
				}
			}
		}
	}
	return buf
}

// Forward runs over boxes in parallel, as torchvision's loop over boxes
// does serially: each box's samples are computed once and read for every
// channel, and each box writes its own rows of the output, so the result
// does not depend on the workers.
func (o *roiAlignOp) Forward() *tensor.Tensor {
	c := o.xs[0].Shape()[1]
	oh, ow := o.opt.OutputSize[0], o.opt.OutputSize[1]
	bins := oh * ow
	out := tensor.Zeros(len(o.geom), c, oh, ow)
	od := out.Data()
	par.For(len(o.geom), 1, func(k int) {
		g := &o.geom[k]
		s := o.xs[g.level].Shape()
		hw := s[2] * s[3]
		smp := o.samples(k, make([]roiSample, 0, bins*g.gh*g.gw))
		per := g.gh * g.gw
		data := o.xs[g.level].value.Data()
		plane := func(ch int) []float32 { return data[(g.image*c+ch)*hw : (g.image*c+ch+1)*hw] }
		row := func(ch int) []float32 { return od[(k*c+ch)*bins : (k*c+ch+1)*bins] }
		ch := 0
		// Four channels at a time read each sample's offsets and weights
		// once; every channel's sum is still formed in torchvision's order.
		for ; ch+4 <= c; ch += 4 {
			s0, s1, s2, s3 := plane(ch), plane(ch+1), plane(ch+2), plane(ch+3)
			d0, d1, d2, d3 := row(ch), row(ch+1), row(ch+2), row(ch+3)
			for b := range bins {
				var a0, a1, a2, a3 float32
				for _, p := range smp[b*per : (b+1)*per] {
					a0 += p.w1*s0[p.p1] + p.w2*s0[p.p2] + p.w3*s0[p.p3] + p.w4*s0[p.p4]
					a1 += p.w1*s1[p.p1] + p.w2*s1[p.p2] + p.w3*s1[p.p3] + p.w4*s1[p.p4]
					a2 += p.w1*s2[p.p1] + p.w2*s2[p.p2] + p.w3*s2[p.p3] + p.w4*s2[p.p4]
					a3 += p.w1*s3[p.p1] + p.w2*s3[p.p2] + p.w3*s3[p.p3] + p.w4*s3[p.p4]
				}
				d0[b], d1[b], d2[b], d3[b] = a0/g.count, a1/g.count, a2/g.count, a3/g.count
			}
		}
		for ; ch < c; ch++ {
			src, dst := plane(ch), row(ch)
			for b := range dst {
				var sum float32
				for _, p := range smp[b*per : (b+1)*per] {
					sum += p.w1*src[p.p1] + p.w2*src[p.p2] + p.w3*src[p.p3] + p.w4*src[p.p4]
				}
				dst[b] = sum / g.count
			}
		}
	})
	return out
}

// Backward scatters each bin's gradient over its samples' pixels. It runs
// over channels in parallel, and within a channel visits boxes, bins and
// samples in torchvision's order, so every pixel's gradient is summed in
// one order whatever the number of workers. A bin's gradient is divided by
// its sample count once, before the weights multiply it, where torchvision
// divides each weighted term: the results agree to rounding.
func (o *roiAlignOp) Backward(gOut *tensor.Tensor) []*tensor.Tensor {
	c := o.xs[0].Shape()[1]
	oh, ow := o.opt.OutputSize[0], o.opt.OutputSize[1]
	grads := make([]*tensor.Tensor, len(o.xs))
	for l, x := range o.xs {
		if x.requiresGrad {
			grads[l] = tensor.Zeros(x.Shape()...)
		}
	}
	gd := gOut.Data()
	par.For(c, 1, func(ch int) {
		for k := range o.geom {
			g := &o.geom[k]
			if grads[g.level] == nil {
				continue
			}
			off, w := o.plane(k, ch)
			dst := grads[g.level].Data()[off:]
			src := gd[(k*c+ch)*oh*ow : (k*c+ch+1)*oh*ow]
			for ph := range oh {
				yts := o.ytaps[g.yt+ph*g.gh : g.yt+(ph+1)*g.gh]
				for pw := range ow {
					xts := o.xtaps[g.xt+pw*g.gw : g.xt+(pw+1)*g.gw]
					v := src[ph*ow+pw] / g.count
					for _, ty := range yts {
						if ty.lo < 0 {
							continue
						}
						r0, r1 := dst[int(ty.lo)*w:], dst[int(ty.hi)*w:]
						v0, v1 := v*ty.wLo, v*ty.wHi
						for _, tx := range xts {
							if tx.lo < 0 {
								continue
							}
							r0[tx.lo] += v0 * tx.wLo
							r0[tx.hi] += v0 * tx.wHi
							r1[tx.lo] += v1 * tx.wLo
							r1[tx.hi] += v1 * tx.wHi
						}
					}
				}
			}
		}
	})
	return grads
}
