// Package cluster groups points without a fixed number of clusters: DBSCAN
// with the partition and label numbering of sklearn.cluster.DBSCAN, on a
// precomputed distance matrix, on features, or on precomputed
// neighbourhoods; and MMT's adaptive choice of eps.
package cluster

import (
	"argus/internal/par"
	"fmt"
	"math"
	"slices"

	"argus/internal/kernels"
)

// Noise is the label of points that belong to no cluster.
const Noise = -1

// DBSCAN labels n points from their eps-neighbourhoods: neighbors[i] lists
// the points within eps of point i, i itself included when its distance to
// itself is within eps, as sklearn's radius_neighbors does. A point is a
// core point when its neighbourhood holds at least minSamples points.
//
// Labels follow sklearn: clusters are numbered from 0 in the order of their
// lowest-indexed core point, a border point (not core, but within eps of a
// core point) joins the lowest-numbered cluster that reaches it, and other
// points are Noise. The partition does not depend on the order inside each
// neighbourhood.
func DBSCAN(neighbors [][]int32, minSamples int) []int {
	n := len(neighbors)
	labels := make([]int, n)
	for i := range labels {
		labels[i] = Noise
	}
	core := make([]bool, n)
	for i, nb := range neighbors {
		core[i] = len(nb) >= minSamples
	}
	var stack []int32
	next := 0
	for i := range n {
		if labels[i] != Noise || !core[i] {
			continue
		}
		// Depth-first from i, stopping at non-core points, like
		// sklearn's dbscan_inner.
		p := int32(i)
		for {
			if labels[p] == Noise {
				labels[p] = next
				if core[p] {
					for _, v := range neighbors[p] {
						if labels[v] == Noise {
							stack = append(stack, v)
						}
					}
				}
			}
			if len(stack) == 0 {
				break
			}
			p = stack[len(stack)-1]
			stack = stack[:len(stack)-1]
		}
		next++
	}
	return labels
}

// RadiusNeighbors returns, for each row of the n×n distance matrix dist
// (row-major), the columns whose distance is at most eps.
func RadiusNeighbors(dist []float32, n int, eps float64) ([][]int32, error) {
	if len(dist) != n*n {
		return nil, fmt.Errorf("cluster: distance matrix has %d entries, want %d×%d", len(dist), n, n)
	}
	if math.IsNaN(eps) || eps < 0 {
		return nil, fmt.Errorf("cluster: eps %v must be non-negative", eps)
	}
	out := make([][]int32, n)
	par.For(n, 1, func(i int) {
		var nb []int32
		for j, d := range dist[i*n : (i+1)*n] {
			if float64(d) <= eps {
				nb = append(nb, int32(j))
			}
		}
		out[i] = nb
	})
	return out, nil
}

// FeatureNeighbors returns, for each of the n rows of x (n×d, row-major),
// the rows within euclidean distance eps. Candidates come from one GEMM in
// float32; each is then confirmed with the distance computed in float64, so
// points on the boundary are decided as sklearn decides them.
func FeatureNeighbors(x []float32, n, d int, eps float64) ([][]int32, error) {
	if d < 1 || len(x) != n*d {
		return nil, fmt.Errorf("cluster: %d values do not hold %d features of dimension %d", len(x), n, d)
	}
	if math.IsNaN(eps) || eps < 0 {
		return nil, fmt.Errorf("cluster: eps %v must be non-negative", eps)
	}
	for _, v := range x {
		if v != v || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("cluster: features hold %v", v)
		}
	}
	norm := make([]float32, n)
	for i := range n {
		var s float32
		for _, v := range x[i*d : (i+1)*d] {
			s += v * v
		}
		norm[i] = s
	}
	// A generous float32 margin: the candidate test only has to keep every
	// true neighbour.
	var maxNorm float32
	for _, v := range norm {
		maxNorm = max(maxNorm, v)
	}
	slack := 1e-3*float64(maxNorm) + 1e-6
	limit := eps*eps + slack
	out := make([][]int32, n)
	const block = 256
	buf := make([]float32, min(block, n)*n)
	for b0 := 0; b0 < n; b0 += block {
		bs := min(block, n-b0)
		kernels.Sgemm(false, true, bs, n, d, -2, x[b0*d:(b0+bs)*d], d, x, d, 0, buf[:bs*n], n)
		par.For(bs, 1, func(r int) {
			i := b0 + r
			var nb []int32
			xi := x[i*d : (i+1)*d]
			for j, p := range buf[r*n : (r+1)*n] {
				if float64(norm[i]+norm[j]+p) > limit {
					continue
				}
				xj := x[j*d : (j+1)*d]
				var s float64
				for k := range xi {
					t := float64(xi[k]) - float64(xj[k])
					s += t * t
				}
				if math.Sqrt(s) <= eps {
					nb = append(nb, int32(j))
				}
			}
			out[i] = nb
		})
	}
	return out, nil
}

// AdaptiveEps returns MMT's eps: the mean of the smallest round(rho·m)
// values among the m nonzero distances of the upper triangle (rounding half
// to even, like numpy). The distances come as the explicitly listed values
// plus implicit copies of the value fill, which lets a sparse matrix such as
// a Jaccard distance (mostly 1) be passed without expanding it. Zeros are
// skipped as MMT's np.nonzero skips them. The mean is taken in float64.
func AdaptiveEps(values []float32, implicit int, fill float32, rho float64) (float64, error) {
	if !(rho > 0 && rho <= 1) {
		return 0, fmt.Errorf("cluster: rho %v outside (0, 1]", rho)
	}
	var vals []float32
	for _, v := range values {
		if v != 0 {
			if v != v {
				return 0, fmt.Errorf("cluster: distances hold NaN")
			}
			vals = append(vals, v)
		}
	}
	m := len(vals)
	if fill != 0 {
		m += implicit
	}
	top := int(math.RoundToEven(rho * float64(m)))
	if top == 0 {
		return 0, fmt.Errorf("cluster: rho %v of %d distances selects none", rho, m)
	}
	if fill == 0 {
		implicit = 0
	}
	slices.Sort(vals)
	// Merge the sorted explicit values with the implicit fills.
	var s float64
	k := 0
	for taken := 0; taken < top; taken++ {
		if k < len(vals) && (implicit == 0 || vals[k] <= fill) {
			s += float64(vals[k])
			k++
		} else {
			s += float64(fill)
			implicit--
		}
	}
	return s / float64(top), nil
}
