package kernels

import "argus/internal/geom"

// Depthwise convolution works on one channel plane at a time: the input
// plane src is H×W, the kernel w is KH×KW, and the output plane OH×OW, all
// with the resolved 2-D window w. Each kernel tap is a
// scaled, strided copy of the input onto the output, so the loops run tap
// by tap over whole rows instead of lowering to a column matrix, which for
// one input channel would be a product with a single row.

// DepthwiseConv writes the cross-correlation of the plane src with the
// kernel w, plus bias, into dst.
func DepthwiseConv(win geom.Window, src, w []float32, bias float32, dst []float32) {
	g := planeOf(win, 1)
	oh, ow := g.OH, g.OW
	dst = dst[:oh*ow]
	for i := range dst {
		dst[i] = bias
	}
	for ky := 0; ky < g.KH; ky++ {
		for kx := 0; kx < g.KW; kx++ {
			wv := w[ky*g.KW+kx]
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
				in := src[y*g.W : (y+1)*g.W]
				out := dst[oy*ow : (oy+1)*ow]
				if g.StrideW == 1 {
					o, s := out[lo:hi], in[x0+lo:x0+hi]
					for i := range o {
						o[i] += wv * s[i]
					}
					continue
				}
				x := x0 + lo*g.StrideW
				for ox := lo; ox < hi; ox++ {
					out[ox] += wv * in[x]
					x += g.StrideW
				}
			}
		}
	}
}

// DepthwiseConvGrad accumulates the gradients of DepthwiseConv given the
// output gradient gout: gsrc (H×W) += the input gradient when gsrc is not
// nil, and gw (KH×KW) += the kernel gradient when gw is not nil.
func DepthwiseConvGrad(win geom.Window, src, w, gout, gsrc, gw []float32) {
	g := planeOf(win, 1)
	oh, ow := g.OH, g.OW
	for ky := 0; ky < g.KH; ky++ {
		for kx := 0; kx < g.KW; kx++ {
			wv := w[ky*g.KW+kx]
			x0 := kx*g.DilW - g.PadW
			lo, hi := convValidRange(x0, g.StrideW, g.W, ow)
			if lo >= hi {
				continue
			}
			var acc float32
			for oy := 0; oy < oh; oy++ {
				y := oy*g.StrideH - g.PadH + ky*g.DilH
				if y < 0 || y >= g.H {
					continue
				}
				gr := gout[oy*ow : (oy+1)*ow]
				if gw != nil {
					in := src[y*g.W : (y+1)*g.W]
					x := x0 + lo*g.StrideW
					for ox := lo; ox < hi; ox++ {
						acc += gr[ox] * in[x]
						x += g.StrideW
					}
				}
				if gsrc != nil {
					gi := gsrc[y*g.W : (y+1)*g.W]
					x := x0 + lo*g.StrideW
					for ox := lo; ox < hi; ox++ {
						gi[x] += wv * gr[ox]
						x += g.StrideW
					}
				}
			}
			if gw != nil {
				gw[ky*g.KW+kx] += acc
			}
		}
	}
}
