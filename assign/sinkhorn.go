package assign

import (
	"errors"
	"fmt"
	"math"
	"runtime"

	"argus/internal/par"
)

// Sinkhorn solves entropic optimal transport in the log domain, as POT's
// ot.bregman.sinkhorn_log: alternating log-sum-exp updates of the dual
// potentials, stable for any Epsilon.
type Sinkhorn struct {
	// Epsilon is the entropic regularisation (POT's reg): 0.1 in OTA, 1e-3
	// in Dynamic Sparse R-CNN's DLA.
	Epsilon float64
	// MaxIter caps the iterations.
	MaxIter int
	// Tol stops the iterations once the 2-norm of the difference between
	// the plan's column sums and the demands falls below it; as in POT it
	// is checked on the first and every tenth iteration. Zero runs MaxIter.
	Tol float64
	// Round, when true, projects the final plan onto the transport
	// polytope with RoundToMarginals, so that its row and column sums
	// equal the supplies and demands (to rounding error) even where the
	// iterations have not converged, as at small Epsilon.
	Round bool
}

// skipBelow is where exp(x - max) no longer changes a sum of at least one
// in double precision, so the exponential is not computed.
const skipBelow = -40

// Plan returns the rows x cols transport plan between the supplies (one per
// row) and the demands (one per column) under cost, and the iterations run.
// Supplies and demands must be positive with equal totals; costs finite.
func (s Sinkhorn) Plan(cost []float64, rows, cols int, supply, demand []float64) (plan []float64, iters int, err error) {
	if err := CheckFinite(cost, rows, cols); err != nil {
		return nil, 0, err
	}
	if len(supply) != rows || len(demand) != cols {
		return nil, 0, fmt.Errorf("assign: %d supplies and %d demands for a %dx%d cost", len(supply), len(demand), rows, cols)
	}
	if !(s.Epsilon > 0) || s.MaxIter < 1 {
		return nil, 0, errors.New("assign: Sinkhorn needs Epsilon > 0 and MaxIter >= 1")
	}
	var sa, sb float64
	loga, logb := make([]float64, rows), make([]float64, cols)
	for i, a := range supply {
		if !(a > 0) || math.IsInf(a, 0) {
			return nil, 0, fmt.Errorf("assign: supply[%d] = %v, want a positive finite value", i, a)
		}
		sa += a
		loga[i] = math.Log(a)
	}
	for j, b := range demand {
		if !(b > 0) || math.IsInf(b, 0) {
			return nil, 0, fmt.Errorf("assign: demand[%d] = %v, want a positive finite value", j, b)
		}
		sb += b
		logb[j] = math.Log(b)
	}
	if math.Abs(sa-sb) > 1e-9*max(sa, sb) {
		return nil, 0, fmt.Errorf("assign: supplies total %v but demands total %v", sa, sb)
	}
	if rows == 0 || cols == 0 {
		return []float64{}, 0, nil
	}
	mr := make([]float64, len(cost))
	for i, c := range cost {
		mr[i] = -c / s.Epsilon
	}
	w := &sinkhornWork{mr: mr, rows: rows, cols: cols, u: make([]float64, rows), v: make([]float64, cols),
		loga: loga, logb: logb, supply: supply, demand: demand,
		colMax: make([]float64, cols), colSum: make([]float64, cols)}
	w.parts = 1
	if rows*cols >= 1<<14 {
		w.parts = min(runtime.GOMAXPROCS(0), 4)
	}
	if w.kernelSafe() {
		// exp(-cost/epsilon) itself is a usable kernel: start scaled.
		w.absorb()
	}
	for it := range s.MaxIter {
		iters = it + 1
		w.step()
		if it%10 == 0 && s.Tol > 0 {
			if w.marginalError() < s.Tol {
				break
			}
		}
	}
	// The plan is diag(alpha) K diag(beta), which equals exp(mr + u + v)
	// without another pass of exponentials.
	plan = make([]float64, rows*cols)
	for i := range rows {
		a := w.alpha[i]
		krow := w.k[i*cols : i*cols+cols]
		prow := plan[i*cols : i*cols+cols]
		for j, kv := range krow {
			prow[j] = kv * a * w.beta[j]
		}
	}
	if s.Round {
		RoundToMarginals(plan, rows, cols, supply, demand)
	}
	return plan, iters, nil
}

// RoundToMarginals rounds the rows x cols nonnegative plan in place onto
// the plans whose row sums are supply and column sums demand (equal
// totals), as Altschuler, Weed and Rigollet (2017, Algorithm 2): rows
// scaled down to at most their supplies, then columns to at most their
// demands, then the missing mass added as the rank-one outer product of
// the row and column deficits divided by its total. The change in L1 is
// at most twice the plan's marginal error.
func RoundToMarginals(plan []float64, rows, cols int, supply, demand []float64) {
	for i := range rows {
		row := plan[i*cols : i*cols+cols]
		var sum float64
		for _, v := range row {
			sum += v
		}
		if sum > supply[i] {
			x := supply[i] / sum
			for j := range row {
				row[j] *= x
			}
		}
	}
	col := make([]float64, cols)
	for i := range rows {
		for j, v := range plan[i*cols : i*cols+cols] {
			col[j] += v
		}
	}
	for j := range cols {
		if col[j] > demand[j] {
			y := demand[j] / col[j]
			for i := range rows {
				plan[i*cols+j] *= y
			}
		}
	}
	errR := make([]float64, rows)
	errC := make([]float64, cols)
	for j := range cols {
		errC[j] = demand[j]
	}
	var total float64
	for i := range rows {
		errR[i] = supply[i]
		for j, v := range plan[i*cols : i*cols+cols] {
			errR[i] -= v
			errC[j] -= v
		}
		errR[i] = max(errR[i], 0)
		total += errR[i]
	}
	if !(total > 0) {
		return
	}
	for i := range rows {
		if errR[i] == 0 {
			continue
		}
		f := errR[i] / total
		row := plan[i*cols : i*cols+cols]
		for j := range row {
			row[j] += f * max(errC[j], 0)
		}
	}
}

// The iterations run on scaling vectors where that is exact enough: with
// reference potentials f, g absorbed into the kernel K = exp(mr + f + g),
// the log-domain update v = log b - logsumexp_i(mr + u) is b / (K^T alpha)
// for alpha = exp(u - f), two matrix-vector products instead of two
// passes of exponentials. Whenever a scaling factor or a kernel sum leaves
// [1e-100, 1e100], the step is redone in the log domain and the potentials
// are absorbed again, so entries lost to underflow never matter.
const (
	scaleLo = 1e-100
	scaleHi = 1e100
)

// kernelSafe reports whether every row and column of exp(mr) has an entry
// above exp(-200), so the kernel's sums start inside the scaling range.
func (w *sinkhornWork) kernelSafe() bool {
	const floor = -200
	cm := w.colMax
	for j := range cm {
		cm[j] = math.Inf(-1)
	}
	for i := range w.rows {
		rm := math.Inf(-1)
		for j, m := range w.mr[i*w.cols : i*w.cols+w.cols] {
			rm = max(rm, m)
			cm[j] = max(cm[j], m)
		}
		if rm < floor {
			return false
		}
	}
	for _, m := range cm {
		if m < floor {
			return false
		}
	}
	return true
}

// step runs one Sinkhorn iteration.
func (w *sinkhornWork) step() {
	if w.k != nil && w.scaledStep() {
		if !w.inRange(w.alpha) || !w.inRange(w.beta) {
			w.unscale()
			w.absorb()
		}
		return
	}
	w.unscale()
	w.parallel(w.cols, w.updateV)
	w.parallel(w.rows, w.updateU)
	w.absorb()
}

func (w *sinkhornWork) inRange(s []float64) bool {
	for _, x := range s {
		if !(x >= scaleLo && x <= scaleHi) {
			return false
		}
	}
	return true
}

// scaledStep updates beta then alpha; it reports false, changing nothing,
// when a kernel sum leaves the safe range.
func (w *sinkhornWork) scaledStep() bool {
	rows, cols := w.rows, w.cols
	cs := w.colSum
	clear(cs)
	for i := range rows {
		a := w.alpha[i]
		row := w.k[i*cols : i*cols+cols]
		for j, kv := range row {
			cs[j] += kv * a
		}
	}
	if !w.inRange(cs) {
		return false
	}
	nb := w.colMax // scratch for the new beta
	for j := range cols {
		nb[j] = w.demand[j] / cs[j]
	}
	for i := range rows {
		row := w.k[i*cols : i*cols+cols]
		row = row[:len(nb)]
		var s0, s1, s2, s3 float64
		j := 0
		for ; j+4 <= len(row); j += 4 {
			s0 += row[j] * nb[j]
			s1 += row[j+1] * nb[j+1]
			s2 += row[j+2] * nb[j+2]
			s3 += row[j+3] * nb[j+3]
		}
		for ; j < len(row); j++ {
			s0 += row[j] * nb[j]
		}
		s := (s0 + s1) + (s2 + s3)
		if !(s >= scaleLo && s <= scaleHi) {
			return false
		}
		w.rowSum[i] = s
	}
	copy(w.beta, nb)
	for i := range rows {
		w.alpha[i] = w.supply[i] / w.rowSum[i]
	}
	w.scaledOne = false
	return true
}

// unscale folds the scaling vectors into the log potentials u and v.
func (w *sinkhornWork) unscale() {
	if w.k == nil || w.scaledOne {
		return
	}
	for i, a := range w.alpha {
		w.u[i] = w.f[i] + math.Log(a)
	}
	for j, b := range w.beta {
		w.v[j] = w.g[j] + math.Log(b)
	}
	w.scaledOne = true
}

// absorb makes u, v the reference potentials and rebuilds the kernel.
func (w *sinkhornWork) absorb() {
	rows, cols := w.rows, w.cols
	if w.k == nil {
		w.k = make([]float64, rows*cols)
		w.f, w.g = make([]float64, rows), make([]float64, cols)
		w.alpha, w.beta = make([]float64, rows), make([]float64, cols)
		w.rowSum = make([]float64, rows)
	}
	copy(w.f, w.u)
	copy(w.g, w.v)
	for i := range w.alpha {
		w.alpha[i] = 1
	}
	for j := range w.beta {
		w.beta[j] = 1
	}
	w.parallel(rows, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			fi := w.f[i]
			for j, m := range w.mr[i*cols : i*cols+cols] {
				w.k[i*cols+j] = math.Exp(m + fi + w.g[j])
			}
		}
	})
	w.scaledOne = false
}

// sinkhornWork is the state of one Sinkhorn solve.
type sinkhornWork struct {
	mr             []float64 // -cost/epsilon
	rows, cols     int
	u, v           []float64 // log potentials
	loga, logb     []float64
	colMax, colSum []float64
	parts          int

	supply, demand []float64
	// Scaling state: kernel k = exp(mr + f + g) and the factors alpha, beta
	// with u = f + log alpha, v = g + log beta. scaledOne is true when u and
	// v are current (the factors were folded in or are all one).
	k, f, g     []float64
	alpha, beta []float64
	rowSum      []float64
	scaledOne   bool
}

// parallel runs f over [0, n) split into w.parts ranges.
func (w *sinkhornWork) parallel(n int, f func(lo, hi int)) {
	par.Workers(n, w.parts, func(_, lo, hi int) { f(lo, hi) })
}

// updateV sets v[j] = log b[j] - logsumexp_i(mr[i][j] + u[i]) for columns
// [lo, hi).
func (w *sinkhornWork) updateV(lo, hi int) {
	cm, cs := w.colMax[lo:hi], w.colSum[lo:hi]
	for j := range cm {
		cm[j] = math.Inf(-1)
		cs[j] = 0
	}
	for i := range w.rows {
		ui := w.u[i]
		row := w.mr[i*w.cols+lo : i*w.cols+hi]
		for j, m := range row {
			cm[j] = max(cm[j], m+ui)
		}
	}
	for i := range w.rows {
		ui := w.u[i]
		row := w.mr[i*w.cols+lo : i*w.cols+hi]
		for j, m := range row {
			if x := m + ui - cm[j]; x > skipBelow {
				cs[j] += math.Exp(x)
			}
		}
	}
	for j := range cm {
		w.v[lo+j] = w.logb[lo+j] - (math.Log(cs[j]) + cm[j])
	}
}

// updateU sets u[i] = log a[i] - logsumexp_j(mr[i][j] + v[j]) for rows
// [lo, hi).
func (w *sinkhornWork) updateU(lo, hi int) {
	for i := lo; i < hi; i++ {
		row := w.mr[i*w.cols : i*w.cols+w.cols]
		mx := math.Inf(-1)
		for j, m := range row {
			mx = max(mx, m+w.v[j])
		}
		sum := 0.0
		for j, m := range row {
			if x := m + w.v[j] - mx; x > skipBelow {
				sum += math.Exp(x)
			}
		}
		w.u[i] = w.loga[i] - (math.Log(sum) + mx)
	}
}

// marginalError returns the 2-norm of the plan's column sums minus the
// demands.
func (w *sinkhornWork) marginalError() float64 {
	cs := w.colSum
	clear(cs)
	for i := range w.rows {
		a := w.alpha[i]
		row := w.k[i*w.cols : i*w.cols+w.cols]
		for j, kv := range row {
			cs[j] += kv * a
		}
	}
	var e float64
	for j, s := range cs {
		d := s*w.beta[j] - w.demand[j]
		e += d * d
	}
	return math.Sqrt(e)
}
