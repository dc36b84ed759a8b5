package kernels

import (
	"math"
	"math/rand/v2"
	"sync"
	"testing"
)

// operands is one test product with padded strides; the padding holds NaN so
// that a kernel reading outside the matrices shows up in the result.
type operands struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a, b, c        []float32
	lda, ldb, ldc  int
}

func newOperands(rng *rand.Rand, transA, transB bool, m, n, k, pad int, alpha, beta float32) *operands {
	o := &operands{transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta}
	ra, ca := m, k
	if transA {
		ra, ca = k, m
	}
	rb, cb := k, n
	if transB {
		rb, cb = n, k
	}
	o.lda, o.ldb, o.ldc = ca+pad, cb+pad, n+pad
	fill := func(rows, cols, ld int, nanAll bool) []float32 {
		x := make([]float32, max(0, rows*ld))
		for i := range rows {
			for j := range ld {
				if j < cols && !nanAll {
					x[i*ld+j] = float32(rng.Float64()*2 - 1)
				} else {
					x[i*ld+j] = float32(math.NaN())
				}
			}
		}
		return x
	}
	o.a = fill(ra, ca, o.lda, false)
	o.b = fill(rb, cb, o.ldb, false)
	o.c = fill(m, n, o.ldc, beta == 0)
	return o
}

func (o *operands) gemm() *gemm {
	c := append([]float32(nil), o.c...)
	return &gemm{transA: o.transA, transB: o.transB, m: o.m, n: o.n, k: o.k, alpha: o.alpha,
		a: o.a, lda: o.lda, b: o.b, ldb: o.ldb, beta: o.beta, c: c, ldc: o.ldc}
}

// reference evaluates the plain loop in float64 and returns, per element of
// C, the exact value and the scale of its rounding error.
func (o *operands) reference() (want, scale []float64) {
	want = make([]float64, len(o.c))
	scale = make([]float64, len(o.c))
	row := make([]float64, o.k)
	for i := range o.m {
		for p := range o.k {
			if o.transA {
				row[p] = float64(o.a[p*o.lda+i])
			} else {
				row[p] = float64(o.a[i*o.lda+p])
			}
		}
		for j := range o.n {
			var s, abs float64
			for p, av := range row {
				var bv float64
				if o.transB {
					bv = float64(o.b[j*o.ldb+p])
				} else {
					bv = float64(o.b[p*o.ldb+j])
				}
				s += av * bv
				abs += math.Abs(av * bv)
			}
			at := i*o.ldc + j
			want[at] = float64(o.alpha) * s
			scale[at] = math.Abs(float64(o.alpha)) * abs
			if o.beta != 0 {
				want[at] += float64(o.beta) * float64(o.c[at])
				scale[at] += math.Abs(float64(o.beta) * float64(o.c[at]))
			}
		}
	}
	return want, scale
}

// check compares got with a float64 evaluation of the plain loop and checks
// that the padding of C was left alone.
func (o *operands) check(t *testing.T, got []float32) {
	t.Helper()
	want, scale := o.reference()
	o.checkAgainst(t, got, want, scale)
}

func (o *operands) checkAgainst(t *testing.T, got []float32, want, scale []float64) {
	t.Helper()
	bad := 0
	for i := range o.m {
		for j := range o.ldc {
			at := i*o.ldc + j
			if j >= o.n {
				if !math.IsNaN(float64(got[at])) {
					t.Fatalf("C padding (%d,%d) written: %v", i, j, got[at])
				}
				continue
			}
			if d := math.Abs(float64(got[at]) - want[at]); !(d <= 4e-7*float64(o.k+2)*scale[at]+1e-30) {
				if bad++; bad <= 3 {
					t.Errorf("C(%d,%d) = %v, want %v", i, j, got[at], want[at])
				}
			}
		}
	}
	if bad > 3 {
		t.Errorf("%d elements wrong", bad)
	}
}

// shrunk returns a copy of mk with tiny cache blocks, so that small tests
// walk every blocking loop and its remainders.
func shrunk(mk *microKernel) *microKernel {
	s := *mk
	s.name += "-shrunk"
	s.mc, s.kc, s.nc = 2*mk.mr, 7, 2*mk.nr
	return &s
}

var transCases = []struct{ a, b bool }{{false, false}, {true, false}, {false, true}, {true, true}}

var scalars = []struct{ alpha, beta float32 }{{1, 0}, {1, 1}, {-0.5, 2}, {2, -1}}

// TestKernelPaths runs every kernel through the unpacked, packed and
// parallel paths for all transposes, scalars and odd sizes.
func TestKernelPaths(t *testing.T) {
	sizes := [][3]int{{1, 1, 1}, {1, 70, 3}, {70, 1, 5}, {3, 5, 70}, {13, 17, 19}, {12, 32, 8},
		{14, 33, 29}, {25, 65, 31}, {37, 48, 64}, {49, 67, 41}, {63, 64, 65}, {70, 70, 70}}
	if !testing.Short() {
		sizes = append(sizes, [3]int{131, 257, 300}, [3]int{300, 97, 513})
	}
	rng := rand.New(rand.NewPCG(1, 2))
	paths := []struct {
		name string
		run  func(g *gemm, mk *microKernel)
	}{
		{"small", func(g *gemm, mk *microKernel) { g.small(mk, 0, g.m, 0, g.n) }},
		{"small-block", func(g *gemm, mk *microKernel) {
			// Blocks of odd offsets, as the parallel split may cut them.
			im, jm := g.m/3, g.n/2
			g.small(mk, 0, im, 0, jm)
			g.small(mk, im, g.m, 0, jm)
			g.small(mk, 0, g.m, jm, g.n)
		}},
		{"small-parallel3", func(g *gemm, mk *microKernel) { g.smallParallel(mk, 3) }},
		{"packed", func(g *gemm, mk *microKernel) { g.run(mk, 0, g.m, 0, g.n) }},
		{"packed-shrunk", func(g *gemm, mk *microKernel) { g.run(shrunk(mk), 0, g.m, 0, g.n) }},
		{"parallel2", func(g *gemm, mk *microKernel) { g.parallel(mk, 2) }},
		{"parallel3-shrunk", func(g *gemm, mk *microKernel) { g.parallel(shrunk(mk), 3) }},
	}
	for _, tc := range transCases {
		for si, s := range scalars {
			for _, sz := range sizes {
				pad := (sz[0] + sz[1]) % 3 * 5
				o := newOperands(rng, tc.a, tc.b, sz[0], sz[1], sz[2], pad, s.alpha, s.beta)
				want, scale := o.reference()
				for _, mk := range gemmRegistry {
					for _, path := range paths {
						g := o.gemm()
						path.run(g, mk)
						o.checkAgainst(t, g.c, want, scale)
						if t.Failed() {
							t.Fatalf("%s/%s tA=%v tB=%v scalars %d size %v pad %d", mk.name, path.name, tc.a, tc.b, si, sz, pad)
						}
					}
				}
			}
		}
	}
}

// TestSgemm exercises the public entry point across the size thresholds.
func TestSgemm(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	sizes := [][3]int{{0, 5, 5}, {5, 0, 5}, {5, 5, 0}, {1, 1, 1}, {2, 3, 4}, {64, 64, 64}, {95, 97, 99},
		{128, 130, 129}, {200, 33, 300}, {7, 500, 260}, {300, 40, 45}}
	for _, tc := range transCases {
		for _, s := range append(scalars, struct{ alpha, beta float32 }{0, 0.5}) {
			for _, sz := range sizes {
				o := newOperands(rng, tc.a, tc.b, sz[0], sz[1], sz[2], 3, s.alpha, s.beta)
				c := append([]float32(nil), o.c...)
				Sgemm(o.transA, o.transB, o.m, o.n, o.k, o.alpha, o.a, o.lda, o.b, o.ldb, o.beta, c, o.ldc)
				o.check(t, c)
				if t.Failed() {
					t.Fatalf("tA=%v tB=%v alpha=%v beta=%v size %v", tc.a, tc.b, s.alpha, s.beta, sz)
				}
			}
		}
	}
}

// TestKernelsAgree checks that the assembly kernels and the Go kernel give
// the same tiles to float32 rounding, on inputs with exact products.
func TestKernelsAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, mk := range gemmRegistry {
		k := 37
		a := make([]float32, mk.mr*k)
		b := make([]float32, k*mk.nr)
		for i := range a {
			a[i] = float32(rng.IntN(9) - 4)
		}
		for i := range b {
			b[i] = float32(rng.IntN(9) - 4)
		}
		got := make([]float32, mk.mr*mk.nr)
		mk.fn(k, a, 1, mk.mr, b, mk.nr, got, mk.nr, 1, 0)
		for i := range mk.mr {
			for j := range mk.nr {
				var s float32
				for p := range k {
					s += a[p*mk.mr+i] * b[p*mk.nr+j]
				}
				if got[i*mk.nr+j] != s {
					t.Fatalf("%s: C(%d,%d) = %v, want %v", mk.name, i, j, got[i*mk.nr+j], s)
				}
			}
		}
	}
}

// TestPartKernels checks every height of the bottom-edge kernels against
// the plain loop, in place in a padded C whose other elements must stay.
func TestPartKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, mk := range gemmRegistry {
		if mk.part == nil {
			continue
		}
		for h := 1; h <= mk.mr; h++ {
			for _, beta := range []float32{0, 0.5} {
				k, ldc := 1+rng.IntN(40), mk.nr+3
				a := make([]float32, mk.mr*k)
				b := make([]float32, k*mk.nr)
				for i := range a {
					a[i] = float32(rng.IntN(9) - 4)
				}
				for i := range b {
					b[i] = float32(rng.IntN(9) - 4)
				}
				c := make([]float32, (mk.mr+1)*ldc)
				for i := range c {
					c[i] = float32(i % 7)
				}
				orig := append([]float32(nil), c...)
				mk.part(h, k, a, 1, mk.mr, b, mk.nr, c, ldc, 2, beta)
				for i := range mk.mr + 1 {
					for j := range ldc {
						want := orig[i*ldc+j]
						if i < h && j < mk.nr {
							var s float32
							for p := range k {
								s += a[p*mk.mr+i] * b[p*mk.nr+j]
							}
							want = 2*s + beta*orig[i*ldc+j]
						}
						if got := c[i*ldc+j]; got != want {
							t.Fatalf("%s h=%d beta=%v: C(%d,%d) = %v, want %v", mk.name, h, beta, i, j, got, want)
						}
					}
				}
			}
		}
	}
}

func TestSgemmConcurrent(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	var ops []*operands
	for i := range 8 {
		ops = append(ops, newOperands(rng, i%2 == 0, i%3 == 0, 100+i, 150-i, 120, 1, 1, 0))
	}
	outs := make([][]float32, len(ops))
	var wg sync.WaitGroup
	for i, o := range ops {
		wg.Go(func() {
			c := append([]float32(nil), o.c...)
			Sgemm(o.transA, o.transB, o.m, o.n, o.k, o.alpha, o.a, o.lda, o.b, o.ldb, o.beta, c, o.ldc)
			outs[i] = c
		})
	}
	wg.Wait()
	for i, o := range ops {
		o.check(t, outs[i])
	}
}

func TestSgemmStrided(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, tc := range []struct {
		batch, m, n, k int
		shareA         bool
	}{{1, 3, 4, 5, false}, {5, 13, 40, 17, true}, {4, 49, 64, 64, false}, {3, 20, 30, 10, false}, {2, 150, 140, 130, false}} {
		for _, tr := range transCases {
			ops := make([]*operands, tc.batch)
			var a, b, c []float32
			for t := range ops {
				ops[t] = newOperands(rng, tr.a, tr.b, tc.m, tc.n, tc.k, 2, 1.5, 0.5)
				if t > 0 && tc.shareA {
					ops[t].a = ops[0].a
				}
				a = append(a, ops[t].a...)
				b = append(b, ops[t].b...)
				c = append(c, ops[t].c...)
			}
			o := ops[0]
			sa, sb, sc := len(o.a), len(o.b), len(o.c)
			SgemmStrided(tr.a, tr.b, tc.batch, tc.m, tc.n, tc.k, 1.5, a, o.lda, sa, b, o.ldb, sb, 0.5, c, o.ldc, sc)
			for t2, o := range ops {
				o.check(t, c[t2*sc:(t2+1)*sc])
			}
		}
	}
	// A zero stride shares one A across the batch.
	o := newOperands(rng, false, false, 10, 20, 30, 0, 1, 0)
	b := append(append([]float32(nil), o.b...), o.b...)
	c := make([]float32, 2*len(o.c))
	SgemmStrided(false, false, 2, 10, 20, 30, 1, o.a, o.lda, 0, b, o.ldb, len(o.b), 0, c, o.ldc, len(o.c))
	o.check(t, c[:len(o.c)])
	o.check(t, c[len(o.c):])
}

func TestSgemmPanics(t *testing.T) {
	x := make([]float32, 16)
	for name, fn := range map[string]func(){
		"negative": func() { Sgemm(false, false, -1, 2, 2, 1, x, 2, x, 2, 0, x, 2) },
		"short A":  func() { Sgemm(false, false, 5, 2, 4, 1, x, 4, x, 2, 0, x, 2) },
		"short C":  func() { Sgemm(false, false, 2, 9, 1, 1, x, 1, x, 9, 0, x, 9) },
		"stride":   func() { Sgemm(false, false, 2, 2, 4, 1, x, 3, x, 2, 0, x, 2) },
		"overlap":  func() { SgemmStrided(false, false, 2, 2, 2, 2, 1, x, 2, 4, x, 2, 4, 0, x, 2, 1) },
		"alias A":  func() { Sgemm(false, false, 2, 2, 2, 1, x, 2, x[8:], 2, 0, x[2:], 2) },
		"alias B":  func() { Sgemm(true, true, 2, 2, 2, 1, x, 2, x[8:], 2, 0, x[10:], 2) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			fn()
		}()
	}
}

func TestParallelForNested(t *testing.T) {
	var mu sync.Mutex
	seen := map[[2]int]bool{}
	parallelFor(4, func(i int) {
		parallelFor(3, func(j int) {
			mu.Lock()
			seen[[2]int{i, j}] = true
			mu.Unlock()
		})
	})
	if len(seen) != 12 {
		t.Fatalf("ran %d of 12 shares", len(seen))
	}
}

// TestSgemmRandom runs the public entry point on seeded random shapes,
// transposes, strides and scalars, so that the path choices meet shapes no
// table lists.
func TestSgemmRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	cases := 150
	if testing.Short() {
		cases = 40
	}
	dim := func() int {
		if rng.IntN(4) == 0 {
			return 1 + rng.IntN(300)
		}
		return 1 + rng.IntN(70)
	}
	for i := range cases {
		m, n, k := dim(), dim(), dim()
		if rng.IntN(5) == 0 {
			k = 513 + rng.IntN(200) // past the unpacked path's limit
		}
		alpha := float32(rng.IntN(5)-2) / 2
		beta := float32(rng.IntN(3)) / 2
		o := newOperands(rng, rng.IntN(2) == 0, rng.IntN(2) == 0, m, n, k, rng.IntN(4), alpha, beta)
		c := append([]float32(nil), o.c...)
		Sgemm(o.transA, o.transB, o.m, o.n, o.k, o.alpha, o.a, o.lda, o.b, o.ldb, o.beta, c, o.ldc)
		o.check(t, c)
		if t.Failed() {
			t.Fatalf("case %d: tA=%v tB=%v m=%d n=%d k=%d alpha=%v beta=%v pads %d %d %d",
				i, o.transA, o.transB, m, n, k, alpha, beta, o.lda, o.ldb, o.ldc)
		}
	}
}

// TestInterleave checks packing's transpose, whichever implementation the
// CPU gets, against the plain loop, for panel widths of every kernel.
func TestInterleave(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	for _, w := range []int{4, 6, 12, 14, 16, 32} {
		for _, h := range []int{1, 3, w / 2, w - 1, w} {
			for _, k := range []int{1, 15, 16, 17, 48, 77} {
				if h < 1 {
					continue
				}
				lds := k + rng.IntN(3)
				src := randSlice(rng, (h-1)*lds+k)
				dst := make([]float32, w*k+5)
				for i := range dst {
					dst[i] = float32(math.NaN())
				}
				interleave(dst, w, src, lds, h, k)
				for p := range k {
					for r := range w {
						var want float32
						if r < h {
							want = src[r*lds+p]
						}
						if got := dst[p*w+r]; got != want {
							t.Fatalf("w=%d h=%d k=%d: dst(%d,%d) = %v, want %v", w, h, k, p, r, got, want)
						}
					}
				}
				for _, v := range dst[w*k:] {
					if !math.IsNaN(float64(v)) {
						t.Fatalf("w=%d h=%d k=%d: wrote past the panel", w, h, k)
					}
				}
			}
		}
	}
}
