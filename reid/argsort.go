package reid

import "math/bits"

// Argsort returns the permutation that sorts v ascending, in the order
// numpy.argsort(v) (kind "quicksort", NumPy 1.x without SIMD sorting) returns
// it: an introsort with a median-of-three pivot, insertion sort below 16
// elements and heapsort past the depth limit. Tied values therefore come out
// in the same, unstable, order as the reference evaluation code sees them.
// NaNs sort last.
func Argsort[F float32 | float64](v []F) []int {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	ArgsortInto(v, idx)
	return idx
}

func less[F float32 | float64](a, b F) bool {
	return a < b || (b != b && a == a)
}

// ArgsortInto sorts idx, which must start as 0..len(v)-1, like Argsort.
func ArgsortInto[F float32 | float64](v []F, idx []int) {
	const smallQuicksort = 15
	num := len(idx)
	if num < 2 {
		return
	}
	type span struct{ l, r, depth int }
	var stack [128]span
	sp := 0
	pl, pr := 0, num-1
	cdepth := (bits.Len(uint(num)) - 1) * 2
	for {
		if cdepth < 0 {
			aheapsort(v, idx[pl:pr+1])
			goto pop
		}
		for pr-pl > smallQuicksort {
			pm := pl + (pr-pl)>>1
			if less(v[idx[pm]], v[idx[pl]]) {
				idx[pm], idx[pl] = idx[pl], idx[pm]
			}
			if less(v[idx[pr]], v[idx[pm]]) {
				idx[pr], idx[pm] = idx[pm], idx[pr]
			}
			if less(v[idx[pm]], v[idx[pl]]) {
				idx[pm], idx[pl] = idx[pl], idx[pm]
			}
			vp := v[idx[pm]]
			pi, pj := pl, pr-1
			idx[pm], idx[pj] = idx[pj], idx[pm]
			for {
				pi++
				for less(v[idx[pi]], vp) {
					pi++
				}
				pj--
				for less(vp, v[idx[pj]]) {
					pj--
				}
				if pi >= pj {
					break
				}
				idx[pi], idx[pj] = idx[pj], idx[pi]
			}
			pk := pr - 1
			idx[pi], idx[pk] = idx[pk], idx[pi]
			// Push the larger partition, continue with the smaller.
			cdepth--
			if pi-pl < pr-pi {
				stack[sp] = span{pi + 1, pr, cdepth}
				pr = pi - 1
			} else {
				stack[sp] = span{pl, pi - 1, cdepth}
				pl = pi + 1
			}
			sp++
		}
		for pi := pl + 1; pi <= pr; pi++ {
			vi := idx[pi]
			vp := v[vi]
			pj := pi
			for pj > pl && less(vp, v[idx[pj-1]]) {
				idx[pj] = idx[pj-1]
				pj--
			}
			idx[pj] = vi
		}
	pop:
		if sp == 0 {
			break
		}
		sp--
		pl, pr, cdepth = stack[sp].l, stack[sp].r, stack[sp].depth
	}
}

// aheapsort is numpy's aheapsort_ on the window tosort, with its one-based
// indexing kept so that ties resolve identically.
func aheapsort[F float32 | float64](v []F, tosort []int) {
	n := len(tosort)
	a := func(i int) int { return tosort[i-1] }
	set := func(i, x int) { tosort[i-1] = x }
	for l := n >> 1; l > 0; l-- {
		tmp := a(l)
		i, j := l, l<<1
		for j <= n {
			if j < n && less(v[a(j)], v[a(j+1)]) {
				j++
			}
			if less(v[tmp], v[a(j)]) {
				set(i, a(j))
				i = j
				j += j
			} else {
				break
			}
		}
		set(i, tmp)
	}
	for ; n > 1; n-- {
		tmp := a(n)
		set(n, a(1))
		i, j := 1, 2
		for j <= n-1 {
			if j < n-1 && less(v[a(j)], v[a(j+1)]) {
				j++
			}
			if less(v[tmp], v[a(j)]) {
				set(i, a(j))
				i = j
				j += j
			} else {
				break
			}
		}
		set(i, tmp)
	}
}
