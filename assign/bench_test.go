package assign

import (
	"argus/internal/cputime"
	"math/rand/v2"
	"testing"
)

func uniform(seed uint64, n int) []float64 {
	r := rand.New(rand.NewPCG(seed, 7))
	m := make([]float64, n)
	for i := range m {
		m[i] = r.Float64()
	}
	return m
}

// BenchmarkHungarian1000 solves a dense 1000 x 1000 uniform random matrix,
// the size tools/bench/detection/hungarian_scipy.py times for scipy.
func BenchmarkHungarian1000(b *testing.B) {
	cost := uniform(1, 1000*1000)
	start := cputime.Now()
	for b.Loop() {
		if _, _, err := Hungarian(cost, 1000, 1000); err != nil {
			b.Fatal(err)
		}
	}
	cputime.Report(b, start)
}

// BenchmarkSinkhorn300x100 runs 50 log-domain iterations for 300 proposals
// and 100 ground truths plus background (OTA's epsilon 0.1).
func BenchmarkSinkhorn300x100(b *testing.B) {
	const g, n = 100, 300
	cost := uniform(2, (g+1)*n)
	for i := range cost {
		cost[i] *= 3
	}
	supply := make([]float64, g+1)
	for i := range g {
		supply[i] = 2
	}
	supply[g] = n - 2*g
	demand := make([]float64, n)
	for j := range demand {
		demand[j] = 1
	}
	s := Sinkhorn{Epsilon: 0.1, MaxIter: 50}
	start := cputime.Now()
	for b.Loop() {
		if _, _, err := s.Plan(cost, g+1, n, supply, demand); err != nil {
			b.Fatal(err)
		}
	}
	cputime.Report(b, start)
}

// BenchmarkSinkhornDLA runs Dynamic Sparse R-CNN's setting: 300 proposals,
// 100 ground truths with k = 2 plus background, epsilon 1e-3, 50 iterations.
func BenchmarkSinkhornDLA(b *testing.B) {
	const g, n = 100, 300
	cost := uniform(3, (g+1)*n)
	for i := range cost {
		cost[i] *= 3
	}
	supply := make([]float64, g+1)
	for i := range g {
		supply[i] = 2
	}
	supply[g] = n - 2*g
	demand := make([]float64, n)
	for j := range demand {
		demand[j] = 1
	}
	s := Sinkhorn{Epsilon: 1e-3, MaxIter: 50}
	start := cputime.Now()
	for b.Loop() {
		if _, _, err := s.Plan(cost, g+1, n, supply, demand); err != nil {
			b.Fatal(err)
		}
	}
	cputime.Report(b, start)
}
