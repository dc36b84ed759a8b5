package kernels

import (
	"math/rand/v2"
	"slices"
	"testing"

	"argus/internal/geom"
)

// naiveIm2col is the plain loop Im2col documents.
func naiveIm2col(g plane, src []float32) []float32 {
	oh, ow := g.OH, g.OW
	dst := make([]float32, g.C*g.KH*g.KW*oh*ow)
	for c := 0; c < g.C; c++ {
		for ky := 0; ky < g.KH; ky++ {
			for kx := 0; kx < g.KW; kx++ {
				for oy := 0; oy < oh; oy++ {
					for ox := 0; ox < ow; ox++ {
						y := oy*g.StrideH - g.PadH + ky*g.DilH
						x := ox*g.StrideW - g.PadW + kx*g.DilW
						var v float32
						if y >= 0 && y < g.H && x >= 0 && x < g.W {
							v = src[c*g.H*g.W+y*g.W+x]
						}
						dst[((c*g.KH+ky)*g.KW+kx)*oh*ow+oy*ow+ox] = v
					}
				}
			}
		}
	}
	return dst
}

// naiveCol2im is the plain loop Col2im documents.
func naiveCol2im(g plane, col []float32) []float32 {
	oh, ow := g.OH, g.OW
	dst := make([]float32, g.C*g.H*g.W)
	for c := 0; c < g.C; c++ {
		for ky := 0; ky < g.KH; ky++ {
			for kx := 0; kx < g.KW; kx++ {
				for oy := 0; oy < oh; oy++ {
					for ox := 0; ox < ow; ox++ {
						y := oy*g.StrideH - g.PadH + ky*g.DilH
						x := ox*g.StrideW - g.PadW + kx*g.DilW
						if y >= 0 && y < g.H && x >= 0 && x < g.W {
							dst[c*g.H*g.W+y*g.W+x] += col[((c*g.KH+ky)*g.KW+kx)*oh*ow+oy*ow+ox]
						}
					}
				}
			}
		}
	}
	return dst
}

// TestAddRows checks the assembly row adds against their plain loop, with
// sentinels around every row that must stay.
func TestAddRows(t *testing.T) {
	if addRowsAsm == nil {
		t.Skip("no assembly on this path")
	}
	rng := rand.New(rand.NewPCG(9, 9))
	for _, n := range []int{1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 70} {
		for _, rows := range []int{1, 2, 5} {
			ldd, lds := n+3+rng.IntN(5), n+rng.IntN(4)
			dst := make([]float32, rows*ldd+8)
			src := make([]float32, rows*lds+8)
			for i := range dst {
				dst[i] = float32(rng.NormFloat64())
			}
			for i := range src {
				src[i] = float32(rng.NormFloat64())
			}
			want := append([]float32(nil), dst...)
			for r := 0; r < rows; r++ {
				for i := 0; i < n; i++ {
					want[r*ldd+i] += src[r*lds+i]
				}
			}
			addRowsAsm(&dst[0], ldd, &src[0], lds, rows, n)
			if !slices.Equal(dst, want) {
				t.Fatalf("n=%d rows=%d: addRows differs from the plain loop", n, rows)
			}
		}
	}
}

func TestIm2colCol2im(t *testing.T) {
	geoms := []testGeom{
		{C: 2, H: 5, W: 6, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, DilH: 1, DilW: 1},
		{C: 3, H: 7, W: 5, KH: 3, KW: 2, StrideH: 2, StrideW: 3, PadH: 0, PadW: 2, DilH: 1, DilW: 2},
		{C: 1, H: 4, W: 4, KH: 1, KW: 1, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1},
		{C: 2, H: 3, W: 3, KH: 3, KW: 3, StrideH: 1, StrideW: 2, PadH: 4, PadW: 4, DilH: 2, DilW: 3},
		// Wide enough for the row-copy path (the ones above take the table).
		{C: 2, H: 5, W: 40, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, DilH: 1, DilW: 1},
		{C: 2, H: 6, W: 47, KH: 3, KW: 2, StrideH: 2, StrideW: 2, PadH: 1, PadW: 3, DilH: 1, DilW: 2},
		{C: 1, H: 3, W: 20, KH: 1, KW: 1, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1},
		// Wide rows of horizontal stride 1 with vertical strides, dilations
		// and padding wider than the window: the assembly block path.
		{C: 3, H: 9, W: 33, KH: 3, KW: 3, StrideH: 2, StrideW: 1, PadH: 1, PadW: 2, DilH: 2, DilW: 2},
		{C: 2, H: 4, W: 17, KH: 5, KW: 5, StrideH: 1, StrideW: 1, PadH: 2, PadW: 2, DilH: 1, DilW: 1},
		{C: 2, H: 5, W: 70, KH: 3, KW: 4, StrideH: 3, StrideW: 1, PadH: 5, PadW: 6, DilH: 1, DilW: 1},
		// Planes at most 16 wide with horizontal stride 1: the AVX-512
		// gather path, with padding wider than the kernel so that some taps
		// reach no pixel.
		{C: 3, H: 7, W: 16, KH: 3, KW: 3, StrideH: 2, StrideW: 1, PadH: 2, PadW: 1, DilH: 2, DilW: 2},
		{C: 2, H: 2, W: 2, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, DilH: 1, DilW: 1},
		{C: 2, H: 6, W: 9, KH: 5, KW: 3, StrideH: 1, StrideW: 1, PadH: 4, PadW: 5, DilH: 1, DilW: 1},
		{C: 5, H: 8, W: 8, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, DilH: 1, DilW: 1},
		{C: 2, H: 16, W: 16, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, DilH: 1, DilW: 1},
		{C: 2, H: 5, W: 30, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 0, DilH: 1, DilW: 8},
	}
	type lowering struct {
		c   int
		win geom.Window
	}
	var cases []lowering
	for _, tg := range geoms {
		cases = append(cases, lowering{tg.C, tg.window()})
	}
	// Padding that differs at the two ends, and a ceil-mode size, which
	// only the output size shows.
	for _, c := range []struct {
		c          int
		w          geom.Window
		in, kernel []int
		ceil       bool
	}{
		{2, geom.Window{Padding: []int{0, 2}, PadEnd: []int{1, 0}}, []int{5, 6}, []int{3, 3}, false},
		{1, geom.Window{Stride: []int{2, 2}, Padding: []int{1, 0}, PadEnd: []int{0, 3}}, []int{6, 41}, []int{2, 3}, false},
		{3, geom.Window{Stride: []int{2, 3}}, []int{6, 8}, []int{3, 2}, true},
	} {
		w, err := c.w.Resolve(c.in, c.kernel, c.ceil)
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, lowering{c.c, w})
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i, tc := range cases {
		win := tc.win
		g := planeOf(win, tc.c)
		src := make([]float32, g.C*g.H*g.W)
		for j := range src {
			src[j] = r.Float32()
		}
		want := naiveIm2col(g, src)
		got := make([]float32, len(want))
		for j := range got {
			got[j] = 99
		}
		Im2col(win, g.C, src, got)
		for j := range want {
			if got[j] != want[j] {
				t.Fatalf("geom %d: Im2col[%d] = %v, want %v", i, j, got[j], want[j])
			}
		}
		// Im2colTo places the same rows at a stride, beside other images.
		l := g.OH * g.OW
		// Sentinels around every row, which Im2colTo must not touch.
		wide := make([]float32, 3*len(want))
		for j := range wide {
			wide[j] = 7
		}
		Im2colTo(win, g.C, src, wide[l:], 3*l)
		for r := 0; r < g.C*g.KH*g.KW; r++ {
			for j := 0; j < l; j++ {
				if wide[r*3*l+l+j] != want[r*l+j] || wide[r*3*l+j] != 7 || (r*3*l+2*l+j < len(wide) && wide[r*3*l+2*l+j] != 7) {
					t.Fatalf("geom %d: Im2colTo row %d column %d differs", i, r, j)
				}
			}
		}
		// Col2im is the adjoint: <Im2col(x), c> == <x, Col2im(c)>.
		col := make([]float32, len(want))
		for j := range col {
			col[j] = r.Float32()
		}
		back := make([]float32, len(src))
		Col2im(win, g.C, col, back)
		var lhs, rhs float64
		for j := range want {
			lhs += float64(want[j]) * float64(col[j])
		}
		for j := range src {
			rhs += float64(src[j]) * float64(back[j])
		}
		if d := lhs - rhs; d > 1e-3 || d < -1e-3 {
			t.Fatalf("geom %d: Col2im is not the adjoint of Im2col: %v vs %v", i, lhs, rhs)
		}
		for r := 0; r < g.C*g.KH*g.KW; r++ {
			copy(wide[r*3*l+2*l:][:l], col[r*l:][:l])
		}
		// Every path sums each pixel's taps in the plain loop's order.
		if exact := naiveCol2im(g, col); !slices.Equal(back, exact) {
			t.Fatalf("geom %d: Col2im differs from the plain loop", i)
		}
		back2 := make([]float32, len(src))
		Col2imFrom(win, g.C, wide[2*l:], 3*l, back2)
		for j := range back {
			if back2[j] != back[j] {
				t.Fatalf("geom %d: Col2imFrom[%d] = %v, want %v", i, j, back2[j], back[j])
			}
		}
	}
}

// TestTranspose checks Transpose against its plain loop around the block
// edges, with sentinels in dst's padding that must stay.
func TestTranspose(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for _, rows := range []int{1, 5, 16, 17, 40} {
		for _, cols := range []int{1, 15, 16, 33, 48} {
			lds, ldd := cols+rng.IntN(3), rows+rng.IntN(3)
			src := make([]float32, rows*lds)
			for i := range src {
				src[i] = float32(rng.NormFloat64())
			}
			dst := make([]float32, cols*ldd)
			for i := range dst {
				dst[i] = -7
			}
			want := append([]float32(nil), dst...)
			for i := 0; i < rows; i++ {
				for j := 0; j < cols; j++ {
					want[j*ldd+i] = src[i*lds+j]
				}
			}
			Transpose(dst, ldd, src, lds, rows, cols)
			if !slices.Equal(dst, want) {
				t.Fatalf("%dx%d: Transpose differs from the plain loop", rows, cols)
			}
		}
	}
}

// TestCol2imGatherKernel checks the gather kernel against its plain loop
// on random masks and offsets, with lanes outside wmask that must stay.
func TestCol2imGatherKernel(t *testing.T) {
	if len(rowKernels) == 0 {
		t.Skip("no assembly on this path")
	}
	rng := rand.New(rand.NewPCG(6, 6))
	for trial := 0; trial < 50*len(rowKernels); trial++ {
		rk := rowKernels[trial%len(rowKernels)]
		rowLanes := rk.lanes
		channels, taps := 1+rng.IntN(4), 1+rng.IntN(9)
		ldd, ldc := 16+rng.IntN(8), 40+rng.IntN(20)
		wmask := uint16(1 + rng.IntN(1<<rowLanes-1))
		offs := make([]int, taps)
		masks := make([]uint16, taps)
		for i := range offs {
			offs[i] = rng.IntN(ldc - 16)
			masks[i] = uint16(rng.IntN(1 << rowLanes))
		}
		col := randSlice(rng, channels*ldc)
		dst := randSlice(rng, channels*ldd)
		want := append([]float32(nil), dst...)
		for c := 0; c < channels; c++ {
			for x := 0; x < rowLanes; x++ {
				if wmask>>x&1 == 0 {
					continue
				}
				s := want[c*ldd+x]
				for t := 0; t < taps; t++ {
					if masks[t]>>x&1 != 0 {
						s += col[c*ldc+offs[t]+x]
					}
				}
				want[c*ldd+x] = s
			}
		}
		rk.gather(&dst[0], ldd, &col[0], ldc, channels, taps, &offs[0], &masks[0], wmask)
		if !slices.Equal(dst, want) {
			t.Fatalf("trial %d: the %d-lane gather kernel differs from its plain loop", trial, rowLanes)
		}
	}
}

// TestIm2colRowsKernel checks the row-copy kernel against its plain loop on
// random masks and offsets, with lanes outside wmask that must stay.
func TestIm2colRowsKernel(t *testing.T) {
	if len(rowKernels) == 0 {
		t.Skip("no assembly on this path")
	}
	rng := rand.New(rand.NewPCG(8, 8))
	for trial := 0; trial < 50*len(rowKernels); trial++ {
		rk := rowKernels[trial%len(rowKernels)]
		rowLanes := rk.lanes
		channels, rows := 1+rng.IntN(4), 1+rng.IntN(9)
		lds, ldd := 40+rng.IntN(20), 16*rows+rng.IntN(8)
		wmask := uint16(1 + rng.IntN(1<<rowLanes-1))
		offs := make([]int, 2*rows)
		masks := make([]uint16, rows)
		for e := range rows {
			offs[2*e], offs[2*e+1] = rng.IntN(lds-16), 16*e
			masks[e] = uint16(rng.IntN(1 << rowLanes))
		}
		src := randSlice(rng, channels*lds)
		dst := randSlice(rng, channels*ldd)
		want := append([]float32(nil), dst...)
		for c := 0; c < channels; c++ {
			for e := 0; e < rows; e++ {
				for x := 0; x < rowLanes; x++ {
					if wmask>>x&1 == 0 {
						continue
					}
					var v float32
					if masks[e]>>x&1 != 0 {
						v = src[c*lds+offs[2*e]+x]
					}
					want[c*ldd+offs[2*e+1]+x] = v
				}
			}
		}
		rk.rows(&dst[0], ldd, &src[0], lds, channels, rows, &offs[0], &masks[0], wmask)
		if !slices.Equal(dst, want) {
			t.Fatalf("trial %d: the %d-lane row-copy kernel differs from its plain loop", trial, rowLanes)
		}
	}
}
