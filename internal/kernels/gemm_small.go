package kernels

// Products whose operands together fit in this many floats skip packing:
// they sit in L2 anyway, and copying them would cost as much as the
// arithmetic.
const smallFloats = 64 * 1024

// useSmall reports whether the product m×n×k takes the unpacked path.
func useSmall(m, n, k int) bool {
	return m*k+k*n+m*n <= smallFloats
}

// small computes the whole product on the calling goroutine without
// packing A, and without packing B unless it is transposed: the kernel
// reads A through its strides and B's rows in place. Only the partial
// tiles at the bottom and right edges are copied into zero-padded panels.
func (g *gemm) small(mk *microKernel) {
	pb := getPackBuf()
	defer putPackBuf(pb)
	mr, nr := mk.mr, mk.nr
	m, n, k := g.m, g.n, g.k
	mFull := m / mr * mr
	pb.tile = grow(pb.tile, mr*nr)
	pb.a = grow(pb.a, mr*k)
	if m > mFull {
		g.packA(pb.a, mr, mFull, m-mFull, 0, k)
	}
	rsA, csA := g.lda, 1
	if g.transA {
		rsA, csA = 1, g.lda
	}
	nFull := n / nr * nr
	if g.transB {
		nFull = 0 // every panel is packed
	}
	if n > nFull {
		cols := n - nFull
		pb.b = grow(pb.b, (cols+nr-1)/nr*nr*k)
		g.packB(pb.b, nr, 0, k, nFull, cols)
	}
	for j := 0; j < n; j += nr {
		var bp []float32
		ldb := nr
		if j < nFull {
			bp, ldb = g.b[j:], g.ldb
		} else {
			bp = pb.b[(j-nFull)*k:]
		}
		cols := min(nr, n-j)
		for i := 0; i < mFull; i += mr {
			g.tile(mk, pb.tile, k, g.a[i*rsA:], rsA, csA, bp, ldb, i, j, mr, cols, g.beta)
		}
		if m > mFull {
			g.tile(mk, pb.tile, k, pb.a, 1, mr, bp, ldb, mFull, j, m-mFull, cols, g.beta)
		}
	}
}
