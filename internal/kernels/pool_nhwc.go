package kernels

import (
	"fmt"
	"runtime"

	"argus/internal/geom"
)

// MaxPoolNHWC writes into the interior of dst the maximum of every window
// of src under the resolved 2-D window w (dilation 1, padding at most half
// the kernel at either end). Window pixels outside the image are skipped
// (PyTorch's -inf padding), whatever src's border holds, and a NaN in a
// window gives NaN.
func MaxPoolNHWC(dst, src NHWC, w geom.Window) {
	src.check("MaxPoolNHWC input")
	dst.check("MaxPoolNHWC output")
	p := planeOf(w, src.C)
	kh, kw, sh, sw, ph, pw := p.KH, p.KW, p.StrideH, p.StrideW, p.PadH, p.PadW
	// Every window must hold a pixel of the image: it does when neither
	// end's padding exceeds half the kernel.
	if kh < 1 || kw < 1 || sh < 1 || sw < 1 || ph < 0 || pw < 0 || 2*ph > kh || 2*pw > kw ||
		2*w.PadEnd[0] > kh || 2*w.PadEnd[1] > kw || p.DilH != 1 || p.DilW != 1 ||
		p.H != src.H || p.W != src.W || dst.N != src.N || dst.C != src.C || dst.H != p.OH || dst.W != p.OW {
		panic(fmt.Sprintf("kernels: MaxPoolNHWC %v of %dx%dx%dx%d into %dx%dx%dx%d",
			w, src.N, src.H, src.W, src.C, dst.N, dst.H, dst.W, dst.C))
	}
	c := src.C
	rows := dst.N * dst.H
	work := func(lo, hi int) {
		for r := lo; r < hi; r++ {
			n, y := r/dst.H, r%dst.H
			y0, y1 := max(0, y*sh-ph), min(src.H, y*sh-ph+kh)
			for x := range dst.W {
				x0, x1 := max(0, x*sw-pw), min(src.W, x*sw-pw+kw)
				out := dst.Data[dst.Offset(n, y, x):][:c]
				copy(out, src.Data[src.Offset(n, y0, x0):][:c])
				for iy := y0; iy < y1; iy++ {
					for ix := x0; ix < x1; ix++ {
						maxInto(out, src.Data[src.Offset(n, iy, ix):][:c])
					}
				}
			}
		}
	}
	nw := min(rows, runtime.GOMAXPROCS(0))
	if nw <= 1 || rows*dst.W*c*kh*kw < 1<<16 {
		work(0, rows)
		return
	}
	parallelFor(nw, func(w int) { work(span(w, nw, rows, 1, rows)) })
}

// maxInto sets out[i] = max(out[i], in[i]), NaN if either is NaN.
func maxInto(out, in []float32) {
	in = in[:len(out)]
	done := 0
	if maxRunAsm != nil && len(out) >= maxRunWidth {
		done = len(out) / maxRunWidth * maxRunWidth
		maxRunAsm(&out[0], &in[0], done)
	}
	for i := done; i < len(out); i++ {
		if v := in[i]; v > out[i] || v != v {
			out[i] = v
		}
	}
}
