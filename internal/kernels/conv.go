package kernels

import (
	"fmt"

	"argus/internal/geom"
)

// plane is a 2-D window (geom.Window) over C channels unpacked into the
// numbers the loops read. The input is C×H×W row-major: element (c, y, x)
// lies at c*H*W + y*W + x. Output position (oy, ox) with kernel tap
// (ky, kx) reads input row oy*StrideH - PadH + ky*DilH and column
// ox*StrideW - PadW + kx*DilW; positions outside the image read zero. The
// output is OH×OW, so that padding at the end (and ceil mode) needs no
// field of its own.
type plane struct {
	C, H, W          int
	KH, KW           int
	StrideH, StrideW int
	PadH, PadW       int
	DilH, DilW       int
	OH, OW           int
}

// planeOf unpacks the resolved 2-D window w for c channels. It panics
// unless w has two spatial dimensions and every size set.
func planeOf(w geom.Window, c int) plane {
	if len(w.In) != 2 || len(w.Kernel) != 2 || len(w.Out) != 2 || len(w.Stride) != 2 || len(w.Dilation) != 2 || len(w.Padding) != 2 || c < 0 {
		panic(fmt.Sprintf("kernels: %d channels over the window %v: want a resolved 2-D window", c, w))
	}
	return plane{C: c, H: w.In[0], W: w.In[1], KH: w.Kernel[0], KW: w.Kernel[1],
		StrideH: w.Stride[0], StrideW: w.Stride[1], PadH: w.Padding[0], PadW: w.Padding[1],
		DilH: w.Dilation[0], DilW: w.Dilation[1], OH: w.Out[0], OW: w.Out[1]}
}

// Im2col writes the column matrix of src, c channels of w.In[0]×w.In[1]
// pixels, into dst for the resolved 2-D window w: a (c·KH·KW) × (OH·OW)
// row-major matrix, KH×KW = w.Kernel and OH×OW = w.Out, whose row
// (c*KH+ky)*KW+kx holds, for every output position, the input value under
// kernel tap (ky, kx) of channel c. A convolution is then a matrix product
// of the weights with dst.
//
// The plain loop it computes, with S, P and D w's strides, padding before
// the first pixel and dilations:
//
//	for c, ky, kx, oy, ox:
//		y, x := oy*S[0]-P[0]+ky*D[0], ox*S[1]-P[1]+kx*D[1]
//		dst[((c*KH+ky)*KW+kx)*OH*OW + oy*OW+ox] = src[c*H*W+y*W+x] or 0 outside
func Im2col(w geom.Window, c int, src, dst []float32) {
	Im2colTo(w, c, src, dst, w.Out[0]*w.Out[1])
}

// Im2colTo is Im2col writing row r of the column matrix at dst[r*ld:], so
// that the columns of several images can sit side by side in one matrix
// with ld = images·OutH·OutW and be multiplied by the weights at once.
func Im2colTo(w geom.Window, c int, src, dst []float32, ld int) {
	g := planeOf(w, c)
	if rk := rowKernelFor(g.OW); rk != nil && g.StrideW == 1 && g.C > 0 {
		im2colRows(rk, g, src, dst, ld)
		return
	}
	if g.OW < tableWidth {
		im2colTable(g, src, dst, ld)
		return
	}
	oh, ow := g.OH, g.OW
	l := oh * ow
	hw := g.H * g.W
	for c := 0; c < g.C; c++ {
		plane := src[c*hw : (c+1)*hw]
		for ky := 0; ky < g.KH; ky++ {
			for kx := 0; kx < g.KW; kx++ {
				row := dst[((c*g.KH+ky)*g.KW+kx)*ld:][:l]
				x0 := kx*g.DilW - g.PadW
				// Output columns [lo, hi) read inside the image.
				lo, hi := convValidRange(x0, g.StrideW, g.W, ow)
				for oy := 0; oy < oh; oy++ {
					out := row[oy*ow : (oy+1)*ow]
					y := oy*g.StrideH - g.PadH + ky*g.DilH
					if y < 0 || y >= g.H || lo >= hi {
						clear(out)
						continue
					}
					in := plane[y*g.W : (y+1)*g.W]
					clear(out[:lo])
					clear(out[hi:])
					if g.StrideW == 1 {
						copy(out[lo:hi], in[x0+lo:x0+hi])
						continue
					}
					x := x0 + lo*g.StrideW
					for ox := lo; ox < hi; ox++ {
						out[ox] = in[x]
						x += g.StrideW
					}
				}
			}
		}
	}
}

// Col2im is the adjoint of Im2col: it adds every entry of the column matrix
// col back onto the input position it was read from, accumulating into dst
// (c×H×W). Entries that were read from padding are dropped.
func Col2im(w geom.Window, c int, col, dst []float32) {
	Col2imFrom(w, c, col, w.Out[0]*w.Out[1], dst)
}

// Col2imFrom is Col2im reading row r of the column matrix at col[r*ld:],
// the adjoint of Im2colTo.
func Col2imFrom(w geom.Window, c int, col []float32, ld int, dst []float32) {
	g := planeOf(w, c)
	if rk := rowKernelFor(g.W); rk != nil && g.StrideW == 1 && g.C > 0 {
		col2imGather(rk, g, col, ld, dst)
		return
	}
	if addRowsAsm != nil && g.StrideW == 1 && g.OW >= tableWidth {
		col2imRows(g, col, ld, dst)
		return
	}
	if g.OW < tableWidth {
		col2imTable(g, col, ld, dst)
		return
	}
	oh, ow := g.OH, g.OW
	l := oh * ow
	hw := g.H * g.W
	for c := 0; c < g.C; c++ {
		plane := dst[c*hw : (c+1)*hw]
		for ky := 0; ky < g.KH; ky++ {
			for kx := 0; kx < g.KW; kx++ {
				row := col[((c*g.KH+ky)*g.KW+kx)*ld:][:l]
				x0 := kx*g.DilW - g.PadW
				lo, hi := convValidRange(x0, g.StrideW, g.W, ow)
				if lo >= hi {
					continue
				}
				for oy := 0; oy < oh; oy++ {
					y := oy*g.StrideH - g.PadH + ky*g.DilH
					if y < 0 || y >= g.H {
						continue
					}
					src := row[oy*ow : (oy+1)*ow]
					out := plane[y*g.W : (y+1)*g.W]
					if g.StrideW == 1 {
						o := out[x0+lo : x0+hi]
						s := src[lo:hi]
						for i := range o {
							o[i] += s[i]
						}
						continue
					}
					x := x0 + lo*g.StrideW
					for ox := lo; ox < hi; ox++ {
						out[x] += src[ox]
						x += g.StrideW
					}
				}
			}
		}
	}
}

// col2imRows is Col2imFrom for a horizontal stride of 1 in assembly (for
// rows of at least tableWidth outputs: on shorter ones the call per block
// costs more than the table's scalar loop, measured on Zen 5): the
// valid output rows of one tap of one channel form a block that lands, cut
// to the image's columns, on every StrideH-th input row, and one addRows
// call adds the whole block. Each input pixel receives the taps in the same
// order as in the loops below, so the sums are theirs bit for bit.
func col2imRows(g plane, col []float32, ld int, dst []float32) {
	oh, ow := g.OH, g.OW
	l, hw := oh*ow, g.H*g.W
	for c := 0; c < g.C; c++ {
		plane := dst[c*hw : (c+1)*hw]
		for ky := 0; ky < g.KH; ky++ {
			y0 := ky*g.DilH - g.PadH
			oy0, oy1 := convValidRange(y0, g.StrideH, g.H, oh)
			if oy0 >= oy1 {
				continue
			}
			rows, ldd := oy1-oy0, g.StrideH*g.W
			for kx := 0; kx < g.KW; kx++ {
				x0 := kx*g.DilW - g.PadW
				lo, hi := convValidRange(x0, 1, g.W, ow)
				if lo >= hi {
					continue
				}
				n := hi - lo
				row := col[((c*g.KH+ky)*g.KW+kx)*ld:][:l]
				d, s := (oy0*g.StrideH+y0)*g.W+x0+lo, oy0*ow+lo
				_ = plane[d+(rows-1)*ldd+n-1] // the last element either side
				_ = row[s+(rows-1)*ow+n-1]
				addRowsAsm(&plane[d], ldd, &row[s], ow, rows, n)
			}
		}
	}
}

// rowKernel is a pair of masked row kernels, for rows of at most lanes
// floats: gather runs col2imGather's rows and rows im2colRows'.
type rowKernel struct {
	lanes  int
	gather func(dst *float32, ldd int, col *float32, ldc, channels, taps int, offs *int, masks *uint16, wmask uint16)
	rows   func(dst *float32, ldd int, src *float32, lds, channels, rows int, offs *int, masks *uint16, wmask uint16)
}

// rowKernelFor returns the narrowest row kernel for rows of w floats, or
// nil when none is wide enough.
func rowKernelFor(w int) *rowKernel {
	for i := range rowKernels {
		if w <= rowKernels[i].lanes {
			return &rowKernels[i]
		}
	}
	return nil
}

// im2colRows is Im2colTo for a horizontal stride of 1 and output rows no
// wider than rk's lanes, in assembly: each output row of each tap is one
// masked load of the input row it reads, shifted by the tap's column and
// zero over padding, and one store of the row's OW floats. The rows are
// listed once and one call copies them for every channel.
func im2colRows(rk *rowKernel, g plane, src, dst []float32, ld int) {
	kk, hw := g.KH*g.KW, g.H*g.W
	offs := make([]int, 0, 2*kk*g.OH)
	masks := make([]uint16, 0, kk*g.OH)
	for ky := 0; ky < g.KH; ky++ {
		for kx := 0; kx < g.KW; kx++ {
			// Output column ox reads pixel x = ox + sh.
			sh := kx*g.DilW - g.PadW
			lo, hi := max(-sh, 0), min(g.W-sh, g.OW)
			for oy := 0; oy < g.OH; oy++ {
				y := oy*g.StrideH - g.PadH + ky*g.DilH
				var m uint16
				soff := 0
				if y >= 0 && y < g.H && lo < hi {
					m = uint16(1<<hi-1) &^ uint16(1<<lo-1)
					soff = y*g.W + sh
					// The first and last elements the unmasked lanes read.
					_ = src[soff+lo]
					_ = src[(g.C-1)*hw+soff+hi-1]
				}
				doff := (ky*g.KW+kx)*ld + oy*g.OW
				offs = append(offs, soff, doff)
				masks = append(masks, m)
			}
		}
	}
	_ = dst[(g.C-1)*kk*ld+(kk-1)*ld+g.OH*g.OW-1]
	rk.rows(&dst[0], kk*ld, &src[0], hw, g.C, len(masks), &offs[0], &masks[0], uint16(1<<g.OW-1))
}

// col2imGather is Col2imFrom for a horizontal stride of 1 and planes no
// wider than rk's lanes, in assembly: for each input row, the taps that read
// it are listed once (the offset of the output row in a channel's column
// rows, shifted by the tap's column, and the mask of the pixels it
// reaches), and one call sums them for that row of every channel in a
// register, storing each row once. Each pixel receives its taps in the
// plain loop's order, and masked lanes are left alone rather than added
// zero, so the sums are the plain loop's bit for bit, signed zeros
// included.
func col2imGather(rk *rowKernel, g plane, col []float32, ld int, dst []float32) {
	kk, hw := g.KH*g.KW, g.H*g.W
	offs := make([]int, 0, kk)
	masks := make([]uint16, 0, kk)
	for y := 0; y < g.H; y++ {
		offs, masks = offs[:0], masks[:0]
		for ky := 0; ky < g.KH; ky++ {
			num := y + g.PadH - ky*g.DilH
			if num < 0 || num%g.StrideH != 0 || num/g.StrideH >= g.OH {
				continue
			}
			oy := num / g.StrideH
			for kx := 0; kx < g.KW; kx++ {
				// Output column ox lands on pixel x = ox + sh.
				sh := kx*g.DilW - g.PadW
				lo, hi := max(sh, 0), min(sh+g.OW, g.W)
				if lo >= hi {
					continue
				}
				off := (ky*g.KW+kx)*ld + oy*g.OW - sh
				// The first and last elements the unmasked lanes read.
				_ = col[off+lo]
				_ = col[(g.C-1)*kk*ld+off+hi-1]
				offs = append(offs, off)
				masks = append(masks, uint16(1<<hi-1)&^uint16(1<<lo-1))
			}
		}
		if len(offs) == 0 {
			continue
		}
		_ = dst[(g.C-1)*hw+y*g.W+g.W-1]
		rk.gather(&dst[y*g.W], hw, &col[0], kk*ld, g.C, len(offs), &offs[0], &masks[0], uint16(1<<g.W-1))
	}
}

// convValidRange returns the output columns [lo, hi) whose input column
// x0 + ox*stride lies in [0, w), clipped to [0, n).
func convValidRange(x0, stride, w, n int) (lo, hi int) {
	if x0 < 0 {
		lo = (-x0 + stride - 1) / stride
	}
	if x0 >= w {
		return 0, 0
	}
	hi = (w - x0 + stride - 1) / stride
	hi = min(hi, n)
	if lo > hi {
		lo = hi
	}
	return lo, hi
}

// tableWidth is the output width below which Im2colTo and Col2imFrom walk
// a table of input offsets instead of copying row segments: with only a
// few outputs per row, the per-row bookkeeping costs more than the copy.
const tableWidth = 16

// convTable returns, for kernel tap t = ky*KW+kx and output position p,
// the offset within an input plane that column row t reads at p, or -1
// where it reads padding.
func convTable(g plane) []int32 {
	oh, ow := g.OH, g.OW
	l := oh * ow
	tab := make([]int32, g.KH*g.KW*l)
	for ky := 0; ky < g.KH; ky++ {
		for kx := 0; kx < g.KW; kx++ {
			t := tab[(ky*g.KW+kx)*l:][:l]
			for oy := 0; oy < oh; oy++ {
				y := oy*g.StrideH - g.PadH + ky*g.DilH
				for ox := 0; ox < ow; ox++ {
					x := ox*g.StrideW - g.PadW + kx*g.DilW
					off := int32(-1)
					if y >= 0 && y < g.H && x >= 0 && x < g.W {
						off = int32(y*g.W + x)
					}
					t[oy*ow+ox] = off
				}
			}
		}
	}
	return tab
}

func im2colTable(g plane, src, dst []float32, ld int) {
	tab := convTable(g)
	kk, l, hw := g.KH*g.KW, g.OH*g.OW, g.H*g.W
	for c := 0; c < g.C; c++ {
		plane := src[c*hw : (c+1)*hw]
		for t := 0; t < kk; t++ {
			row := dst[(c*kk+t)*ld:][:l]
			for p, off := range tab[t*l:][:l] {
				if off < 0 {
					row[p] = 0
				} else {
					row[p] = plane[off]
				}
			}
		}
	}
}

func col2imTable(g plane, col []float32, ld int, dst []float32) {
	tab := convTable(g)
	kk, l, hw := g.KH*g.KW, g.OH*g.OW, g.H*g.W
	for c := 0; c < g.C; c++ {
		plane := dst[c*hw : (c+1)*hw]
		for t := 0; t < kk; t++ {
			row := col[(c*kk+t)*ld:][:l]
			for p, off := range tab[t*l:][:l] {
				if off >= 0 {
					plane[off] += row[p]
				}
			}
		}
	}
}

// Transpose writes the transpose of the rows×cols matrix src (row stride
// lds) into dst (row stride ldd):
//
//	for i := 0; i < rows; i++ {
//		for j := 0; j < cols; j++ {
//			dst[j*ldd+i] = src[i*lds+j]
//		}
//	}
//
// With AVX-512 it moves 16×16 blocks through registers, with AVX2 8×8 ones;
// columns past the last whole block, and CPUs without either, take tiles
// of 16 rows in Go. dst must not overlap src.
func Transpose(dst []float32, ldd int, src []float32, lds, rows, cols int) {
	if rows <= 0 || cols <= 0 {
		return
	}
	if ldd < rows || lds < cols || len(src) < (rows-1)*lds+cols || len(dst) < (cols-1)*ldd+rows {
		panic(fmt.Sprintf("kernels: Transpose of %dx%d (stride %d) into stride %d with %d and %d floats", rows, cols, lds, ldd, len(src), len(dst)))
	}
	full := 0
	if bs := transposeBlock; transposeAsm != nil {
		full = cols / bs * bs
		for i0 := 0; i0 < rows; i0 += bs {
			h := min(bs, rows-i0)
			for j0 := 0; j0 < full; j0 += bs {
				transposeAsm(&dst[j0*ldd+i0], ldd, &src[i0*lds+j0], lds, h, h)
			}
		}
	}
	// Tiles of 16 rows × the remaining columns: the tile's rows of src
	// stay in L1 while each column's run of dst is written contiguously.
	for i0 := 0; i0 < rows; i0 += 16 {
		h := min(16, rows-i0)
		for j := full; j < cols; j++ {
			out := dst[j*ldd+i0:][:h]
			for q := range out {
				out[q] = src[(i0+q)*lds+j]
			}
		}
	}
}
