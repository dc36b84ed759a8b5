package rerank

import (
	"math"
	"math/rand/v2"
	"testing"
)

// clustered returns n unit-norm features of dimension d around ids centres.
func clustered(n, d, ids int) []float32 {
	rng := rand.New(rand.NewPCG(2, 0))
	centres := make([]float32, ids*d)
	for i := range centres {
		centres[i] = float32(rng.NormFloat64())
	}
	x := make([]float32, n*d)
	for i := range n {
		c := rng.IntN(ids)
		row := x[i*d : (i+1)*d]
		var s float64
		for k := range row {
			row[k] = centres[c*d+k] + 0.8*float32(rng.NormFloat64())
			s += float64(row[k]) * float64(row[k])
		}
		for k := range row {
			row[k] *= float32(1 / math.Sqrt(s))
		}
	}
	return x
}

// BenchmarkJaccard times the k-reciprocal Jaccard distance (k1 30, k2 6)
// of 2,000 features of dimension 2048; tools/bench/reid runs the
// Market-1501 training size, 12,936.
func BenchmarkJaccard(b *testing.B) {
	const n, d = 2000, 2048
	x := clustered(n, d, 120)
	for b.Loop() {
		if _, err := Jaccard(x, n, d, DefaultOptions()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "features/s")
}

// BenchmarkReRank times re-ranking of 500 queries against 1,500 gallery
// features of dimension 2048.
func BenchmarkReRank(b *testing.B) {
	const nq, ng, d = 500, 1500, 2048
	x := clustered(nq+ng, d, 120)
	opt := DefaultOptions()
	opt.Half = true
	for b.Loop() {
		if _, err := ReRank(x[:nq*d], nq, x[nq*d:], ng, d, opt); err != nil {
			b.Fatal(err)
		}
	}
}
