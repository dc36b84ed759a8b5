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
		hits := make([]atomic.Int32, n)
		Workers(n, func(_, lo, hi int) {
			for i := lo; i < hi; i++ {
				hits[i].Add(1)
			}
		})
		for i := range hits {
			if hits[i].Load() != 1 {
				t.Fatalf("n %d: index %d visited %d times", n, i, hits[i].Load())
			}
		}
	}
}
