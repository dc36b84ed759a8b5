package kernels

// ConvGeom describes a 2-D convolution window sliding over one C×H×W image
// stored row-major: element (c, y, x) lies at c*H*W + y*W + x. Output
// position (oy, ox) with kernel offset (ky, kx) reads input row
// oy*StrideH - PadH + ky*DilH and column ox*StrideW - PadW + kx*DilW;
// positions outside the image read zero.
type ConvGeom struct {
	C, H, W          int // input channels, height and width
	KH, KW           int // kernel height and width
	StrideH, StrideW int
	PadH, PadW       int
	DilH, DilW       int
}

// OutH returns the output height.
func (g ConvGeom) OutH() int { return (g.H+2*g.PadH-g.DilH*(g.KH-1)-1)/g.StrideH + 1 }

// OutW returns the output width.
func (g ConvGeom) OutW() int { return (g.W+2*g.PadW-g.DilW*(g.KW-1)-1)/g.StrideW + 1 }

// ColRows returns the number of rows of the column matrix, C*KH*KW.
func (g ConvGeom) ColRows() int { return g.C * g.KH * g.KW }

// Im2col writes the column matrix of src into dst: a (C*KH*KW) × (OutH*OutW)
// row-major matrix whose row (c*KH+ky)*KW+kx holds, for every output
// position, the input value under kernel tap (ky, kx) of channel c. A
// convolution is then a matrix product of the weights with dst.
//
// The plain loop it computes:
//
//	for c, ky, kx, oy, ox:
//		y, x := oy*StrideH-PadH+ky*DilH, ox*StrideW-PadW+kx*DilW
//		dst[((c*KH+ky)*KW+kx)*OutH*OutW + oy*OutW+ox] = src[c*H*W+y*W+x] or 0 outside
func Im2col(g ConvGeom, src, dst []float32) { Im2colTo(g, src, dst, g.OutH()*g.OutW()) }

// Im2colTo is Im2col writing row r of the column matrix at dst[r*ld:], so
// that the columns of several images can sit side by side in one matrix
// with ld = images·OutH·OutW and be multiplied by the weights at once.
func Im2colTo(g ConvGeom, src, dst []float32, ld int) {
	if g.OutW() < tableWidth {
		im2colTable(g, src, dst, ld)
		return
	}
	oh, ow := g.OutH(), g.OutW()
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
// (C×H×W). Entries that were read from padding are dropped.
func Col2im(g ConvGeom, col, dst []float32) { Col2imFrom(g, col, g.OutH()*g.OutW(), dst) }

// Col2imFrom is Col2im reading row r of the column matrix at col[r*ld:],
// the adjoint of Im2colTo.
func Col2imFrom(g ConvGeom, col []float32, ld int, dst []float32) {
	if g.OutW() < tableWidth {
		col2imTable(g, col, ld, dst)
		return
	}
	oh, ow := g.OutH(), g.OutW()
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
func convTable(g ConvGeom) []int32 {
	oh, ow := g.OutH(), g.OutW()
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

func im2colTable(g ConvGeom, src, dst []float32, ld int) {
	tab := convTable(g)
	kk, l, hw := g.KH*g.KW, g.OutH()*g.OutW(), g.H*g.W
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

func col2imTable(g ConvGeom, col []float32, ld int, dst []float32) {
	tab := convTable(g)
	kk, l, hw := g.KH*g.KW, g.OutH()*g.OutW(), g.H*g.W
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
