package reid

import (
	"fmt"
	"math"

	"argus/internal/kernels"
	"argus/internal/par"
)

// Metric names a distance between feature vectors.
type Metric string

// The metrics Distances understands.
const (
	// SquaredEuclidean is ||x||² + ||y||² - 2x·y computed in float32, as
	// torchreid's compute_distance_matrix does; it can be slightly negative
	// for near-identical vectors because of rounding.
	SquaredEuclidean Metric = "squared_euclidean"
	// Euclidean is the square root of the squared distance clamped at zero.
	Euclidean Metric = "euclidean"
	// Cosine is 1 - x·y/(||x|| ||y||); a zero vector is treated as having
	// unit norm, so its distance to anything is 1.
	Cosine Metric = "cosine"
)

// ParseMetric returns the metric with the given name.
func ParseMetric(name string) (Metric, error) {
	switch m := Metric(name); m {
	case SquaredEuclidean, Euclidean, Cosine:
		return m, nil
	}
	return "", fmt.Errorf("unknown distance %q (want squared_euclidean, euclidean or cosine)", name)
}

// Distances returns the m×n matrix of distances between the rows of x (m×d)
// and the rows of y (n×d), both row-major. Entry (i, j) lies at i*n+j.
// The products come from one GEMM; the row norms and the final transform
// are spread over the available cores.
func Distances(metric Metric, x []float32, m int, y []float32, n int, d int) ([]float32, error) {
	if len(x) != m*d || len(y) != n*d {
		return nil, fmt.Errorf("distances: %d and %d values do not hold %d and %d rows of dimension %d", len(x), len(y), m, n, d)
	}
	out := make([]float32, m*n)
	switch metric {
	case SquaredEuclidean, Euclidean:
		kernels.Sgemm(false, true, m, n, d, -2, x, d, y, d, 0, out, n)
		xn, yn := SquaredNorms(x, m, d), SquaredNorms(y, n, d)
		par.For(m, 16, func(i int) {
			row := out[i*n : (i+1)*n]
			for j := range row {
				// torchreid adds the norms first, then the product.
				v := (xn[i] + yn[j]) + row[j]
				if metric == Euclidean {
					v = float32(math.Sqrt(float64(max(v, 0))))
				}
				row[j] = v
			}
		})
	case Cosine:
		xs, ys := Normalized(x, m, d), Normalized(y, n, d)
		kernels.Sgemm(false, true, m, n, d, -1, xs, d, ys, d, 0, out, n)
		for i := range out {
			out[i] += 1
		}
	default:
		return nil, fmt.Errorf("distances: unknown metric %q", metric)
	}
	return out, nil
}

// SquaredNorms returns the squared L2 norm of each of the m rows of x.
func SquaredNorms(x []float32, m, d int) []float32 {
	out := make([]float32, m)
	for i := range out {
		var s float32
		for _, v := range x[i*d : (i+1)*d] {
			s += v * v
		}
		out[i] = s
	}
	return out
}

// Normalized returns a copy of x whose m rows have unit L2 norm; zero rows
// stay zero.
func Normalized(x []float32, m, d int) []float32 {
	out := make([]float32, len(x))
	for i := 0; i < m; i++ {
		row := x[i*d : (i+1)*d]
		var s float64
		for _, v := range row {
			s += float64(v) * float64(v)
		}
		if s == 0 {
			continue
		}
		inv := float32(1 / math.Sqrt(s))
		o := out[i*d : (i+1)*d]
		for j, v := range row {
			o[j] = v * inv
		}
	}
	return out
}
