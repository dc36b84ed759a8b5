package kernels

import (
	"fmt"

	"argus/internal/geom"
)

// PackedDepthwise holds a depthwise convolution's weights packed for
// DepthwiseNHWC: for each tap (ky, kx), the C channels' weights in a row.
type PackedDepthwise struct {
	C, KH, KW int
	w, bias   []float32
}

// PackDepthwise packs the weights of a depthwise convolution (c×1×kh×kw,
// PyTorch's layout for groups = channels) and an optional bias (nil for
// none).
func PackDepthwise(w, bias []float32, c, kh, kw int) *PackedDepthwise {
	if c < 1 || kh < 1 || kw < 1 || len(w) != c*kh*kw || (bias != nil && len(bias) != c) {
		panic(fmt.Sprintf("kernels: PackDepthwise of %d floats as %dx1x%dx%d with %d bias values", len(w), c, kh, kw, len(bias)))
	}
	pd := &PackedDepthwise{C: c, KH: kh, KW: kw, w: make([]float32, kh*kw*c), bias: make([]float32, c)}
	for ch := range c {
		for t := range kh * kw {
			pd.w[t*c+ch] = w[ch*kh*kw+t]
		}
	}
	copy(pd.bias, bias)
	return pd
}

// DepthwiseNHWC computes dst = clamp(dwconv(src, pd) + bias + res), where
// every channel is convolved with its own filter, with the conventions of
// ConvNHWC: src's border must cover the padding, res (nil for none) has
// dst's shape, clamp may be nil, and only the interior of dst is written.
//
// A tile is a run of up to six output pixels of one row times up to 64
// channels; each channel's taps are multiply-added from memory with the
// tap's weights held in registers.
func DepthwiseNHWC(dst, src NHWC, pd *PackedDepthwise, w geom.Window, res *NHWC, clamp *Clamp) {
	depthwiseWith(dwBest, dst, src, pd, w, res, clamp)
}

func depthwiseWith(k *dwKernel, dst, src NHWC, pd *PackedDepthwise, w geom.Window, res *NHWC, clamp *Clamp) {
	p := checkConv("DepthwiseNHWC", dst, src, w, pd.C, pd.C, pd.KH, pd.KW, res)
	oh, ow := p.OH, p.OW
	if src.N == 0 {
		return
	}
	taps := pd.KH * pd.KW
	offs := make([]int, taps)
	for t := range offs {
		offs[t] = 4 * (t/pd.KW*p.DilH*src.RowStride() + t%pd.KW*p.DilW*src.C)
	}
	flags, lo, hi := epilogueFlags(res, clamp)
	const block = 64
	blocks := (pd.C + block - 1) / block
	rowTiles := (ow + k.mr - 1) / k.mr
	items := src.N * oh * rowTiles * blocks
	rsA := p.StrideW * src.C
	work := func(from, to int, _ []float32) {
		for it := from; it < to; it++ {
			r, blk := it/blocks, it%blocks
			n, r := r/(oh*rowTiles), r%(oh*rowTiles)
			y := r / rowTiles
			x0, h := rowTile(r%rowTiles, rowTiles, ow)
			c0 := blk * block
			nc := min(block, pd.C-c0)
			a := src.Data[src.Offset(n, y*p.StrideH-p.PadH, x0*p.StrideW-p.PadW)+c0:]
			out := dst.Data[dst.Offset(n, y, x0)+c0:]
			var rs []float32
			if res != nil {
				rs = res.Data[res.Offset(n, y, x0)+c0:]
			}
			k.tile(h, nc, taps, offs, a, rsA, pd.w[c0:], pd.C, out, dst.C, pd.bias[c0:], rs, res.pixelStride(), flags, lo, hi)
		}
	}
	parallelItems(items, 2*items*k.mr*block*taps, work, 0)
}

// dwKernel computes tiles of DepthwiseNHWC. tile computes h rows
// (1 <= h <= mr) of nc channels (1 <= nc <= 64):
//
//	for i := 0; i < h; i++ {
//		for j := 0; j < nc; j++ {
//			s := bias[j]
//			for t := 0; t < taps; t++ {
//				s += a[offs[t]/4+i*rsA+j] * w[t*ldw+j]
//			}
//			c[i*ldc+j] = applyEpilogue(s, res[i*ldr+j], flags, lo, hi)
//		}
//	}
type dwKernel struct {
	name string
	mr   int
	tile func(h, nc, taps int, offs []int, a []float32, rsA int, w []float32, ldw int, c []float32, ldc int, bias, res []float32, ldr, flags int, lo, hi float32)
}

// checkDwTile panics unless every element a depthwise tile reads or
// writes lies in its slice.
func checkDwTile(h, nc, taps int, offs []int, a []float32, rsA int, w []float32, ldw int, c []float32, ldc int, bias, res []float32, ldr, flags int) {
	maxOff := 0
	ok := taps >= 1 && h >= 1 && nc >= 1 && len(offs) >= taps && rsA >= 0 && ldw >= nc
	for _, o := range offs[:min(taps, len(offs))] {
		ok = ok && o >= 0 && o%4 == 0
		maxOff = max(maxOff, o/4)
	}
	ok = ok && len(a) >= maxOff+(h-1)*rsA+nc && len(w) >= (taps-1)*ldw+nc &&
		len(c) >= (h-1)*ldc+nc && len(bias) >= nc
	if flags&epiResidual != 0 {
		ok = ok && len(res) >= (h-1)*ldr+nc
	}
	if !ok {
		panic(fmt.Sprintf("kernels: %dx%d depthwise tile out of range: taps=%d len(a)=%d rsA=%d len(w)=%d ldw=%d len(c)=%d ldc=%d len(res)=%d ldr=%d",
			h, nc, taps, len(a), rsA, len(w), ldw, len(c), ldc, len(res), ldr))
	}
}

// dwGo is the portable depthwise kernel.
var dwGo = &dwKernel{name: "go", mr: 6, tile: dwTileGo}

func dwTileGo(h, nc, taps int, offs []int, a []float32, rsA int, w []float32, ldw int, c []float32, ldc int, bias, res []float32, ldr, flags int, lo, hi float32) {
	checkDwTile(h, nc, taps, offs, a, rsA, w, ldw, c, ldc, bias, res, ldr, flags)
	var s [64]float32
	for i := range h {
		acc := s[:nc]
		copy(acc, bias[:nc])
		for t := range taps {
			in := a[offs[t]/4+i*rsA:][:nc]
			wt := w[t*ldw:][:nc]
			for j, v := range in {
				acc[j] += v * wt[j]
			}
		}
		var r []float32
		if flags&epiResidual != 0 {
			r = res[i*ldr:]
		}
		storeRow(c[i*ldc:], acc, r, flags, lo, hi)
	}
}
