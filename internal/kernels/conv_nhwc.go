package kernels

import (
	"fmt"
	"math"
	"runtime"

	"argus/internal/geom"
)

// NHWC is a batch of images stored pixel by pixel with the channels of a
// pixel adjacent (N×H×W×C), each image framed by a border of Pad zero
// pixels on every side. The border lets a convolution read its padding
// from memory instead of testing bounds, so that a register tile of output
// pixels is always a run of input pixels at one stride. Channel c of pixel
// (y, x) of image n, for -Pad <= y < H+Pad and likewise x, lies at
// Data[n*ImageStride() + (y+Pad)*RowStride() + (x+Pad)*C + c].
type NHWC struct {
	N, H, W, C int
	Pad        int
	Data       []float32
}

// NewNHWC returns a zeroed batch of images with a border of pad pixels.
func NewNHWC(n, h, w, c, pad int) NHWC {
	x := NHWC{N: n, H: h, W: w, C: c, Pad: pad}
	x.Data = make([]float32, n*x.ImageStride())
	return x
}

// RowStride returns the floats between vertically adjacent pixels.
func (x NHWC) RowStride() int { return (x.W + 2*x.Pad) * x.C }

// ImageStride returns the floats between images.
func (x NHWC) ImageStride() int { return (x.H + 2*x.Pad) * x.RowStride() }

// Offset returns the index in Data of channel 0 of pixel (y, x) of image n.
func (x NHWC) Offset(n, y, xx int) int {
	return n*x.ImageStride() + (y+x.Pad)*x.RowStride() + (xx+x.Pad)*x.C
}

func (x NHWC) check(name string) {
	if x.N < 0 || x.H < 1 || x.W < 1 || x.C < 1 || x.Pad < 0 || len(x.Data) < x.N*x.ImageStride() {
		panic(fmt.Sprintf("kernels: %s NHWC %dx%dx%dx%d pad %d with %d floats", name, x.N, x.H, x.W, x.C, x.Pad, len(x.Data)))
	}
}

// checkConv panics unless the resolved 2-D window w of a kh×kw
// convolution from cin to cout channels fits src, dst and res, and src's
// border covers every tap the window reads outside the image. It returns
// the window unpacked.
func checkConv(name string, dst, src NHWC, w geom.Window, cin, cout, kh, kw int, res *NHWC) plane {
	src.check(name + " input")
	dst.check(name + " output")
	p := planeOf(w, cin)
	if src.C != cin || dst.C != cout || dst.N != src.N || p.H != src.H || p.W != src.W || p.KH != kh || p.KW != kw || dst.H != p.OH || dst.W != p.OW {
		panic(fmt.Sprintf("kernels: %s of %dx%dx%dx%d by %dx%d filters from %d to %d channels with %v into %dx%dx%dx%d",
			name, src.N, src.H, src.W, src.C, kh, kw, cin, cout, w, dst.N, dst.H, dst.W, dst.C))
	}
	// The first and last positions each dimension reads.
	lastY := (p.OH-1)*p.StrideH - p.PadH + (p.KH-1)*p.DilH
	lastX := (p.OW-1)*p.StrideW - p.PadW + (p.KW-1)*p.DilW
	if p.PadH < 0 || p.PadW < 0 || src.Pad < p.PadH || src.Pad < p.PadW || lastY >= src.H+src.Pad || lastX >= src.W+src.Pad {
		panic(fmt.Sprintf("kernels: %s input border %d is narrower than the padding of %v", name, src.Pad, w))
	}
	checkResidual(name, res, dst)
	return p
}

// PackedConv holds a convolution's weights packed for ConvNHWC: for each
// block of nr output channels, the taps (ky, kx) and input channels c in
// that order as rows of nr floats, zero past the last output channel.
type PackedConv struct {
	Cout, Cin, KH, KW int
	k                 *convKernel
	w, bias           []float32
}

// PackConv packs OIHW weights (cout×cin×kh×kw, PyTorch's layout) and an
// optional bias (nil for none) for ConvNHWC.
func PackConv(w, bias []float32, cout, cin, kh, kw int) *PackedConv {
	return packConvWith(convBest, w, bias, cout, cin, kh, kw)
}

func packConvWith(k *convKernel, w, bias []float32, cout, cin, kh, kw int) *PackedConv {
	if cout < 1 || cin < 1 || kh < 1 || kw < 1 || len(w) != cout*cin*kh*kw || (bias != nil && len(bias) != cout) {
		panic(fmt.Sprintf("kernels: PackConv of %d floats as %dx%dx%dx%d with %d bias values", len(w), cout, cin, kh, kw, len(bias)))
	}
	nr := k.nr
	panels := (cout + nr - 1) / nr
	rows := kh * kw * cin
	pc := &PackedConv{Cout: cout, Cin: cin, KH: kh, KW: kw, k: k,
		w: make([]float32, panels*rows*nr), bias: make([]float32, panels*nr)}
	for o := range cout {
		panel, j := o/nr, o%nr
		dst := pc.w[panel*rows*nr:]
		for c := range cin {
			for y := range kh {
				for x := range kw {
					dst[((y*kw+x)*cin+c)*nr+j] = w[((o*cin+c)*kh+y)*kw+x]
				}
			}
		}
	}
	copy(pc.bias, bias)
	return pc
}

// Clamp bounds a convolution's outputs to [Lo, Hi]: a ReLU is
// Clamp{0, +Inf}, a ReLU6 Clamp{0, 6}. A NaN stays NaN, as in PyTorch.
type Clamp struct{ Lo, Hi float32 }

// The epilogue flags of the convolution kernels (the assembly tests the
// same bits).
const (
	epiResidual = 1 << iota // add the residual
	epiLo                   // clamp from below at lo
	epiHi                   // clamp from above at hi
)

// epilogueFlags returns the epilogue flags and bounds of the kernels for a
// residual and a clamp (nil for none); an infinite bound costs nothing.
func epilogueFlags(res *NHWC, clamp *Clamp) (flags int, lo, hi float32) {
	if res != nil {
		flags |= epiResidual
	}
	if clamp == nil {
		return flags, 0, 0
	}
	if !math.IsInf(float64(clamp.Lo), -1) {
		flags |= epiLo
	}
	if !math.IsInf(float64(clamp.Hi), 1) {
		flags |= epiHi
	}
	return flags, clamp.Lo, clamp.Hi
}

// applyEpilogue is the kernels' epilogue on one value.
func applyEpilogue(s, r float32, flags int, lo, hi float32) float32 {
	if flags&epiResidual != 0 {
		s += r
	}
	if flags&epiLo != 0 && s < lo {
		s = lo
	}
	if flags&epiHi != 0 && s > hi {
		s = hi
	}
	return s
}

// storeRow writes the epilogue of the sums acc to out, adding the
// residual row res when flags ask for it.
func storeRow(out, acc, res []float32, flags int, lo, hi float32) {
	out = out[:len(acc)]
	for j, v := range acc {
		var r float32
		if flags&epiResidual != 0 {
			r = res[j]
		}
		out[j] = applyEpilogue(v, r, flags, lo, hi)
	}
}

// ConvNHWC computes dst = clamp(conv(src, pc) + bias + res) for every
// image: the cross-correlation of src with the packed weights under the
// resolved 2-D window w, plus the residual res when it is not nil
// (same shape as dst), clamped when clamp is not nil. Only the interior
// pixels of dst are written; its border keeps its zeros.
//
// src's border must cover the window's padding, so that every tap reads
// memory of the image. Each register tile is a run of output
// pixels of one row times a block of output channels, summed over the
// filter's rows in the assembly kernel without leaving the registers
// (implicit GEMM: no column matrix is built).
func ConvNHWC(dst, src NHWC, pc *PackedConv, w geom.Window, res *NHWC, clamp *Clamp) {
	p := checkConv("ConvNHWC", dst, src, w, pc.Cin, pc.Cout, pc.KH, pc.KW, res)
	oh, ow := p.OH, p.OW
	if src.N == 0 {
		return
	}
	// With no dilation across columns, a filter row's columns and channels
	// are one contiguous run of memory: one tap per filter row.
	taps, run := pc.KH, pc.KW*pc.Cin
	if p.DilW != 1 {
		taps, run = pc.KH*pc.KW, pc.Cin
	}
	offs := make([]int, taps)
	for t := range offs {
		y, x := t, 0
		if p.DilW != 1 {
			y, x = t/pc.KW, t%pc.KW
		}
		offs[t] = 4 * (y*p.DilH*src.RowStride() + x*p.DilW*src.C)
	}
	k := pc.k
	flags, lo, hi := epilogueFlags(res, clamp)
	panels := (pc.Cout + k.nr - 1) / k.nr
	rowTiles := (ow + k.mr - 1) / k.mr
	perPanel := src.N * oh * rowTiles
	items := panels * perPanel
	rsA := p.StrideW * src.C
	work := func(from, to int, tile []float32) {
		for it := from; it < to; it++ {
			panel, r := it/perPanel, it%perPanel
			n, r := r/(oh*rowTiles), r%(oh*rowTiles)
			y := r / rowTiles
			x0, h := rowTile(r%rowTiles, rowTiles, ow)
			a := src.Data[src.Offset(n, y*p.StrideH-p.PadH, x0*p.StrideW-p.PadW):]
			b := pc.w[panel*taps*run*k.nr:]
			bias := pc.bias[panel*k.nr:]
			c0 := panel * k.nr
			out := dst.Data[dst.Offset(n, y, x0)+c0:]
			var rs []float32
			if res != nil {
				rs = res.Data[res.Offset(n, y, x0)+c0:]
			}
			if c0+k.nr <= pc.Cout {
				k.tile(h, taps, offs, run, a, rsA, b, out, dst.C, bias, rs, res.pixelStride(), flags, lo, hi)
				continue
			}
			// The last block of channels is partial: compute the whole
			// tile aside and keep its first channels.
			k.tile(h, taps, offs, run, a, rsA, b, tile, k.nr, bias, nil, 0, 0, 0, 0)
			w := pc.Cout - c0
			for i := range h {
				var r []float32
				if res != nil {
					r = rs[i*res.C:]
				}
				storeRow(out[i*dst.C:], tile[i*k.nr:][:w], r, flags, lo, hi)
			}
		}
	}
	// Runs of items in panel-major order, so that a goroutine's tiles
	// mostly share one block of weights in cache.
	parallelItems(items, 2*items*k.mr*k.nr*taps*run, work, k.mr*k.nr)
}

// parallelItems runs work over runs of items 0..n-1 on the worker pool, or
// on the caller alone when the flops do not pay for the hand-off; each
// goroutine gets a scratch tile of the given size.
func parallelItems(n, flops int, work func(lo, hi int, tile []float32), tileSize int) {
	nw := runtime.GOMAXPROCS(0)
	if nw <= 1 || flops < parallelFlops || n < 2 {
		work(0, n, make([]float32, tileSize))
		return
	}
	q := &queue{n: min(n, 8*nw)}
	parallelFor(nw, func(int) {
		tile := make([]float32, tileSize)
		for c := range q.each {
			lo, hi := span(c, q.n, n, 1, n)
			work(lo, hi, tile)
		}
	})
}

// checkResidual panics unless res is nil or has dst's shape.
func checkResidual(name string, res *NHWC, dst NHWC) {
	if res == nil {
		return
	}
	res.check(name + " residual")
	if res.N != dst.N || res.H != dst.H || res.W != dst.W || res.C != dst.C {
		panic(fmt.Sprintf("kernels: %s residual %dx%dx%dx%d for output %dx%dx%dx%d", name, res.N, res.H, res.W, res.C, dst.N, dst.H, dst.W, dst.C))
	}
}

// rowTile returns the first pixel and the width of tile i of the tiles
// that split a row of w pixels into pieces of near-equal width: 7 pixels
// in tiles of at most 6 go as 4 + 3, not 6 + 1, so that no tile is left
// with too few rows to hide the loads of the weights.
func rowTile(i, tiles, w int) (x0, h int) {
	x0 = i * w / tiles
	return x0, (i+1)*w/tiles - x0
}

// pixelStride returns the floats between horizontally adjacent pixels of
// a residual, its channel count, or 0 for no residual.
func (x *NHWC) pixelStride() int {
	if x == nil {
		return 0
	}
	return x.C
}

// convKernel computes register tiles of ConvNHWC. tile computes the first
// h rows (1 <= h <= mr) of an mr×nr tile:
//
//	for i := 0; i < h; i++ {
//		for j := 0; j < nr; j++ {
//			s := bias[j]
//			for t := 0; t < taps; t++ {
//				for q := 0; q < run; q++ {
//					s += a[offs[t]/4+i*rsA+q] * b[(t*run+q)*nr+j]
//				}
//			}
//			c[i*ldc+j] = applyEpilogue(s, res[i*ldr+j], flags, lo, hi)
//		}
//	}
type convKernel struct {
	name   string
	mr, nr int
	tile   func(h, taps int, offs []int, run int, a []float32, rsA int, b, c []float32, ldc int, bias, res []float32, ldr, flags int, lo, hi float32)
}

// checkConvTile panics unless every element a tile reads or writes lies in
// its slice, so that the assembly never touches memory outside them.
func checkConvTile(h, nr, taps int, offs []int, run int, a []float32, rsA int, b, c []float32, ldc int, bias, res []float32, ldr, flags int) {
	maxOff := 0
	ok := taps >= 1 && run >= 1 && h >= 1 && len(offs) >= taps && rsA >= 0
	for _, o := range offs[:min(taps, len(offs))] {
		ok = ok && o >= 0 && o%4 == 0
		maxOff = max(maxOff, o/4)
	}
	ok = ok && len(a) >= maxOff+(h-1)*rsA+run && len(b) >= taps*run*nr &&
		len(c) >= (h-1)*ldc+nr && len(bias) >= nr
	if flags&epiResidual != 0 {
		ok = ok && len(res) >= (h-1)*ldr+nr
	}
	if !ok {
		panic(fmt.Sprintf("kernels: %dx%d conv tile out of range: taps=%d run=%d len(a)=%d rsA=%d len(b)=%d len(c)=%d ldc=%d len(res)=%d ldr=%d",
			h, nr, taps, run, len(a), rsA, len(b), len(c), ldc, len(res), ldr))
	}
}

// convGo is the portable convolution kernel.
var convGo = &convKernel{name: "go4x16", mr: 4, nr: 16, tile: convTileGo}

func convTileGo(h, taps int, offs []int, run int, a []float32, rsA int, b, c []float32, ldc int, bias, res []float32, ldr, flags int, lo, hi float32) {
	const nr = 16
	checkConvTile(h, nr, taps, offs, run, a, rsA, b, c, ldc, bias, res, ldr, flags)
	for i := range h {
		var s [nr]float32
		copy(s[:], bias[:nr])
		for t := range taps {
			row := a[offs[t]/4+i*rsA:][:run]
			w := b[t*run*nr:][:run*nr]
			for q, av := range row {
				bq := (*[nr]float32)(w[q*nr:])
				for j := range s {
					s[j] += av * bq[j]
				}
			}
		}
		var r []float32
		if flags&epiResidual != 0 {
			r = res[i*ldr:]
		}
		storeRow(c[i*ldc:], s[:], r, flags, lo, hi)
	}
}
