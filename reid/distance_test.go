package reid

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestDistances(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const m, n, d = 7, 33, 19
	x, y := make([]float32, m*d), make([]float32, n*d)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	for i := range y {
		y[i] = float32(rng.NormFloat64())
	}
	clear(y[5*d : 6*d]) // a zero vector
	for _, metric := range []Metric{SquaredEuclidean, Euclidean, Cosine} {
		got, err := Distances(metric, x, m, y, n, d)
		if err != nil {
			t.Fatal(err)
		}
		for i := range m {
			for j := range n {
				var dot, xx, yy, sq float64
				for k := range d {
					a, b := float64(x[i*d+k]), float64(y[j*d+k])
					dot += a * b
					xx += a * a
					yy += b * b
					sq += (a - b) * (a - b)
				}
				var want float64
				switch metric {
				case SquaredEuclidean:
					want = sq
				case Euclidean:
					want = math.Sqrt(sq)
				case Cosine:
					want = 1
					if yy > 0 {
						want = 1 - dot/math.Sqrt(xx*yy)
					}
				}
				if g := float64(got[i*n+j]); math.Abs(g-want) > 1e-4*(1+math.Abs(want)) {
					t.Errorf("%s (%d,%d) = %v, want %v", metric, i, j, g, want)
				}
			}
		}
	}
	if _, err := Distances(Cosine, x, m+1, y, n, d); err == nil {
		t.Error("wrong size: no error")
	}
	if _, err := Distances("manhattan", x, m, y, n, d); err == nil {
		t.Error("unknown metric: no error")
	}
	if _, err := ParseMetric("cosine"); err != nil {
		t.Error(err)
	}
}
