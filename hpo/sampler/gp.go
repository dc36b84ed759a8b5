package sampler

import (
	"math"
	"math/rand/v2"
	"sort"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize"

	"argus/hpo"
)

// GP is the surrogate-model sampler HPS-Det's search describes: after a
// Latin-hypercube start it fits a Gaussian process (Matérn 5/2 kernel with
// one length scale per dimension, amplitude and noise chosen by maximising
// the marginal likelihood under weak priors) to the standardised
// objectives, and proposes the point of highest expected improvement. The
// acquisition is maximised over uniform candidates plus DYCORS-style
// perturbations of the best trials (a random subset of coordinates moved by
// a normal step at several scales), then refined by shrinking local
// perturbations. Floats and ints are scaled to [0, 1] (in log space where the
// parameter is log-scaled), categoricals are one-hot; an inactive
// conditional parameter sits at the centre of its range.
type GP struct {
	Seed uint64
	// Startup is the number of space-filling trials before the model is
	// used (default 2d+2 clipped to [5, 20] for d encoded dimensions).
	Startup int
}

// encoding maps parameter values to the unit cube the model works in.
type encoding struct {
	params []*hpo.Param
	offset []int
	lo, hi []float64
	dim    int
}

func newEncoding(space *hpo.Space) *encoding {
	e := &encoding{}
	for i := range space.Params {
		p := &space.Params[i]
		e.params = append(e.params, p)
		e.offset = append(e.offset, e.dim)
		lo, hi := 0.0, 0.0
		if p.Kind == hpo.Categorical {
			e.dim += len(p.Choices)
		} else {
			lo, hi = bounds(p)
			e.dim++
		}
		e.lo, e.hi = append(e.lo, lo), append(e.hi, hi)
	}
	return e
}

func (e *encoding) encode(vals map[string]float64) []float64 {
	x := make([]float64, e.dim)
	for i, p := range e.params {
		v, ok := vals[p.Name]
		o := e.offset[i]
		switch {
		case p.Kind == hpo.Categorical:
			if ok {
				x[o+int(v)] = 1
			}
		case !ok:
			x[o] = 0.5
		case e.hi[i] > e.lo[i]:
			x[o] = (toModel(p, v) - e.lo[i]) / (e.hi[i] - e.lo[i])
		default:
			x[o] = 0.5
		}
	}
	return x
}

func (e *encoding) decode(x []float64) map[string]float64 {
	out := make(map[string]float64, len(e.params))
	for i, p := range e.params {
		o := e.offset[i]
		if p.Kind == hpo.Categorical {
			best := 0
			for c := range p.Choices {
				if x[o+c] > x[o+best] {
					best = c
				}
			}
			out[p.Name] = float64(best)
			continue
		}
		out[p.Name] = fromModel(p, e.lo[i]+x[o]*(e.hi[i]-e.lo[i]))
	}
	return out
}

// snap moves x onto a point the space holds (ints on their grid, one-hot
// categoricals), so that the acquisition is judged where it will be run.
func (e *encoding) snap(x []float64) []float64 {
	return e.encode(e.decode(x))
}

// random returns a uniform point of the cube with valid one-hot blocks.
func (e *encoding) random(rng *rand.Rand) []float64 {
	x := make([]float64, e.dim)
	for i, p := range e.params {
		o := e.offset[i]
		if p.Kind == hpo.Categorical {
			x[o+rng.IntN(len(p.Choices))] = 1
		} else {
			x[o] = rng.Float64()
		}
	}
	return x
}

// perturb moves each coordinate block with probability prob (at least one
// block) by a normal step of scale sigma; a categorical block is redrawn.
func (e *encoding) perturb(x []float64, sigma, prob float64, rng *rand.Rand) []float64 {
	y := append([]float64(nil), x...)
	moved := false
	force := rng.IntN(len(e.params))
	for i, p := range e.params {
		if i != force && rng.Float64() >= prob {
			continue
		}
		moved = true
		o := e.offset[i]
		if p.Kind == hpo.Categorical {
			if rng.Float64() < math.Min(1, 4*sigma) {
				for c := range p.Choices {
					y[o+c] = 0
				}
				y[o+rng.IntN(len(p.Choices))] = 1
			}
			continue
		}
		v := y[o] + sigma*rng.NormFloat64()
		// Reflect at the walls rather than pile up on them.
		for v < 0 || v > 1 {
			if v < 0 {
				v = -v
			}
			if v > 1 {
				v = 2 - v
			}
		}
		y[o] = v
	}
	_ = moved
	return e.snap(y)
}

// Sample implements hpo.Sampler.
func (g *GP) Sample(space *hpo.Space, dir hpo.Direction, trials []hpo.Trial, number int) (map[string]float64, error) {
	enc := newEncoding(space)
	startup := g.Startup
	if startup == 0 {
		startup = min(max(2*enc.dim+2, 5), 20)
	}
	rng := rngFor(g.Seed, number, 2)
	X, y, nObs := observations(enc, dir, trials)
	if nObs < startup {
		if number < startup {
			return enc.decode(latinRow(enc, g.Seed, startup, number)), nil
		}
		return enc.decode(enc.random(rng)), nil
	}
	m := fitGP(X, y)
	if m == nil {
		return enc.decode(enc.random(rng)), nil
	}
	return enc.decode(m.maximizeEI(enc, X, rng)), nil
}

// latinRow returns row i of a Latin hypercube of n points drawn from the
// seed alone, so that the start design does not depend on the worker.
func latinRow(enc *encoding, seed uint64, n, i int) []float64 {
	rng := rand.New(rand.NewPCG(seed, 0x6c617469))
	x := make([]float64, enc.dim)
	for k, p := range enc.params {
		o := enc.offset[k]
		perm := rng.Perm(n)
		u := (float64(perm[i]) + rng.Float64()) / float64(n)
		if p.Kind == hpo.Categorical {
			x[o+min(int(u*float64(len(p.Choices))), len(p.Choices)-1)] = 1
		} else {
			x[o] = u
		}
	}
	return enc.snap(x)
}

// observations returns the encoded COMPLETE and PRUNED trials and their
// objectives, sign-adjusted so that lower is better, and how many they are;
// RUNNING trials follow as constant liars. Infeasible trials
// get the worst feasible value; with no feasible trial yet the model learns
// the violation instead.
func observations(enc *encoding, dir hpo.Direction, trials []hpo.Trial) (X [][]float64, y []float64, nObs int) {
	var infeasible []int
	worst := math.Inf(-1)
	anyFeasible := false
	for _, t := range trials {
		if t.State != hpo.Complete || t.Value == nil || math.IsNaN(*t.Value) {
			continue
		}
		v := *t.Value
		if dir == hpo.Maximize {
			v = -v
		}
		X = append(X, enc.encode(t.Params))
		if !t.Feasible() {
			infeasible = append(infeasible, len(y))
			viol := 0.0
			for _, c := range t.Constraints {
				viol += math.Max(c, 0)
			}
			y = append(y, viol)
			continue
		}
		anyFeasible = true
		worst = math.Max(worst, v)
		y = append(y, v)
	}
	if anyFeasible {
		for _, i := range infeasible {
			y[i] = worst
		}
		// A pruned trial was judged worse than its peers: it counts as the
		// worst value seen, so that the model does not propose its region
		// again.
		for _, t := range trials {
			if t.State == hpo.Pruned && len(t.Params) > 0 {
				X = append(X, enc.encode(t.Params))
				y = append(y, worst)
			}
		}
	}
	nObs = len(y)
	if anyFeasible {
		// Constant liar: trials other workers are running count as the
		// worst value seen, so that parallel workers spread out instead of
		// proposing the same point.
		for _, t := range trials {
			if t.State == hpo.Running && len(t.Params) > 0 {
				X = append(X, enc.encode(t.Params))
				y = append(y, worst)
			}
		}
	} else {
		for i := range y {
			if !contains(infeasible, i) {
				y[i] = 0
			}
		}
	}
	return X, y, nObs
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// model is a fitted Gaussian process on standardised targets.
type model struct {
	ls         []float64 // length scales
	amp, noise float64
	X          [][]float64
	chol       *mat.TriDense // lower Cholesky factor of K + noise I
	alpha      []float64
	best       float64 // lowest standardised observation
}

const sqrt5 = 2.23606797749979

// matern returns the Matérn 5/2 correlation at scaled distance r.
func matern(r float64) float64 {
	return (1 + sqrt5*r + 5.0/3*r*r) * math.Exp(-sqrt5*r)
}

func scaledDist(a, b, ls []float64) float64 {
	s := 0.0
	for d := range a {
		t := (a[d] - b[d]) / ls[d]
		s += t * t
	}
	return math.Sqrt(s)
}

// Hyper-parameter bounds (log space) and prior means; the targets are
// standardised, so amplitude near 1 and small noise are expected.
var (
	logLsLo, logLsHi       = math.Log(0.01), math.Log(20.0)
	logAmpLo, logAmpHi     = math.Log(0.05), math.Log(20.0)
	logNoiseLo, logNoiseHi = math.Log(1e-6), math.Log(0.1)
)

// fitGP standardises y and fits the hyper-parameters; nil when the data
// carry no signal.
func fitGP(X [][]float64, yRaw []float64) *model {
	n, D := len(yRaw), len(X[0])
	mean, sd := 0.0, 0.0
	for _, v := range yRaw {
		mean += v
	}
	mean /= float64(n)
	for _, v := range yRaw {
		sd += (v - mean) * (v - mean)
	}
	sd = math.Sqrt(sd / float64(n))
	if sd == 0 || math.IsNaN(sd) || math.IsInf(sd, 0) {
		return nil
	}
	y := make([]float64, n)
	for i, v := range yRaw {
		y[i] = (v - mean) / sd
	}
	// Optimise in an unbounded parametrisation: theta = lo + (hi-lo)*sigmoid(z).
	lo := make([]float64, D+2)
	hi := make([]float64, D+2)
	for d := 0; d < D; d++ {
		lo[d], hi[d] = logLsLo, logLsHi
	}
	lo[D], hi[D] = logAmpLo, logAmpHi
	lo[D+1], hi[D+1] = logNoiseLo, logNoiseHi
	theta0 := make([]float64, D+2)
	for d := 0; d < D; d++ {
		theta0[d] = math.Log(0.5)
	}
	theta0[D], theta0[D+1] = 0, math.Log(1e-4)
	toZ := func(theta []float64) []float64 {
		z := make([]float64, len(theta))
		for i := range theta {
			u := (theta[i] - lo[i]) / (hi[i] - lo[i])
			u = math.Min(math.Max(u, 1e-6), 1-1e-6)
			z[i] = math.Log(u / (1 - u))
		}
		return z
	}
	fromZ := func(z []float64) ([]float64, []float64) {
		theta := make([]float64, len(z))
		jac := make([]float64, len(z))
		for i := range z {
			s := 1 / (1 + math.Exp(-z[i]))
			theta[i] = lo[i] + (hi[i]-lo[i])*s
			jac[i] = (hi[i] - lo[i]) * s * (1 - s)
		}
		return theta, jac
	}
	ws := newWorkspace(n)
	prob := optimize.Problem{
		Func: func(z []float64) float64 {
			theta, _ := fromZ(z)
			return ws.negLogPost(X, y, theta, nil)
		},
		Grad: func(grad, z []float64) {
			theta, jac := fromZ(z)
			ws.negLogPost(X, y, theta, grad)
			for i := range grad {
				grad[i] *= jac[i]
			}
		},
	}
	settings := &optimize.Settings{MajorIterations: 60, FuncEvaluations: 120}
	bestTheta := theta0
	bestVal := ws.negLogPost(X, y, theta0, nil)
	res, err := optimize.Minimize(prob, toZ(theta0), settings, &optimize.LBFGS{})
	if res != nil && !math.IsNaN(res.F) && res.F < bestVal {
		bestTheta, _ = fromZ(res.X)
		bestVal = res.F
	}
	_ = err // a stopped search still leaves its best point in res
	m := &model{ls: make([]float64, D), X: X}
	for d := 0; d < D; d++ {
		m.ls[d] = math.Exp(bestTheta[d])
	}
	m.amp, m.noise = math.Exp(bestTheta[D]), math.Exp(bestTheta[D+1])
	K := mat.NewSymDense(n, nil)
	for i := 0; i < n; i++ {
		for j := 0; j <= i; j++ {
			k := m.amp * matern(scaledDist(X[i], X[j], m.ls))
			if i == j {
				k += m.noise
			}
			K.SetSym(i, j, k)
		}
	}
	var ch mat.Cholesky
	if !factorize(&ch, K) {
		return nil
	}
	m.chol = mat.NewTriDense(n, mat.Lower, nil)
	ch.LTo(m.chol)
	var a mat.VecDense
	if err := ch.SolveVecTo(&a, mat.NewVecDense(n, y)); err != nil {
		return nil
	}
	m.alpha = a.RawVector().Data
	m.best = math.Inf(1)
	for _, v := range y {
		m.best = math.Min(m.best, v)
	}
	return m
}

// factorize adds jitter until K is positive definite.
func factorize(ch *mat.Cholesky, K *mat.SymDense) bool {
	n := K.SymmetricDim()
	jitter := 0.0
	for try := 0; try < 6; try++ {
		if jitter > 0 {
			for i := 0; i < n; i++ {
				K.SetSym(i, i, K.At(i, i)+jitter)
			}
		}
		if ch.Factorize(K) {
			return true
		}
		if jitter == 0 {
			jitter = 1e-8
		} else {
			jitter *= 10
		}
	}
	return false
}

// workspace holds the buffers of the marginal-likelihood evaluations.
type workspace struct {
	K    *mat.SymDense
	inv  mat.SymDense
	ch   mat.Cholesky
	dist [][]float64
}

func newWorkspace(n int) *workspace { return &workspace{K: mat.NewSymDense(n, nil)} }

// negLogPost returns the negative log marginal likelihood plus the negative
// log prior of theta = (log length scales, log amplitude, log noise), and
// its gradient in grad when grad is not nil.
func (w *workspace) negLogPost(X [][]float64, y, theta, grad []float64) float64 {
	n, D := len(y), len(X[0])
	ls := make([]float64, D)
	for d := range ls {
		ls[d] = math.Exp(theta[d])
	}
	amp, noise := math.Exp(theta[D]), math.Exp(theta[D+1])
	for i := 0; i < n; i++ {
		for j := 0; j <= i; j++ {
			k := amp * matern(scaledDist(X[i], X[j], ls))
			if i == j {
				k += noise
			}
			w.K.SetSym(i, j, k)
		}
	}
	if !w.ch.Factorize(w.K) {
		if grad != nil {
			for i := range grad {
				grad[i] = 0
			}
		}
		return 1e10
	}
	var a mat.VecDense
	if err := w.ch.SolveVecTo(&a, mat.NewVecDense(n, y)); err != nil {
		return 1e10
	}
	alpha := a.RawVector().Data
	nll := 0.5*mat.Dot(&a, mat.NewVecDense(n, y)) + 0.5*w.ch.LogDet() + 0.5*float64(n)*math.Log(2*math.Pi)
	// Weak log-normal priors keep the length scales and noise sensible on
	// few points.
	const lsMu, lsSd = -0.7, 1.0
	const ampSd = 1.0
	const noiseMu, noiseSd = -9.0, 2.0
	for d := 0; d < D; d++ {
		t := (theta[d] - lsMu) / lsSd
		nll += 0.5 * t * t
	}
	nll += 0.5 * (theta[D] / ampSd) * (theta[D] / ampSd)
	tn := (theta[D+1] - noiseMu) / noiseSd
	nll += 0.5 * tn * tn
	if grad == nil {
		return nll
	}
	if err := w.ch.InverseTo(&w.inv); err != nil {
		for i := range grad {
			grad[i] = 0
		}
		return nll
	}
	for i := range grad {
		grad[i] = 0
	}
	// dNLL/dtheta_j = -0.5 tr((alpha alpha^T - K^-1) dK/dtheta_j).
	for i := 0; i < n; i++ {
		for j := 0; j <= i; j++ {
			wij := alpha[i]*alpha[j] - w.inv.At(i, j)
			mult := 1.0
			if i != j {
				mult = 2
			}
			if i == j {
				grad[D+1] -= 0.5 * wij * noise
				grad[D] -= 0.5 * wij * amp
				continue
			}
			r := scaledDist(X[i], X[j], ls)
			e := math.Exp(-sqrt5 * r)
			grad[D] -= 0.5 * mult * wij * amp * (1 + sqrt5*r + 5.0/3*r*r) * e
			c := amp * 5.0 / 3 * (1 + sqrt5*r) * e
			for d := 0; d < D; d++ {
				t := (X[i][d] - X[j][d]) / ls[d]
				grad[d] -= 0.5 * mult * wij * c * t * t
			}
		}
	}
	for d := 0; d < D; d++ {
		grad[d] += (theta[d] - lsMu) / (lsSd * lsSd)
	}
	grad[D] += theta[D] / (ampSd * ampSd)
	grad[D+1] += (theta[D+1] - noiseMu) / (noiseSd * noiseSd)
	return nll
}

// predict returns the posterior mean and standard deviation at x.
func (m *model) predict(x []float64, kbuf []float64) (float64, float64) {
	n := len(m.X)
	for i := 0; i < n; i++ {
		kbuf[i] = m.amp * matern(scaledDist(x, m.X[i], m.ls))
	}
	mu := 0.0
	for i := 0; i < n; i++ {
		mu += kbuf[i] * m.alpha[i]
	}
	// Forward substitution L v = k in place; var = amp - |v|^2.
	L := m.chol.RawTriangular()
	ss := 0.0
	for i := 0; i < n; i++ {
		s := kbuf[i]
		row := L.Data[i*L.Stride : i*L.Stride+i]
		for j, l := range row {
			s -= l * kbuf[j]
		}
		s /= L.Data[i*L.Stride+i]
		kbuf[i] = s
		ss += s * s
	}
	v := math.Max(m.amp-ss, 1e-12)
	return mu, math.Sqrt(v)
}

// logEI returns the log expected improvement below m.best, computed stably
// far into the tail.
func (m *model) logEI(x []float64, kbuf []float64) float64 {
	mu, sd := m.predict(x, kbuf)
	z := (m.best - mu) / sd
	var h float64
	switch {
	case z > -6:
		h = math.Log(math.Max(z*phi(z)+normPDF(z), 1e-300))
	default:
		// z Phi(z) + phi(z) = phi(z) (1/z^2 - 3/z^4 + ...) for z -> -inf.
		h = -0.5*z*z - 0.5*math.Log(2*math.Pi) - 2*math.Log(-z) + math.Log1p(-3/(z*z))
	}
	return h + math.Log(sd)
}

func normPDF(z float64) float64 { return math.Exp(-0.5*z*z) / math.Sqrt(2*math.Pi) }

type cand struct {
	x []float64
	v float64
}

// maximizeEI searches the cube for the highest expected improvement.
func (m *model) maximizeEI(enc *encoding, X [][]float64, rng *rand.Rand) []float64 {
	kbuf := make([]float64, len(m.X))
	var cs []cand
	add := func(x []float64) { cs = append(cs, cand{x, m.logEI(x, kbuf)}) }
	for i := 0; i < 1000; i++ {
		add(enc.random(rng))
	}
	// DYCORS-style: perturb the best observations.
	order := make([]int, len(X))
	ys := make([]float64, len(X))
	for i := range order {
		order[i] = i
		ys[i] = m.alpha[i] // placeholder, replaced below
	}
	kb := make([]float64, len(m.X))
	for i := range X {
		ys[i], _ = m.predict(X[i], kb)
	}
	sort.SliceStable(order, func(a, b int) bool { return ys[order[a]] < ys[order[b]] })
	prob := math.Min(1, 5/float64(len(enc.params)))
	for _, i := range order[:min(5, len(order))] {
		for _, sigma := range []float64{0.2, 0.05, 0.01} {
			for k := 0; k < 100; k++ {
				add(enc.perturb(X[i], sigma, prob, rng))
			}
		}
	}
	sort.SliceStable(cs, func(a, b int) bool { return cs[a].v > cs[b].v })
	best := cs[0]
	for _, c := range cs[:min(3, len(cs))] {
		cur := c
		sigma := 0.02
		for round := 0; round < 4; round++ {
			for k := 0; k < 40; k++ {
				x := enc.perturb(cur.x, sigma, prob, rng)
				if v := m.logEI(x, kbuf); v > cur.v {
					cur = cand{x, v}
				}
			}
			sigma /= 3
		}
		if cur.v > best.v {
			best = cur
		}
	}
	return best.x
}
