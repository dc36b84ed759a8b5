// Package rerank computes k-reciprocal nearest neighbours and the Jaccard
// distance of Zhong et al. (CVPR 2017), both as the unsupervised domain
// adaptation code clusters with it (compute_jaccard_distance of MMT, SpCL
// and cluster-contrast) and as the re-ranking of query against gallery
// (re_ranking of person-re-ranking), step for step like the reference code.
//
// Memory grows with n·k: each row keeps its k1 nearest neighbours and a
// sparse encoding vector; no n×n matrix is formed. Rows run in parallel.
package rerank

import (
	"fmt"
	"math"
	"slices"

	"argus/internal/kernels"
	"argus/internal/par"
	"argus/reid"
)

// Options are the parameters of k-reciprocal encoding.
type Options struct {
	// K1 is the neighbourhood size of the k-reciprocal sets.
	K1 int
	// K2 is the number of neighbours averaged in local query expansion;
	// 1 turns expansion off.
	K2 int
	// Lambda weighs the original distance in ReRank's final mix.
	Lambda float64
	// Half stores the encodings and the Jaccard distance in IEEE float16,
	// as the reference re_ranking does with numpy float16 arrays (and
	// compute_jaccard_distance with use_float16); arithmetic then rounds
	// to float16 at the same points as numpy.
	Half bool
}

// DefaultOptions returns k1 = 30, k2 = 6, lambda = 0.3, the values the
// UDA methods cluster with.
func DefaultOptions() Options { return Options{K1: 30, K2: 6, Lambda: 0.3} }

func (o Options) check(n int) error {
	if o.K1 < 1 || o.K2 < 1 {
		return fmt.Errorf("rerank: k1 = %d and k2 = %d must be positive", o.K1, o.K2)
	}
	if o.K2 > o.K1 {
		return fmt.Errorf("rerank: k2 = %d exceeds k1 = %d", o.K2, o.K1)
	}
	if n <= o.K1 {
		return fmt.Errorf("rerank: %d features, need more than k1 = %d", n, o.K1)
	}
	if o.Lambda < 0 || o.Lambda > 1 || o.Lambda != o.Lambda {
		return fmt.Errorf("rerank: lambda %v outside [0, 1]", o.Lambda)
	}
	return nil
}

// Entry is one stored distance of a sparse row.
type Entry struct {
	Col  int32
	Dist float32
}

// Sparse is a matrix of distances of which only the rows' listed entries
// differ from Fill. Entries are sorted by column.
type Sparse struct {
	Rows, Cols int
	Fill       float32
	Row        [][]Entry
}

// At returns the distance at (i, j).
func (s *Sparse) At(i, j int) float32 {
	row := s.Row[i]
	k, ok := slices.BinarySearchFunc(row, int32(j), func(e Entry, c int32) int { return int(e.Col - c) })
	if ok {
		return row[k].Dist
	}
	return s.Fill
}

// Dense returns the matrix in row-major order.
func (s *Sparse) Dense() []float32 {
	out := make([]float32, s.Rows*s.Cols)
	for i := range s.Rows {
		row := out[i*s.Cols : (i+1)*s.Cols]
		for j := range row {
			row[j] = s.Fill
		}
		for _, e := range s.Row[i] {
			row[e.Col] = e.Dist
		}
	}
	return out
}

// sparseVec is a row of the encoding matrix V: columns ascending.
type sparseVec struct {
	col []int32
	val []float32
}

// encoder holds the state shared by both entry points.
type encoder struct {
	opt  Options
	x    []float32 // n×d features
	n, d int
	norm []float32 // squared norms
	// width is the number of ranked neighbours kept per row: k1+1 in
	// re_ranking (self plus k1), k1 in compute_jaccard_distance (a k1-NN
	// search that returns self first).
	width int
	rank  []int32   // n×width nearest neighbours, nearest first
	scale []float32 // per-row divisor of re_ranking's original distance
	zhong bool
}

// Jaccard returns the k-reciprocal Jaccard distance among the n rows of x
// (n×d, row-major) as compute_jaccard_distance of the UDA re-ID code does it:
// k1 nearest neighbours by euclidean distance, encoding weights
// softmax(-(2 - 2 x_i·x_j)) (the features are expected to be L2-normalised),
// local query expansion over k2 neighbours, and negative distances clamped to
// zero. Pairs that share no neighbours are at distance 1, the Fill. Among
// neighbours at exactly equal distance the lower index ranks first (the
// reference's faiss search leaves that order unspecified).
func Jaccard(x []float32, n, d int, opt Options) (*Sparse, error) {
	if len(x) != n*d || d < 1 {
		return nil, fmt.Errorf("rerank: %d values do not hold %d features of dimension %d", len(x), n, d)
	}
	if err := opt.check(n); err != nil {
		return nil, err
	}
	e := &encoder{opt: opt, x: x, n: n, d: d, width: opt.K1}
	e.norm = reid.SquaredNorms(x, n, d)
	e.knn(nil, 0)
	s := e.jaccard(e.encode(), 0, n, 0, n, math.Inf(1))
	for _, row := range s.Row {
		for k := range row {
			row[k].Dist = max(row[k].Dist, 0)
		}
	}
	return s, nil
}

// JaccardNeighbors returns, for each of the n rows of x, the rows within
// Jaccard distance eps of it, as Jaccard followed by Neighbors would, but
// without holding the whole sparse distance matrix: each row keeps only its
// entries within eps while it is computed. Its memory is that of the
// features plus the k-reciprocal encoding, which lets DBSCAN's pseudo
// labelling run on a hundred thousand features where the full matrix would
// take gigabytes.
func JaccardNeighbors(x []float32, n, d int, opt Options, eps float64) ([][]int32, error) {
	if len(x) != n*d || d < 1 {
		return nil, fmt.Errorf("rerank: %d values do not hold %d features of dimension %d", len(x), n, d)
	}
	if err := opt.check(n); err != nil {
		return nil, err
	}
	if !(eps >= 0 && eps < 1) {
		return nil, fmt.Errorf("rerank: eps %v outside [0, 1) of the Jaccard distance", eps)
	}
	e := &encoder{opt: opt, x: x, n: n, d: d, width: opt.K1}
	e.norm = reid.SquaredNorms(x, n, d)
	e.knn(nil, 0)
	s := e.jaccard(e.encode(), 0, n, 0, n, eps)
	out := make([][]int32, n)
	for i, row := range s.Row {
		nb := make([]int32, len(row))
		for k, en := range row {
			nb[k] = en.Col
		}
		out[i], s.Row[i] = nb, nil
	}
	return out, nil
}

// ReRank returns the nq×ng re-ranked distance between query (nq×d) and
// gallery (ng×d) features as re_ranking of Zhong et al. computes it:
// squared euclidean distances among all nq+ng features, each row divided by
// its maximum; k-reciprocal encoding with weights exp(-distance); query
// expansion over k2 neighbours; then (1-lambda)·Jaccard + lambda·original.
// With opt.Half the float16 Jaccard part matches the reference bit for bit
// on the golden cases and the result differs only by the float32 rounding of
// the distance products; numpy's argsort orders exact ties (from duplicate
// features) in its own way, here the lower index ranks first.
func ReRank(query []float32, nq int, gallery []float32, ng int, d int, opt Options) ([]float32, error) {
	if d < 1 || len(query) != nq*d || len(gallery) != ng*d {
		return nil, fmt.Errorf("rerank: %d and %d values do not hold %d and %d features of dimension %d", len(query), len(gallery), nq, ng, d)
	}
	n := nq + ng
	if err := opt.check(n); err != nil {
		return nil, err
	}
	x := make([]float32, 0, n*d)
	x = append(append(x, query...), gallery...)
	e := &encoder{opt: opt, x: x, n: n, d: d, width: opt.K1 + 1, zhong: true}
	e.norm = reid.SquaredNorms(x, n, d)
	out := make([]float32, nq*ng)
	e.knn(out, nq)
	v := e.encode()
	s := e.jaccard(v, 0, nq, nq, n, math.Inf(1))

	// The reference multiplies float32 and float16 arrays by Python floats,
	// which numpy first rounds to the array's type.
	lam := float32(opt.Lambda)
	keep := float32(1 - opt.Lambda)
	if opt.Half {
		keep = half(keep)
	}
	mix := func(jd float32) float32 {
		if opt.Half {
			return half(jd * keep)
		}
		return jd * keep
	}
	fill := mix(1)
	par.For(nq, 16, func(i int) {
		row := out[i*ng : (i+1)*ng]
		listed := s.Row[i]
		k := 0
		for j := range row {
			if k < len(listed) && int(listed[k].Col) == j {
				row[j] = mix(listed[k].Dist) + row[j]*lam
				k++
				continue
			}
			row[j] = fill + row[j]*lam
		}
	})
	return out, nil
}

// original returns re_ranking's normalised distance between rows i and j.
func (e *encoder) original(i, j int) float32 {
	return e.sqdist(i, j) / e.scale[i]
}

func (e *encoder) dot(i, j int) float32 {
	a, b := e.x[i*e.d:(i+1)*e.d], e.x[j*e.d:(j+1)*e.d]
	var s float32
	for k := range a {
		s += a[k] * b[k]
	}
	return s
}

func (e *encoder) sqdist(i, j int) float32 {
	return (e.norm[i] + e.norm[j]) - 2*e.dot(i, j)
}

// knn fills e.rank with each row's nearest neighbours by squared euclidean
// distance, ties broken by the lower index. Each distance is computed once:
// the matrix is symmetric, so each tile on or above the diagonal feeds the
// neighbour lists of its rows and, transposed, of its columns, halving the
// GEMM work; selection by (distance, index) does not depend on the order in
// which candidates arrive.
//
// For re_ranking (e.zhong) it also records each row's maximum distance in
// e.scale, orders each row's neighbours by the normalised distance
// distance/maximum as the reference sorts them, and, when out is not nil,
// writes the normalised distances of the first q rows to the last n-q
// columns into out.
func (e *encoder) knn(out []float32, q int) {
	n, d, w := e.n, e.d, e.width
	if e.zhong {
		e.scale = make([]float32, n)
	}
	sel := make([]selector, n)
	e.rank = make([]int32, n*w)
	vals := make([]float32, n*w)
	for i := range sel {
		sel[i] = selector{idx: e.rank[i*w : i*w : (i+1)*w], val: vals[i*w : i*w : (i+1)*w]}
	}
	const tile = 512
	buf := make([]float32, tile*tile)
	for i0 := 0; i0 < n; i0 += tile {
		bi := min(tile, n-i0)
		for j0 := i0; j0 < n; j0 += tile {
			bj := min(tile, n-j0)
			t := buf[:bi*bj]
			kernels.Sgemm(false, true, bi, bj, d, -2, e.x[i0*d:(i0+bi)*d], d, e.x[j0*d:(j0+bj)*d], d, 0, t, bj)
			par.For(bi, 8, func(r int) {
				i := i0 + r
				row := t[r*bj : (r+1)*bj]
				for c := range row {
					// torchreid's order: norms first, then the product.
					row[c] += e.norm[i] + e.norm[j0+c]
					sel[i].push(row[c], int32(j0+c), w)
				}
				if e.zhong {
					e.scale[i] = max(e.scale[i], slices.Max(row))
					if out != nil && i < q && j0+bj > q {
						lo := max(j0, q)
						copy(out[i*(n-q)+lo-q:i*(n-q)+j0+bj-q], row[lo-j0:])
					}
				}
			})
			if j0 == i0 {
				continue
			}
			par.For(bj, 8, func(c int) {
				j := j0 + c
				for r := range bi {
					v := t[r*bj+c]
					sel[j].push(v, int32(i0+r), w)
					if e.zhong {
						e.scale[j] = max(e.scale[j], v)
					}
				}
			})
		}
	}
	par.For(n, 16, func(i int) {
		sel[i].sort()
		if !e.zhong {
			return
		}
		// The reference ranks original_dist / max; dividing can merge
		// close distances into ties, which the index then breaks.
		sc := e.scale[i]
		r, v := sel[i].idx, sel[i].val
		for k := range v {
			v[k] /= sc
		}
		sortPairs(v, r)
		if out != nil && i < q {
			row := out[i*(n-q) : (i+1)*(n-q)]
			for j := range row {
				row[j] /= sc
			}
		}
	})
}

// sortPairs sorts (val, idx) pairs ascending by value, then index; the
// lists are short and nearly sorted.
func sortPairs(val []float32, idx []int32) {
	for a := 1; a < len(val); a++ {
		for b := a; b > 0 && (val[b] < val[b-1] || (val[b] == val[b-1] && idx[b] < idx[b-1])); b-- {
			val[b], val[b-1] = val[b-1], val[b]
			idx[b], idx[b-1] = idx[b-1], idx[b]
		}
	}
}

// selector keeps the k smallest (value, index) pairs seen, as a max-heap.
type selector struct {
	idx []int32
	val []float32
}

func (s *selector) worse(a, b int) bool {
	return s.val[a] > s.val[b] || (s.val[a] == s.val[b] && s.idx[a] > s.idx[b])
}

func (s *selector) swap(a, b int) {
	s.idx[a], s.idx[b] = s.idx[b], s.idx[a]
	s.val[a], s.val[b] = s.val[b], s.val[a]
}

func (s *selector) push(v float32, j int32, k int) {
	if len(s.idx) < k {
		s.idx, s.val = append(s.idx, j), append(s.val, v)
		for i := len(s.idx) - 1; i > 0; {
			p := (i - 1) / 2
			if !s.worse(i, p) {
				break
			}
			s.swap(i, p)
			i = p
		}
		return
	}
	if v > s.val[0] || (v == s.val[0] && j > s.idx[0]) {
		return
	}
	s.idx[0], s.val[0] = j, v
	for i := 0; ; {
		l := 2*i + 1
		if l >= len(s.idx) {
			return
		}
		m := l
		if r := l + 1; r < len(s.idx) && s.worse(r, l) {
			m = r
		}
		if !s.worse(m, i) {
			return
		}
		s.swap(i, m)
		i = m
	}
}

// sort orders the kept pairs by (value, index), nearest first.
func (s *selector) sort() {
	for n := len(s.idx) - 1; n > 0; n-- {
		s.swap(0, n)
		h := selector{idx: s.idx[:n], val: s.val[:n]}
		for i := 0; ; {
			l := 2*i + 1
			if l >= n {
				break
			}
			m := l
			if r := l + 1; r < n && h.worse(r, l) {
				m = r
			}
			if !h.worse(m, i) {
				break
			}
			h.swap(i, m)
			i = m
		}
	}
}

// reciprocal returns the members of row i's first w neighbours that have i
// among their own first w neighbours, in rank order.
func (e *encoder) reciprocal(i, w int) []int32 {
	fwd := e.rank[i*e.width : i*e.width+w]
	var out []int32
	for _, c := range fwd {
		if slices.Contains(e.rank[int(c)*e.width:int(c)*e.width+w], int32(i)) {
			out = append(out, c)
		}
	}
	return out
}

// encode builds the sparse encoding matrix V, with query expansion.
func (e *encoder) encode() []sparseVec {
	n, opt := e.n, e.opt
	full := make([][]int32, n)
	halfSets := make([][]int32, n)
	wHalf := int(math.RoundToEven(float64(opt.K1)/2)) + 1
	wFull := e.width
	par.For(n, 32, func(i int) {
		full[i] = e.reciprocal(i, wFull)
		halfSets[i] = e.reciprocal(i, min(wHalf, e.width))
	})
	v := make([]sparseVec, n)
	par.For(n, 16, func(i int) {
		r := full[i]
		exp := slices.Clone(r)
		for _, c := range r {
			rc := halfSets[c]
			common := 0
			for _, a := range rc {
				if slices.Contains(r, a) {
					common++
				}
			}
			if float64(common) > 2.0/3.0*float64(len(rc)) {
				exp = append(exp, rc...)
			}
		}
		slices.Sort(exp)
		exp = slices.Compact(exp)
		v[i] = sparseVec{col: exp, val: e.weights(i, exp)}
	})
	if opt.K2 == 1 {
		return v
	}
	qe := make([]sparseVec, n)
	par.Workers(n, 0, func(_, lo, hi int) {
		acc := make([]float32, n)
		seen := make([]bool, n)
		var touched []int32
		k2 := float32(opt.K2)
		for i := lo; i < hi; i++ {
			touched = touched[:0]
			for _, r := range e.rank[i*e.width : i*e.width+opt.K2] {
				sv := v[r]
				for k, c := range sv.col {
					if !seen[c] {
						seen[c] = true
						touched = append(touched, c)
					}
					acc[c] += sv.val[k]
				}
			}
			slices.Sort(touched)
			out := sparseVec{col: make([]int32, 0, len(touched)), val: make([]float32, 0, len(touched))}
			for _, c := range touched {
				m := acc[c] / k2
				if opt.Half {
					m = half(m)
				}
				if m != 0 {
					out.col = append(out.col, c)
					out.val = append(out.val, m)
				}
				acc[c], seen[c] = 0, false
			}
			qe[i] = out
		}
	})
	return qe
}

// weights returns row i's encoding weights over the sorted set idx.
func (e *encoder) weights(i int, idx []int32) []float32 {
	w := make([]float32, len(idx))
	if e.zhong {
		// weight = exp(-original); V = weight / sum(weight), in float32.
		for k, j := range idx {
			w[k] = float32(math.Exp(-float64(e.original(i, int(j)))))
		}
		s := reid.PairwiseSum(w)
		for k := range w {
			w[k] /= s
			if e.opt.Half {
				w[k] = half(w[k])
			}
		}
		return w
	}
	// softmax(-(2 - 2 x_i·x_j)), shifted by the maximum like torch.
	mx := float32(math.Inf(-1))
	for k, j := range idx {
		w[k] = -(2 - 2*e.dot(i, int(j)))
		mx = max(mx, w[k])
	}
	var s float32
	for k := range w {
		w[k] = float32(math.Exp(float64(w[k] - mx)))
		s += w[k]
	}
	for k := range w {
		w[k] /= s
		if e.opt.Half {
			w[k] = half(w[k])
		}
	}
	return w
}

type posting struct {
	row int32
	val float32
}

// jaccard returns the Jaccard distance of rows [r0, r1) to rows [t0, t1)
// as a sparse matrix whose columns are numbered from t0. It keeps only the
// entries whose distance, clamped at zero, is at most within.
func (e *encoder) jaccard(v []sparseVec, r0, r1, t0, t1 int, within float64) *Sparse {
	n := e.n
	// The inverted index: for each column, the rows (ascending) that use it.
	counts := make([]int, n+1)
	for i := t0; i < t1; i++ {
		for _, c := range v[i].col {
			counts[c+1]++
		}
	}
	for c := 1; c <= n; c++ {
		counts[c] += counts[c-1]
	}
	post := make([]posting, counts[n])
	fill := slices.Clone(counts[:n])
	for i := t0; i < t1; i++ {
		for k, c := range v[i].col {
			post[fill[c]] = posting{int32(i), v[i].val[k]}
			fill[c]++
		}
	}
	half16 := e.opt.Half
	s := &Sparse{Rows: r1 - r0, Cols: t1 - t0, Fill: 1, Row: make([][]Entry, r1-r0)}
	par.Workers(r1-r0, 0, func(_, lo, hi int) {
		tm := make([]float32, n)
		var touched []int32
		var scratch []Entry
		for i := r0 + lo; i < r0+hi; i++ {
			touched = touched[:0]
			vi := v[i]
			for k, c := range vi.col {
				a := vi.val[k]
				for _, p := range post[counts[c]:counts[c+1]] {
					if tm[p.row] == 0 {
						touched = append(touched, p.row)
					}
					m := tm[p.row] + min(a, p.val)
					if half16 {
						m = half(m)
					}
					tm[p.row] = m
				}
			}
			slices.Sort(touched)
			row := scratch[:0]
			for _, r := range touched {
				t := tm[r]
				var jd float32
				if half16 {
					jd = half(1 - half(t/half(2-t)))
				} else {
					jd = 1 - t/(2-t)
				}
				if float64(max(jd, 0)) <= within {
					row = append(row, Entry{Col: r - int32(t0), Dist: jd})
				}
				tm[r] = 0
			}
			// A row holds only what it kept, not the scratch's capacity.
			s.Row[i-r0], scratch = slices.Clone(row), row
		}
	})
	return s
}

// Neighbors returns, for each row, the columns at distance at most eps, as
// DBSCAN's radius neighbourhoods. eps must be below Fill, since the
// unlisted entries are not enumerated.
func (s *Sparse) Neighbors(eps float64) ([][]int32, error) {
	if !(eps >= 0 && eps < float64(s.Fill)) {
		return nil, fmt.Errorf("rerank: eps %v outside [0, %v) of a sparse distance", eps, s.Fill)
	}
	out := make([][]int32, s.Rows)
	for i, row := range s.Row {
		var nb []int32
		for _, e := range row {
			if float64(e.Dist) <= eps {
				nb = append(nb, e.Col)
			}
		}
		out[i] = nb
	}
	return out, nil
}

// Upper returns the listed distances of the strict upper triangle and the
// number of its entries left at Fill, the input of cluster.AdaptiveEps.
func (s *Sparse) Upper() (values []float32, implicit int) {
	total := 0
	for i, row := range s.Row {
		total += max(0, s.Cols-i-1)
		for _, e := range row {
			if int(e.Col) > i {
				values = append(values, e.Dist)
			}
		}
	}
	return values, total - len(values)
}
