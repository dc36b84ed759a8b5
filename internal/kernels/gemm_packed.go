package kernels

import (
	"fmt"
	"runtime"
	"sync"
)

// packBuf holds one goroutine's packed panels and its edge tile.
type packBuf struct {
	a, b, tile []float32
}

// packBufs keeps the buffers of finished products for the next ones. A
// sync.Pool would drop them at every garbage collection, and reallocating
// megabytes of panels per product would itself drive the collector.
var packBufs struct {
	sync.Mutex
	free []*packBuf
}

func getPackBuf() *packBuf {
	packBufs.Lock()
	defer packBufs.Unlock()
	if n := len(packBufs.free); n > 0 {
		pb := packBufs.free[n-1]
		packBufs.free = packBufs.free[:n-1]
		return pb
	}
	return new(packBuf)
}

// putPackBuf returns pb for reuse, keeping at most one buffer per thread
// (plus one for a concurrent caller).
func putPackBuf(pb *packBuf) {
	packBufs.Lock()
	defer packBufs.Unlock()
	if len(packBufs.free) <= runtime.GOMAXPROCS(0) {
		packBufs.free = append(packBufs.free, pb)
	}
}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// split returns the block size that cuts n into the fewest blocks of at
// most size, rounded up to a multiple of unit, so that the last block is
// not a sliver.
func split(n, size, unit int) int {
	blocks := (n + size - 1) / size
	bs := (n + blocks - 1) / blocks
	return (bs + unit - 1) / unit * unit
}

// run computes the block C[i0:i1, j0:j1] with the kernel mk in the
// GotoBLAS loop order: columns of B in nc blocks, the shared dimension in
// kc blocks (B block packed, L3), rows of A in mc blocks (A block packed,
// L2), then register tiles with the B micro-panel kept in L1.
func (g *gemm) run(mk *microKernel, i0, i1, j0, j1 int) {
	pb := getPackBuf()
	defer putPackBuf(pb)
	mr, nr := mk.mr, mk.nr
	kc := split(g.k, mk.kc, 1)
	mc := split(i1-i0, mk.mc, mr)
	nc := split(j1-j0, mk.nc, nr)
	pb.a = grow(pb.a, mc*kc)
	pb.b = grow(pb.b, nc*kc)
	pb.tile = grow(pb.tile, mr*nr)
	for jc := j0; jc < j1; jc += nc {
		nb := min(nc, j1-jc)
		for pc := 0; pc < g.k; pc += kc {
			kb := min(kc, g.k-pc)
			beta := g.beta
			if pc > 0 {
				beta = 1
			}
			g.packB(pb.b, nr, pc, kb, jc, nb)
			g.rows(mk, pb, i0, i1, mc, pc, kb, jc, nb, pb.b, beta)
		}
	}
}

// rows multiplies rows i0..i1 of op(A), restricted to the shared indices
// pc..pc+kb, by the packed B block bp of columns jc..jc+nb: the A block is
// packed mc rows at a time into pb and the register tiles walk it with the
// B micro-panel innermost in cache.
func (g *gemm) rows(mk *microKernel, pb *packBuf, i0, i1, mc, pc, kb, jc, nb int, bp []float32, beta float32) {
	mr, nr := mk.mr, mk.nr
	for ic := i0; ic < i1; ic += mc {
		mb := min(mc, i1-ic)
		g.packA(pb.a, mr, ic, mb, pc, kb)
		for jr := 0; jr < nb; jr += nr {
			bpanel := bp[jr*kb:]
			for ir := 0; ir < mb; ir += mr {
				ap := pb.a[ir*kb:]
				g.tile(mk, pb.tile, kb, ap, 1, mr, bpanel, nr, ic+ir, jc+jr, min(mr, mb-ir), min(nr, nb-jr), beta)
			}
		}
	}
}

// shared computes the product on nw goroutines that share each packed B
// block: for every block the goroutines first pack its panels, then
// multiply runs of rows of A by the whole block, taking both in chunks from
// a queue. Nothing is packed twice.
func (g *gemm) shared(mk *microKernel, nw int) {
	mr, nr := mk.mr, mk.nr
	sb := getPackBuf()
	defer putPackBuf(sb)
	kc := split(g.k, mk.kc, 1)
	nc := split(g.n, mk.nc, nr)
	sb.b = grow(sb.b, nc*kc)
	tilesM := (g.m + mr - 1) / mr
	for jc := 0; jc < g.n; jc += nc {
		nb := min(nc, g.n-jc)
		panels := (nb + nr - 1) / nr
		for pc := 0; pc < g.k; pc += kc {
			kb := min(kc, g.k-pc)
			beta := g.beta
			if pc > 0 {
				beta = 1
			}
			pq := &queue{n: min(panels, 4*nw)}
			parallelFor(nw, func(int) {
				for c := range pq.each {
					if lo, hi := span(c, pq.n, panels, nr, nb); lo < hi {
						g.packB(sb.b[lo*kb:], nr, pc, kb, jc+lo, hi-lo)
					}
				}
			})
			rq := &queue{n: min(tilesM, 4*nw)}
			parallelFor(nw, func(int) {
				pb := getPackBuf()
				defer putPackBuf(pb)
				pb.tile = grow(pb.tile, mr*nr)
				for c := range rq.each {
					i0, i1 := span(c, rq.n, tilesM, mr, g.m)
					if i0 >= i1 {
						continue
					}
					mc := split(i1-i0, mk.mc, mr)
					pb.a = grow(pb.a, mc*kb)
					g.rows(mk, pb, i0, i1, mc, pc, kb, jc, nb, sb.b, beta)
				}
			})
		}
	}
}

// tile runs the kernel for the rows×cols tile of C at (i, j). A tile cut
// short at the bottom goes to the kernel's part function when it has one;
// other partial tiles are computed whole into tmp and merged.
func (g *gemm) tile(mk *microKernel, tmp []float32, k int, a []float32, rsA, csA int, b []float32, ldb int, i, j, rows, cols int, beta float32) {
	if cols == mk.nr {
		if rows == mk.mr {
			mk.fn(k, a, rsA, csA, b, ldb, g.c[i*g.ldc+j:], g.ldc, g.alpha, beta)
			return
		}
		if mk.part != nil {
			mk.part(rows, k, a, rsA, csA, b, ldb, g.c[i*g.ldc+j:], g.ldc, g.alpha, beta)
			return
		}
	}
	mk.fn(k, a, rsA, csA, b, ldb, tmp, mk.nr, g.alpha, 0)
	for r := range rows {
		src := tmp[r*mk.nr : r*mk.nr+cols]
		dst := g.c[(i+r)*g.ldc+j : (i+r)*g.ldc+j+cols]
		if beta == 0 {
			copy(dst, src)
			continue
		}
		for x, v := range src {
			dst[x] = v + beta*dst[x]
		}
	}
}

// packA copies op(A)[i0:i0+rows, p0:p0+k] into panels of mr rows: element
// (i, p) of panel q lands at dst[q*mr*k + p*mr + i]. Rows past the edge
// are zero so that the kernel may compute whole tiles.
func (g *gemm) packA(dst []float32, mr, i0, rows, p0, k int) {
	for q := 0; q < rows; q += mr {
		panel := dst[q*k : q*k+mr*k]
		h := min(mr, rows-q)
		if g.transA {
			// op(A)(i, p) = a[p*lda+i]: each p is a contiguous run of rows.
			if h == 14 && mr == 14 {
				// The common case, as fixed-size moves instead of memmove calls.
				for p := range k {
					*(*[14]float32)(panel[p*14:]) = *(*[14]float32)(g.a[(p0+p)*g.lda+i0+q:])
				}
				continue
			}
			if h == 6 && mr == 6 {
				for p := range k {
					*(*[6]float32)(panel[p*6:]) = *(*[6]float32)(g.a[(p0+p)*g.lda+i0+q:])
				}
				continue
			}
			for p := range k {
				d := panel[p*mr : p*mr+mr]
				copy(d, g.a[(p0+p)*g.lda+i0+q:(p0+p)*g.lda+i0+q+h])
				zero(d[h:])
			}
			continue
		}
		interleave(panel, mr, g.a[(i0+q)*g.lda+p0:], g.lda, h, k)
	}
}

// packB copies op(B)[p0:p0+k, j0:j0+cols] into panels of nr columns:
// element (p, j) of panel q lands at dst[q*nr*k + p*nr + j]. Columns past
// the edge are zero.
func (g *gemm) packB(dst []float32, nr, p0, k, j0, cols int) {
	if !g.transB {
		// Walk B row by row so that the reads stream; each row scatters
		// nr-float pieces to the panels.
		full := cols / nr * nr
		for p := range k {
			src := g.b[(p0+p)*g.ldb+j0 : (p0+p)*g.ldb+j0+cols]
			d := dst[p*nr:]
			switch nr {
			case 32:
				for q := 0; q < full; q += 32 {
					*(*[32]float32)(d[q*k:]) = *(*[32]float32)(src[q:])
				}
			case 16:
				for q := 0; q < full; q += 16 {
					*(*[16]float32)(d[q*k:]) = *(*[16]float32)(src[q:])
				}
			default:
				for q := 0; q < full; q += nr {
					copy(d[q*k:q*k+nr], src[q:q+nr])
				}
			}
			if full < cols {
				e := d[full*k : full*k+nr]
				copy(e, src[full:])
				zero(e[cols-full:])
			}
		}
		return
	}
	// op(B)(p, j) = b[j*ldb+p]: each column is a contiguous run of p.
	for q := 0; q < cols; q += nr {
		interleave(dst[q*k:q*k+nr*k], nr, g.b[(j0+q)*g.ldb+p0:], g.ldb, min(nr, cols-q), k)
	}
}

// interleave transposes h rows of length k, row r starting at src[r*lds],
// into dst[p*w+r] for a panel of width w, zeroing rows h..w-1. With
// AVX-512 it moves 16×16 blocks through registers, with AVX2 8×8 ones; the
// Go loop works in strips of eight and four rows so that each pass writes
// neighbouring floats.
func interleave(dst []float32, w int, src []float32, lds, h, k int) {
	bs := transposeBlock
	if transposeAsm == nil || k < bs {
		interleaveGo(dst, w, src, lds, h, k)
		return
	}
	if h < 1 || h > w || len(dst) < w*k || len(src) < (h-1)*lds+k {
		panic(fmt.Sprintf("kernels: interleave %d rows of %d into width %d out of range", h, k, w))
	}
	kFull := k / bs * bs
	for r0 := 0; r0 < w; r0 += bs {
		rows, lanes := min(max(h-r0, 0), bs), min(w-r0, bs)
		for p := 0; p < kFull; p += bs {
			s := &src[0]
			if rows > 0 {
				s = &src[r0*lds+p]
			}
			transposeAsm(&dst[p*w+r0], w, s, lds, rows, lanes)
		}
	}
	if kFull < k {
		interleaveGo(dst[kFull*w:], w, src[kFull:], lds, h, k-kFull)
	}
}

// interleaveGo is interleave in plain Go.
func interleaveGo(dst []float32, w int, src []float32, lds, h, k int) {
	dst = dst[:w*k]
	r := 0
	for ; r+8 <= h; r += 8 {
		s0 := src[r*lds : r*lds+k]
		s1 := src[(r+1)*lds : (r+1)*lds+k]
		s2 := src[(r+2)*lds : (r+2)*lds+k]
		s3 := src[(r+3)*lds : (r+3)*lds+k]
		s4 := src[(r+4)*lds : (r+4)*lds+k]
		s5 := src[(r+5)*lds : (r+5)*lds+k]
		s6 := src[(r+6)*lds : (r+6)*lds+k]
		s7 := src[(r+7)*lds : (r+7)*lds+k]
		for p := range s0 {
			d := dst[p*w+r : p*w+r+8 : p*w+r+8]
			d[0], d[1], d[2], d[3] = s0[p], s1[p], s2[p], s3[p]
			d[4], d[5], d[6], d[7] = s4[p], s5[p], s6[p], s7[p]
		}
	}
	for ; r+4 <= h; r += 4 {
		s0 := src[r*lds : r*lds+k]
		s1 := src[(r+1)*lds : (r+1)*lds+k]
		s2 := src[(r+2)*lds : (r+2)*lds+k]
		s3 := src[(r+3)*lds : (r+3)*lds+k]
		for p := range s0 {
			d := dst[p*w+r : p*w+r+4 : p*w+r+4]
			d[0], d[1], d[2], d[3] = s0[p], s1[p], s2[p], s3[p]
		}
	}
	for ; r < h; r++ {
		s0 := src[r*lds : r*lds+k]
		for p, v := range s0 {
			dst[p*w+r] = v
		}
	}
	if h < w {
		for p := range k {
			zero(dst[p*w+h : p*w+w])
		}
	}
}

// zero clears the few floats of a panel's padding inline: a call to the
// runtime's memclr per packed step would cost more than the stores.
func zero(x []float32) {
	for i := 0; i < len(x); i++ {
		x[i] = 0
	}
}
