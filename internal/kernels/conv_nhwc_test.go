package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// naiveConvNHWC is the plain loop ConvNHWC computes, reading the padding
// as zeros by bounds tests instead of from the border.
func naiveConvNHWC(src NHWC, w, bias []float32, cout, kh, kw int, p convParams, res *NHWC, clamp *Clamp, oh, ow int) []float32 {
	p = p.norm()
	out := make([]float32, src.N*oh*ow*cout)
	for n := range src.N {
		for y := range oh {
			for x := range ow {
				for o := range cout {
					var s float64
					if bias != nil {
						s = float64(bias[o])
					}
					for c := range src.C {
						for ky := range kh {
							for kx := range kw {
								iy, ix := y*p.StrideH-p.PadH+ky*p.DilH, x*p.StrideW-p.PadW+kx*p.DilW
								if iy < 0 || iy >= src.H || ix < 0 || ix >= src.W {
									continue
								}
								s += float64(src.Data[src.Offset(n, iy, ix)+c]) * float64(w[((o*src.C+c)*kh+ky)*kw+kx])
							}
						}
					}
					if res != nil {
						s += float64(res.Data[res.Offset(n, y, x)+o])
					}
					if clamp != nil {
						s = math.Min(math.Max(s, float64(clamp.Lo)), float64(clamp.Hi))
					}
					out[((n*oh+y)*ow+x)*cout+o] = float32(s)
				}
			}
		}
	}
	return out
}

// convFixture holds the random operands of a convolution test.
type convFixture struct {
	w, bias []float32
	res     *NHWC
	oh, ow  int
}

// newConvFixture draws weights of filters×kh×kw floats, a bias of cout
// values and a residual of the output's shape (each only when asked for)
// for a convolution of src.
func newConvFixture(rng *rand.Rand, filters, cout int, bias, res bool, src NHWC, kh, kw int, p convParams) convFixture {
	f := convFixture{w: randomFloats(rng, filters*kh*kw)}
	win := p.window(src.H, src.W, kh, kw)
	f.oh, f.ow = win.Out[0], win.Out[1]
	if bias {
		f.bias = randomFloats(rng, cout)
	}
	if res {
		r := randomNHWC(rng, src.N, f.oh, f.ow, cout, 1)
		f.res = &r
	}
	return f
}

// randomFloats returns n values drawn uniformly from [-1, 1).
func randomFloats(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.Float64()*2 - 1)
	}
	return x
}

func randomNHWC(rng *rand.Rand, n, h, w, c, pad int) NHWC {
	x := NewNHWC(n, h, w, c, pad)
	for i := range n {
		for y := range h {
			for xx := range w {
				for ch := range c {
					x.Data[x.Offset(i, y, xx)+ch] = float32(rng.Float64()*2 - 1)
				}
			}
		}
	}
	return x
}

func TestConvNHWC(t *testing.T) {
	inf := float32(math.Inf(1))
	cases := []struct {
		n, cin, h, w, cout, kh, kw int
		p                          convParams
		bias, res                  bool
		clamp                      *Clamp
		srcPad, dstPad             int
	}{
		{1, 3, 9, 9, 64, 3, 3, convParams{PadH: 1, PadW: 1}, true, true, &Clamp{0, inf}, 1, 1},
		{2, 5, 11, 17, 33, 3, 3, convParams{StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}, true, false, &Clamp{0, inf}, 2, 0},
		{1, 3, 23, 23, 16, 7, 7, convParams{StrideH: 2, StrideW: 2, PadH: 3, PadW: 3}, false, false, &Clamp{0, 6}, 3, 1},
		{1, 8, 7, 7, 40, 1, 1, convParams{StrideH: 2, StrideW: 2}, true, false, nil, 1, 0},
		{3, 6, 10, 13, 7, 3, 2, convParams{PadH: 2, PadW: 1, DilH: 2, DilW: 2}, true, true, &Clamp{-0.5, 0.7}, 2, 2},
		{1, 16, 30, 30, 32, 3, 3, convParams{PadH: 1, PadW: 1}, true, true, &Clamp{0, inf}, 1, 1},
		{1, 4, 5, 31, 96, 1, 3, convParams{PadW: 1, StrideW: 3}, false, true, &Clamp{-inf, 0.25}, 1, 0},
	}
	for _, k := range convKernelsAvailable() {
		for ci, tc := range cases {
			t.Run(fmt.Sprintf("%s/%d", k.name, ci), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(ci), 7))
				src := randomNHWC(rng, tc.n, tc.h, tc.w, tc.cin, tc.srcPad)
				f := newConvFixture(rng, tc.cout*tc.cin, tc.cout, tc.bias, tc.res, src, tc.kh, tc.kw, tc.p)
				w, bias, res, oh, ow := f.w, f.bias, f.res, f.oh, f.ow
				dst := NewNHWC(tc.n, oh, ow, tc.cout, tc.dstPad)
				ConvNHWC(dst, src, packConvWith(k, w, bias, tc.cout, tc.cin, tc.kh, tc.kw), tc.p.window(tc.h, tc.w, tc.kh, tc.kw), res, tc.clamp)
				want := naiveConvNHWC(src, w, bias, tc.cout, tc.kh, tc.kw, tc.p, res, tc.clamp, oh, ow)
				interior := 0
				for n := range tc.n {
					for y := range oh {
						for x := range ow {
							for o := range tc.cout {
								got, exp := dst.Data[dst.Offset(n, y, x)+o], want[((n*oh+y)*ow+x)*tc.cout+o]
								if math.Abs(float64(got-exp)) > 1e-4*(1+math.Abs(float64(exp))) {
									t.Fatalf("image %d pixel (%d,%d) channel %d: got %v, want %v", n, y, x, o, got, exp)
								}
								interior++
							}
						}
					}
				}
				nonzero := 0
				for _, v := range dst.Data {
					if v != 0 {
						nonzero++
					}
				}
				if nonzero > interior {
					t.Fatalf("%d nonzero values in the output, only %d interior ones: the border was written", nonzero, interior)
				}
			})
		}
	}
}

func TestConvNHWCReLUKeepsNaN(t *testing.T) {
	for _, k := range convKernelsAvailable() {
		src := NewNHWC(1, 1, 1, 1, 0)
		src.Data[0] = float32(math.NaN())
		dst := NewNHWC(1, 1, 1, 1, 0)
		ConvNHWC(dst, src, packConvWith(k, []float32{1}, nil, 1, 1, 1, 1), convParams{}.window(1, 1, 1, 1), nil, &Clamp{0, 6})
		if !math.IsNaN(float64(dst.Data[0])) {
			t.Errorf("%s: ReLU6(NaN) = %v, want NaN as PyTorch gives", k.name, dst.Data[0])
		}
	}
}

func TestConvNHWCPanicsOnNarrowBorder(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for an input border narrower than the padding")
		}
	}()
	src := NewNHWC(1, 4, 4, 2, 0)
	dst := NewNHWC(1, 4, 4, 2, 0)
	ConvNHWC(dst, src, PackConv(make([]float32, 2*2*9), nil, 2, 2, 3, 3), convParams{PadH: 1, PadW: 1}.window(4, 4, 3, 3), nil, nil)
}

// BenchmarkConvNHWC times ResNet-18's convolutions at batch 1, 224×224.
func BenchmarkConvNHWC(b *testing.B) {
	for _, s := range []struct {
		name                    string
		cin, h, cout, k, stride int
	}{
		{"conv1-7x7s2", 3, 224, 64, 7, 2},
		{"layer1-3x3", 64, 56, 64, 3, 1},
		{"layer2-3x3s2", 64, 56, 128, 3, 2},
		{"layer2-3x3", 128, 28, 128, 3, 1},
		{"layer3-3x3", 256, 14, 256, 3, 1},
		{"layer4-3x3", 512, 7, 512, 3, 1},
		{"layer4-down-1x1s2", 256, 14, 512, 1, 2},
	} {
		b.Run(s.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			pad := s.k / 2
			src := randomNHWC(rng, 1, s.h, s.h, s.cin, pad)
			w := make([]float32, s.cout*s.cin*s.k*s.k)
			for i := range w {
				w[i] = float32(rng.Float64() - 0.5)
			}
			pc := PackConv(w, make([]float32, s.cout), s.cout, s.cin, s.k, s.k)
			p := convParams{StrideH: s.stride, StrideW: s.stride, PadH: pad, PadW: pad}.window(s.h, s.h, s.k, s.k)
			o := p.Out[0]
			dst := NewNHWC(1, o, o, s.cout, 1)
			relu := Clamp{0, float32(math.Inf(1))}
			b.ResetTimer()
			for range b.N {
				ConvNHWC(dst, src, pc, p, nil, &relu)
			}
			flops := 2.0 * float64(o*o*s.cout*s.cin*s.k*s.k)
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

func TestMaxPoolNHWC(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct{ n, h, w, c, k, s, p, pad int }{
		{1, 9, 9, 64, 3, 2, 1, 0},
		{2, 8, 7, 37, 2, 2, 0, 1},
		{1, 5, 6, 16, 3, 1, 1, 2},
	} {
		src := randomNHWC(rng, tc.n, tc.h, tc.w, tc.c, tc.pad)
		// The border holds garbage: the pooling must not read it.
		for i := range src.Data {
			if src.Data[i] == 0 {
				src.Data[i] = 100
			}
		}
		src.Data[src.Offset(0, 1, 1)+5] = float32(math.NaN())
		oh, ow := (tc.h+2*tc.p-tc.k)/tc.s+1, (tc.w+2*tc.p-tc.k)/tc.s+1
		dst := NewNHWC(tc.n, oh, ow, tc.c, 1)
		MaxPoolNHWC(dst, src, convParams{StrideH: tc.s, StrideW: tc.s, PadH: tc.p, PadW: tc.p}.window(tc.h, tc.w, tc.k, tc.k))
		for n := range tc.n {
			for y := range oh {
				for x := range ow {
					for c := range tc.c {
						want := float32(math.Inf(-1))
						for ky := range tc.k {
							for kx := range tc.k {
								iy, ix := y*tc.s-tc.p+ky, x*tc.s-tc.p+kx
								if iy < 0 || iy >= tc.h || ix < 0 || ix >= tc.w {
									continue
								}
								v := src.Data[src.Offset(n, iy, ix)+c]
								if v > want || v != v || want != want {
									if want == want {
										want = v
									}
								}
							}
						}
						got := dst.Data[dst.Offset(n, y, x)+c]
						if got != want && !(got != got && want != want) {
							t.Fatalf("%+v: image %d (%d,%d) channel %d: got %v, want %v", tc, n, y, x, c, got, want)
						}
					}
				}
			}
		}
	}
}
