// Package kernels holds the engine's numeric inner loops: matrix
// multiplication, convolution lowering, pooling, normalisation and
// element-wise work on raw float32 slices.
//
// Every routine has one contract and may have several implementations
// (assembly for AVX-512 and AVX2+FMA, pure Go); the fastest one the CPU
// supports is chosen once at start-up, and the purego build tag forces pure Go.
package kernels

import "fmt"

// Sgemm computes C = alpha*op(A)*op(B) + beta*C for row-major matrices, where
// op(X) is X or its transpose. op(A) is m×k, op(B) is k×n and C is m×n; lda,
// ldb and ldc are the row strides of A, B and C as stored. When beta is zero,
// C is overwritten without being read, so it may hold NaNs.
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
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("kernels: Sgemm with negative size m=%d n=%d k=%d", m, n, k))
	}
	if m == 0 || n == 0 {
		return
	}
	scaleC(m, n, beta, c, ldc)
	if k == 0 || alpha == 0 {
		return
	}
	sgemmGeneric(transA, transB, m, n, k, alpha, a, lda, b, ldb, c, ldc)
}

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

// sgemmGeneric accumulates alpha*op(A)*op(B) into C with loops ordered so
// that the innermost one walks contiguous memory.
func sgemmGeneric(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		crow := c[i*ldc : i*ldc+n]
		if !transB {
			for p := 0; p < k; p++ {
				var av float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				av *= alpha
				if av == 0 {
					continue
				}
				brow := b[p*ldb : p*ldb+n]
				for j, bv := range brow {
					crow[j] += av * bv
				}
			}
			continue
		}
		for j := 0; j < n; j++ {
			brow := b[j*ldb : j*ldb+k]
			var s float32
			if transA {
				for p, bv := range brow {
					s += a[p*lda+i] * bv
				}
			} else {
				arow := a[i*lda : i*lda+k]
				for p, bv := range brow {
					s += arow[p] * bv
				}
			}
			crow[j] += alpha * s
		}
	}
}
