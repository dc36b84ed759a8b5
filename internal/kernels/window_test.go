package kernels

import "argus/internal/geom"

// convParams are the strides, symmetric padding and dilations of a 2-D
// window, for the test tables; zero strides and dilations mean 1.
type convParams struct{ StrideH, StrideW, PadH, PadW, DilH, DilW int }

func (p convParams) norm() convParams {
	p.StrideH, p.StrideW, p.DilH, p.DilW = max(p.StrideH, 1), max(p.StrideW, 1), max(p.DilH, 1), max(p.DilW, 1)
	return p
}

// window resolves the window of a kh×kw kernel over h×w pixels.
func (p convParams) window(h, w, kh, kw int) geom.Window {
	p = p.norm()
	win, err := geom.Window{Stride: []int{p.StrideH, p.StrideW}, Padding: []int{p.PadH, p.PadW},
		Dilation: []int{p.DilH, p.DilW}}.Resolve([]int{h, w}, []int{kh, kw}, false)
	if err != nil {
		panic(err)
	}
	return win
}

// testGeom is a window over C channels of H×W pixels, for the test tables.
type testGeom struct {
	C, H, W, KH, KW  int
	StrideH, StrideW int
	PadH, PadW       int
	DilH, DilW       int
}

func (g testGeom) window() geom.Window {
	return convParams{g.StrideH, g.StrideW, g.PadH, g.PadW, g.DilH, g.DilW}.window(g.H, g.W, g.KH, g.KW)
}
