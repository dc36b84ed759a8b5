package par

import (
	"sync/atomic"
	"testing"
)

func TestFor(t *testing.T) {
	for _, n := range []int{0, 1, 7, 1000} {
		for _, chunk := range []int{0, 1, 16} {
			hits := make([]atomic.Int32, n)
			For(n, chunk, func(i int) { hits[i].Add(1) })
			for i := range hits {
				if hits[i].Load() != 1 {
					t.Fatalf("n %d chunk %d: index %d visited %d times", n, chunk, i, hits[i].Load())
				}
			}
		}
	}
}

func TestWorkers(t *testing.T) {
	for _, n := range []int{0, 1, 5, 1001} {
		for _, workers := range []int{0, 1, 3, 64} {
			k := NumWorkers(n, workers)
			hits := make([]atomic.Int32, n)
			calls := make([]atomic.Int32, k)
			next := make([]int, k+1) // lo of each worker, then n
			next[k] = n
			Workers(n, workers, func(w, lo, hi int) {
				calls[w].Add(1)
				next[w] = lo
				for i := lo; i < hi; i++ {
					hits[i].Add(1)
				}
			})
			for i := range hits {
				if hits[i].Load() != 1 {
					t.Fatalf("n %d workers %d: index %d visited %d times", n, workers, i, hits[i].Load())
				}
			}
			for w := range calls {
				if n > 0 && (calls[w].Load() != 1 || next[w] > next[w+1]) {
					t.Fatalf("n %d workers %d: worker %d called %d times, lo %d", n, workers, w, calls[w].Load(), next[w])
				}
			}
			if workers > 0 && n > 0 && k != min(workers, n) {
				t.Fatalf("NumWorkers(%d, %d) = %d", n, workers, k)
			}
		}
	}
}
