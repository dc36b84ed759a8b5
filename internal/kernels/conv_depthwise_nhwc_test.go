package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func TestDepthwiseNHWC(t *testing.T) {
	inf := float32(math.Inf(1))
	cases := []struct {
		n, c, h, w, kh, kw int
		p                  convParams
		bias, res          bool
		clamp              *Clamp
		srcPad             int
	}{
		{1, 32, 9, 9, 3, 3, convParams{PadH: 1, PadW: 1}, true, false, &Clamp{0, 6}, 1},
		{2, 40, 11, 13, 3, 3, convParams{StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}, true, true, nil, 2},
		{1, 144, 7, 15, 3, 3, convParams{PadH: 1, PadW: 1}, false, true, &Clamp{0, inf}, 1},
		{1, 7, 10, 10, 5, 3, convParams{PadH: 2, PadW: 1, DilH: 2}, true, false, &Clamp{-0.3, 0.4}, 4},
		{3, 96, 8, 8, 3, 3, convParams{StrideH: 2, StrideW: 1, PadH: 1, PadW: 1}, true, false, nil, 1},
	}
	for _, k := range dwKernelsAvailable() {
		for ci, tc := range cases {
			t.Run(fmt.Sprintf("%s/%d", k.name, ci), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(ci), 9))
				src := randomNHWC(rng, tc.n, tc.h, tc.w, tc.c, tc.srcPad)
				f := newConvFixture(rng, tc.c, tc.c, tc.bias, tc.res, src, tc.kh, tc.kw, tc.p)
				w, bias, res, oh, ow := f.w, f.bias, f.res, f.oh, f.ow
				p := tc.p.norm()
				dst := NewNHWC(tc.n, oh, ow, tc.c, 1)
				depthwiseWith(k, dst, src, PackDepthwise(w, bias, tc.c, tc.kh, tc.kw), tc.p.window(tc.h, tc.w, tc.kh, tc.kw), res, tc.clamp)
				for n := range tc.n {
					for y := range oh {
						for x := range ow {
							for c := range tc.c {
								var s float64
								if bias != nil {
									s = float64(bias[c])
								}
								for ky := range tc.kh {
									for kx := range tc.kw {
										iy, ix := y*p.StrideH-p.PadH+ky*p.DilH, x*p.StrideW-p.PadW+kx*p.DilW
										if iy >= 0 && iy < tc.h && ix >= 0 && ix < tc.w {
											s += float64(src.Data[src.Offset(n, iy, ix)+c]) * float64(w[(c*tc.kh+ky)*tc.kw+kx])
										}
									}
								}
								if res != nil {
									s += float64(res.Data[res.Offset(n, y, x)+c])
								}
								if tc.clamp != nil {
									s = math.Min(math.Max(s, float64(tc.clamp.Lo)), float64(tc.clamp.Hi))
								}
								if got := dst.Data[dst.Offset(n, y, x)+c]; math.Abs(float64(got)-s) > 1e-5*(1+math.Abs(s)) {
									t.Fatalf("image %d pixel (%d,%d) channel %d: got %v, want %v", n, y, x, c, got, s)
								}
							}
						}
					}
				}
			})
		}
	}
}

// BenchmarkDepthwiseNHWC times MobileNet-V2's 3×3 depthwise convolution
// of 144 channels over 56×56 at batch 1.
func BenchmarkDepthwiseNHWC(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	src := randomNHWC(rng, 1, 56, 56, 144, 1)
	w := make([]float32, 144*9)
	for i := range w {
		w[i] = float32(rng.Float64() - 0.5)
	}
	pd := PackDepthwise(w, nil, 144, 3, 3)
	dst := NewNHWC(1, 56, 56, 144, 0)
	relu6 := &Clamp{0, 6}
	for b.Loop() {
		DepthwiseNHWC(dst, src, pd, convParams{PadH: 1, PadW: 1}.window(56, 56, 3, 3), nil, relu6)
	}
	b.ReportMetric(2*56*56*144*9*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
