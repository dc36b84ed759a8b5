// Package kernels holds the engine's numeric inner loops: matrix
// multiplication, convolution lowering, pooling, normalisation and
// element-wise work on raw float32 slices.
//
// Every routine has one contract and may have several implementations
// (assembly for AVX-512 and AVX2+FMA, pure Go); the fastest one the CPU
// supports is chosen once at start-up, and the purego build tag forces pure Go.
// On amd64 the choice follows golang.org/x/sys/cpu, which honours GODEBUG:
// GODEBUG=cpu.avx512f=off runs the AVX2 code on an AVX-512 machine, and
// GODEBUG=cpu.avx512f=off,cpu.avx2=off the pure-Go code, so that one machine
// can test every implementation of every caller.
//
// Sgemm's micro-kernel and cache blocks are chosen once at start-up from
// what the CPU is (HostCPU: CPUID's vendor, family and model, and the cache
// sizes under /sys/devices/system/cpu): ARGUS_GEMM_KERNEL forces a kernel
// by name, else the tune file that `argus bench tune` writes under
// os.UserCacheDir() gives this CPU model's measured choice, else the first
// kernel of the registry runs with blocks derived from the caches. NewGemm
// builds any other registered choice for one caller.
package kernels

import (
	"fmt"
	"runtime"
	"unsafe"
)

// Sgemm computes C = alpha*op(A)*op(B) + beta*C for row-major matrices, where
// op(X) is X or its transpose. op(A) is m×k, op(B) is k×n and C is m×n; lda,
// ldb and ldc are the row strides of A, B and C as stored. When beta is zero,
// C is overwritten without being read, so it may hold NaNs.
//
// Element (i, j) of a row-major matrix X with stride ldx lives at
// x[i*ldx+j]; op(A)(i, p) is a[i*lda+p], or a[p*lda+i] when transA is set.
//
// The plain loop it computes:
//
//	for i := 0; i < m; i++ {
//		for j := 0; j < n; j++ {
//			var s float32
//			for p := 0; p < k; p++ {
//				s += opA(i, p) * opB(p, j)
//			}
//			c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
//		}
//	}
//
// C must not share memory with A or B; Sgemm panics if it does. When alpha
// is zero or k is zero, A and B are not read.
//
// Large products are packed into cache-sized panels and split over
// GOMAXPROCS goroutines of a persistent worker pool; Sgemm is safe for
// concurrent use as long as the callers' C matrices do not overlap. It runs
// the micro-kernel and blocking chosen at start-up (see GemmChoice).
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	std.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Sgemm computes the product as the package's Sgemm does, with e's
// micro-kernel and blocking.
func (e Gemm) Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	g := gemm{transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
		a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc}
	g.do(e.mk)
}

// do computes the product with the kernel mk, reading the operands in
// place or packing them, on as many goroutines as the size warrants.
func (g *gemm) do(mk *microKernel) {
	nw := workersFor(mk, g.m, g.n, g.k)
	switch {
	case unpacked(mk, g.m, g.n, g.k) && nw <= 1:
		g.small(mk, 0, g.m, 0, g.n)
	case unpacked(mk, g.m, g.n, g.k):
		g.smallParallel(mk, nw)
	case nw <= 1:
		g.run(mk, 0, g.m, 0, g.n)
	default:
		g.parallel(mk, nw)
	}
}

// GemmKernel names the micro-kernel Sgemm uses on this machine, such as
// "avx512-14x32", "avx2-6x16" or "go4x4".
func GemmKernel() string { return std.mk.name }

// SgemmStrided computes batch independent products
// C_t = alpha*op(A_t)*op(B_t) + beta*C_t, where matrix t of X starts at
// x[t*strideX:] and is laid out as for Sgemm. A stride of zero shares one
// matrix across the batch (for example one weight matrix); C's stride must
// keep the outputs apart. Batches of small products run in parallel over the
// batch, large ones one after another with each product parallel inside.
func SgemmStrided(transA, transB bool, batch, m, n, k int, alpha float32, a []float32, lda, strideA int, b []float32, ldb, strideB int, beta float32, c []float32, ldc, strideC int) {
	std.SgemmStrided(transA, transB, batch, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC)
}

// SgemmStrided computes the batch as the package's SgemmStrided does, with
// e's micro-kernel and blocking.
func (e Gemm) SgemmStrided(transA, transB bool, batch, m, n, k int, alpha float32, a []float32, lda, strideA int, b []float32, ldb, strideB int, beta float32, c []float32, ldc, strideC int) {
	if batch < 0 || strideA < 0 || strideB < 0 || strideC < 0 {
		panic(fmt.Sprintf("kernels: SgemmStrided with negative batch %d or strides %d %d %d", batch, strideA, strideB, strideC))
	}
	if batch == 0 || m == 0 || n == 0 {
		return
	}
	if batch > 1 && strideC < (m-1)*ldc+n {
		panic(fmt.Sprintf("kernels: SgemmStrided output stride %d overlaps %dx%d matrices with ldc %d", strideC, m, n, ldc))
	}
	last := batch - 1
	checkGemm(transA, transB, m, n, k, a[last*strideA:], lda, b[last*strideB:], ldb, c[last*strideC:], ldc)
	g := gemm{transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
		a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc}
	s := strided{g: g, mk: e.mk, batch: batch, strideA: strideA, strideB: strideB, strideC: strideC}
	nw := min(runtime.GOMAXPROCS(0), batch)
	if nw <= 1 || workersFor(e.mk, m, n, k) > 1 {
		s.items(0, batch)
		return
	}
	// The goroutines take runs of the batch: the products are small, so the
	// inner ones stay single-threaded.
	s.parallel(nw)
}

// strided is a batch of products with the same shape.
type strided struct {
	g                         gemm
	mk                        *microKernel
	batch                     int
	strideA, strideB, strideC int
}

// items computes products lo..hi-1 of the batch.
func (s *strided) items(lo, hi int) {
	g := s.g
	for t := lo; t < hi; t++ {
		g.a, g.b, g.c = s.g.a[t*s.strideA:], s.g.b[t*s.strideB:], s.g.c[t*s.strideC:]
		if g.k == 0 || g.alpha == 0 {
			scaleC(g.m, g.n, g.beta, g.c, g.ldc)
			continue
		}
		g.do(s.mk)
	}
}

func (s strided) parallel(nw int) {
	q := &queue{n: min(s.batch, 4*nw)}
	parallelFor(nw, func(int) {
		for c := range q.each {
			s.items(span(c, q.n, s.batch, 1, s.batch))
		}
	})
}

// checkGemm panics when the sizes and strides do not fit the slices; these
// are programmer errors inside the engine.
func checkGemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("kernels: Sgemm with negative size m=%d n=%d k=%d", m, n, k))
	}
	ra, ca := m, k
	if transA {
		ra, ca = k, m
	}
	rb, cb := k, n
	if transB {
		rb, cb = n, k
	}
	check := func(name string, x []float32, rows, cols, ld int) {
		if ld < max(cols, 1) {
			panic(fmt.Sprintf("kernels: Sgemm %s stride %d < %d columns", name, ld, cols))
		}
		if rows > 0 && cols > 0 && len(x) < (rows-1)*ld+cols {
			panic(fmt.Sprintf("kernels: Sgemm %s has %d elements, %dx%d with stride %d needs %d", name, len(x), rows, cols, ld, (rows-1)*ld+cols))
		}
	}
	check("A", a, ra, ca, lda)
	check("B", b, rb, cb, ldb)
	check("C", c, m, n, ldc)
	if m > 0 && n > 0 && k > 0 {
		cc := c[:(m-1)*ldc+n]
		if overlap(a[:(ra-1)*lda+ca], cc) || overlap(b[:(rb-1)*ldb+cb], cc) {
			panic("kernels: Sgemm output C overlaps an input")
		}
	}
}

// overlap reports whether x and y share memory.
func overlap(x, y []float32) bool {
	if len(x) == 0 || len(y) == 0 {
		return false
	}
	x0, y0 := uintptr(unsafe.Pointer(&x[0])), uintptr(unsafe.Pointer(&y[0]))
	return x0 < y0+uintptr(len(y))*4 && y0 < x0+uintptr(len(x))*4
}

// scaleC sets C = beta*C, writing zeros without reading when beta is zero.
func scaleC(m, n int, beta float32, c []float32, ldc int) {
	if beta == 1 {
		return
	}
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// Flops below which a product runs on the calling goroutine alone: handing
// work to another core costs a few microseconds.
const parallelFlops = 2 * 96 * 96 * 96

// workersFor returns how many goroutines the product m×n×k should use.
func workersFor(mk *microKernel, m, n, k int) int {
	nw := runtime.GOMAXPROCS(0)
	if nw <= 1 || 2*m*n*k < parallelFlops {
		return 1
	}
	// Each goroutine needs at least a full register tile of work.
	tiles := ((m + mk.mr - 1) / mk.mr) * ((n + mk.nr - 1) / mk.nr)
	return max(1, min(nw, tiles))
}

// gemm holds the operands of one product.
type gemm struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a, b, c        []float32
	lda, ldb, ldc  int
}

// parallel computes the product on nw goroutines of the worker pool. When
// C has enough rows, they share the packed B blocks and split the rows;
// otherwise each takes a run of whole column tiles and packs its own
// panels.
func (g gemm) parallel(mk *microKernel, nw int) {
	if (g.m+mk.mr-1)/mk.mr >= nw {
		g.shared(mk, nw)
		return
	}
	tiles := (g.n + mk.nr - 1) / mk.nr
	parallelFor(nw, func(w int) {
		lo, hi := min(g.n, w*tiles/nw*mk.nr), min(g.n, (w+1)*tiles/nw*mk.nr)
		if lo < hi {
			g.run(mk, 0, g.m, lo, hi)
		}
	})
}
