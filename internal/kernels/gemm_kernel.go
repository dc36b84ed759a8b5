package kernels

import "fmt"

// microKernel is one register-blocked inner kernel with the cache blocking
// that suits it.
//
// fn computes one mr×nr tile of C from k rank-1 updates:
//
//	for i := 0; i < mr; i++ {
//		for j := 0; j < nr; j++ {
//			var s float32
//			for p := 0; p < k; p++ {
//				s += a[i*rsA+p*csA] * b[p*ldb+j]
//			}
//			if beta == 0 {
//				c[i*ldc+j] = alpha * s
//			} else {
//				c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
//			}
//		}
//	}
//
// A packed A panel has rsA = 1 and csA = mr, a packed B panel ldb = nr; an
// unpacked row-major A has rsA = lda and csA = 1, a transposed one rsA = 1
// and csA = lda. k must be at least 1.
type microKernel struct {
	name       string
	mr, nr     int
	mc, kc, nc int // cache blocks, from deriveBlocking or a GemmConfig: A block mc×kc (L2), B block kc×nc (L3)
	fn         func(k int, a []float32, rsA, csA int, b []float32, ldb int, c []float32, ldc int, alpha, beta float32)
	// part, when set, computes only the first h rows (1 <= h <= mr) of
	// the tile, so that the bottom edge of C costs no wasted rows.
	part func(h, k int, a []float32, rsA, csA int, b []float32, ldb int, c []float32, ldc int, alpha, beta float32)
}

// checkTile panics unless a, b and c hold a full tile, so that the assembly
// kernels never touch memory outside their slices.
func checkTile(mr, nr, k int, a []float32, rsA, csA int, b []float32, ldb int, c []float32, ldc int) {
	if k < 1 || len(a) < (mr-1)*rsA+(k-1)*csA+1 || len(b) < (k-1)*ldb+nr || len(c) < (mr-1)*ldc+nr {
		panic(fmt.Sprintf("kernels: %dx%d tile out of range: k=%d len(a)=%d rsA=%d csA=%d len(b)=%d ldb=%d len(c)=%d ldc=%d",
			mr, nr, k, len(a), rsA, csA, len(b), ldb, len(c), ldc))
	}
}

// goKernel is the portable kernel: 4×4 tiles, so that the accumulators stay
// in registers on every architecture Go supports.
var goKernel = &microKernel{
	name: "go4x4", mr: 4, nr: 4,
	fn: kernelGo4x4,
}

// kernelGo4x4 is the microKernel loop for mr = nr = 4.
func kernelGo4x4(k int, a []float32, rsA, csA int, b []float32, ldb int, c []float32, ldc int, alpha, beta float32) {
	checkTile(4, 4, k, a, rsA, csA, b, ldb, c, ldc)
	var c00, c01, c02, c03, c10, c11, c12, c13 float32
	var c20, c21, c22, c23, c30, c31, c32, c33 float32
	if rsA == 1 {
		// Packed or transposed A: the four values of a step are adjacent.
		for p := range k {
			av := (*[4]float32)(a[p*csA:])
			bv := (*[4]float32)(b[p*ldb:])
			a0, a1, a2, a3 := av[0], av[1], av[2], av[3]
			b0, b1, b2, b3 := bv[0], bv[1], bv[2], bv[3]
			c00, c01, c02, c03 = c00+a0*b0, c01+a0*b1, c02+a0*b2, c03+a0*b3
			c10, c11, c12, c13 = c10+a1*b0, c11+a1*b1, c12+a1*b2, c13+a1*b3
			c20, c21, c22, c23 = c20+a2*b0, c21+a2*b1, c22+a2*b2, c23+a2*b3
			c30, c31, c32, c33 = c30+a3*b0, c31+a3*b1, c32+a3*b2, c33+a3*b3
		}
	} else {
		r0, r1, r2, r3 := a[:k*csA-csA+1], a[rsA:rsA+k*csA-csA+1], a[2*rsA:2*rsA+k*csA-csA+1], a[3*rsA:3*rsA+k*csA-csA+1]
		for p := range k {
			bv := (*[4]float32)(b[p*ldb:])
			ia := p * csA
			a0, a1, a2, a3 := r0[ia], r1[ia], r2[ia], r3[ia]
			b0, b1, b2, b3 := bv[0], bv[1], bv[2], bv[3]
			c00, c01, c02, c03 = c00+a0*b0, c01+a0*b1, c02+a0*b2, c03+a0*b3
			c10, c11, c12, c13 = c10+a1*b0, c11+a1*b1, c12+a1*b2, c13+a1*b3
			c20, c21, c22, c23 = c20+a2*b0, c21+a2*b1, c22+a2*b2, c23+a2*b3
			c30, c31, c32, c33 = c30+a3*b0, c31+a3*b1, c32+a3*b2, c33+a3*b3
		}
	}
	store4(c[0:4:4], c00, c01, c02, c03, alpha, beta)
	store4(c[ldc:ldc+4:ldc+4], c10, c11, c12, c13, alpha, beta)
	store4(c[2*ldc:2*ldc+4:2*ldc+4], c20, c21, c22, c23, alpha, beta)
	store4(c[3*ldc:3*ldc+4:3*ldc+4], c30, c31, c32, c33, alpha, beta)
}

func store4(c []float32, s0, s1, s2, s3, alpha, beta float32) {
	if beta == 0 {
		c[0], c[1], c[2], c[3] = alpha*s0, alpha*s1, alpha*s2, alpha*s3
		return
	}
	c[0] = alpha*s0 + beta*c[0]
	c[1] = alpha*s1 + beta*c[1]
	c[2] = alpha*s2 + beta*c[2]
	c[3] = alpha*s3 + beta*c[3]
}
