package kernels

// Products whose operands together fit in this many floats always skip
// packing: they sit in L2 anyway, and copying them would cost as much as
// the arithmetic.
const smallFloats = 64 * 1024

// unpacked reports whether the product m×n×k reads its operands in place
// rather than packing them. Besides small products, that pays when A has
// too few column panels of B to amortise packing it, and when all of A
// stays in L2 across the column panels while the shared dimension is short
// enough for the kernel's B panel to stream from L2 without cache blocking
// (measured on AVX-512: 300×12544×256 gains a quarter, 1024³ loses a fifth).
func unpacked(mk *microKernel, m, n, k int) bool {
	switch {
	case m*k+k*n+m*n <= smallFloats:
		return true
	case n <= 4*mk.nr:
		return true
	}
	return k <= 512 && m*k <= 128*1024
}

// small computes the block C[i0:i1, j0:j1] without packing A, and without
// packing B unless it is transposed: the kernel reads A through its
// strides and B's rows in place. Only the partial tiles at the bottom and
// right edges of the block, and the panels of a transposed B, are copied
// into zero-padded panels.
func (g *gemm) small(mk *microKernel, i0, i1, j0, j1 int) {
	pb := getPackBuf()
	defer putPackBuf(pb)
	mr, nr := mk.mr, mk.nr
	k := g.k
	mFull := i0 + (i1-i0)/mr*mr
	pb.tile = grow(pb.tile, mr*nr)
	pb.a = grow(pb.a, mr*k)
	if i1 > mFull {
		g.packA(pb.a, mr, mFull, i1-mFull, 0, k)
	}
	rsA, csA := g.lda, 1
	if g.transA {
		rsA, csA = 1, g.lda
	}
	nFull := j0 + (j1-j0)/nr*nr
	if g.transB {
		nFull = j0 // every panel is packed, just before its use
	}
	pb.b = grow(pb.b, nr*k)
	for j := j0; j < j1; j += nr {
		bp, ldb := pb.b, nr
		if j < nFull {
			bp, ldb = g.b[j:], g.ldb
		} else {
			g.packB(pb.b, nr, 0, k, j, min(nr, j1-j))
		}
		cols := min(nr, j1-j)
		for i := i0; i < mFull; i += mr {
			g.tile(mk, pb.tile, k, g.a[i*rsA:], rsA, csA, bp, ldb, i, j, mr, cols, g.beta)
		}
		if i1 > mFull {
			g.tile(mk, pb.tile, k, pb.a, 1, mr, bp, ldb, mFull, j, i1-mFull, cols, g.beta)
		}
	}
}

// smallParallel runs the unpacked path on nw goroutines, which take runs
// of whole column tiles, or of row tiles when C is too narrow, from a queue.
func (g gemm) smallParallel(mk *microKernel, nw int) {
	colTiles := (g.n + mk.nr - 1) / mk.nr
	rowTiles := (g.m + mk.mr - 1) / mk.mr
	byCols := colTiles >= 2*nw || colTiles >= rowTiles
	tiles := rowTiles
	if byCols {
		tiles = colTiles
	}
	q := &queue{n: min(tiles, 4*nw)}
	parallelFor(nw, func(int) {
		for c := range q.each {
			if byCols {
				if lo, hi := span(c, q.n, colTiles, mk.nr, g.n); lo < hi {
					g.small(mk, 0, g.m, lo, hi)
				}
				continue
			}
			if lo, hi := span(c, q.n, rowTiles, mk.mr, g.m); lo < hi {
				g.small(mk, lo, hi, 0, g.n)
			}
		}
	})
}
