package reid

import (
	"argus/internal/cputime"
	"math/rand/v2"
	"testing"
)

// marketLike returns a synthetic query×gallery distance matrix with the
// sizes of Market-1501's test split.
func marketLike(nq, ng int) (dist []float32, qp, gp, qc, gc []int) {
	rng := rand.New(rand.NewPCG(1, 0))
	qp, qc = make([]int, nq), make([]int, nq)
	for i := range qp {
		qp[i], qc[i] = 1+rng.IntN(750), rng.IntN(6)
	}
	gp, gc = make([]int, ng), make([]int, ng)
	for i := range gp {
		gp[i], gc[i] = rng.IntN(752), rng.IntN(6)
	}
	dist = make([]float32, nq*ng)
	for q := range nq {
		row := dist[q*ng : (q+1)*ng]
		for j := range row {
			v := rng.Float32() + 0.3
			if gp[j] == qp[q] {
				v = rng.Float32()
			}
			row[j] = v
		}
	}
	return dist, qp, gp, qc, gc
}

// BenchmarkEvaluateMarket times evaluation at Market-1501's test size,
// 3,368 queries × 15,913 gallery items, from the distance matrix.
func BenchmarkEvaluateMarket(b *testing.B) {
	dist, qp, gp, qc, gc := marketLike(3368, 15913)
	cpu := 0.0
	for b.Loop() {
		c0 := cputime.Seconds()
		if _, err := Evaluate(dist, qp, gp, qc, gc, DefaultMaxRank); err != nil {
			b.Fatal(err)
		}
		cpu += cputime.Seconds() - c0
	}
	b.ReportMetric(cpu/float64(b.N), "cpu-s/op")
	b.ReportMetric(float64(len(dist))*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mentries/s")
}

// BenchmarkDistances times the squared euclidean distances of 512 queries
// to 4,096 gallery features of dimension 2048.
func BenchmarkDistances(b *testing.B) {
	rng := rand.New(rand.NewPCG(2, 0))
	const m, n, d = 512, 4096, 2048
	x, y := make([]float32, m*d), make([]float32, n*d)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	for i := range y {
		y[i] = float32(rng.NormFloat64())
	}
	for b.Loop() {
		Distances(SquaredEuclidean, x, m, y, n, d)
	}
	b.ReportMetric(2*m*n*d*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
