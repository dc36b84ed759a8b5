package sampler

import (
	"math"
	"math/rand/v2"

	"argus/hpo"
)

// TPE is the tree-structured Parzen estimator as Optuna 3.1 runs it by
// default: after Startup random trials, the finished trials that hold a
// parameter are split into the best gamma(n) = min(ceil(0.1 n), 25) and the
// rest; each group gets a Parzen estimator (a mixture of truncated normals
// around the observations plus a wide prior, bandwidths from the distance to
// the neighbours, clipped with the "magic clip"); Candidates points are drawn
// from the good estimator and the one maximising l(x)/g(x) is taken. Each
// parameter is sampled independently, so conditional parameters use the
// trials in which they were active.
type TPE struct {
	Seed uint64
	// Startup is the number of random trials first (default 10).
	Startup int
	// Candidates is the number of points drawn per parameter (default 24).
	Candidates int
	// PriorWeight is the weight of the prior component (default 1).
	PriorWeight float64
	// Exact scores candidates with the true mixture density. By default
	// the density is computed as Optuna 3.1 computes it, without each
	// component's 1/sigma factor, which weighs broad components (the prior
	// above all) more; on Branin and Hartmann-6 that scored better
	// (docs/perf/hpo.md).
	Exact bool
}

// Sample implements hpo.Sampler.
func (s *TPE) Sample(space *hpo.Space, dir hpo.Direction, trials []hpo.Trial, number int) (map[string]float64, error) {
	startup, ncand, prior := s.Startup, s.Candidates, s.PriorWeight
	if startup == 0 {
		startup = 10
	}
	if ncand == 0 {
		ncand = 24
	}
	if prior == 0 {
		prior = 1
	}
	ranked := hpo.Rank(dir, trials)
	rng := rngFor(s.Seed, number, 1)
	out := make(map[string]float64, len(space.Params))
	if len(ranked) < startup {
		for i := range space.Params {
			out[space.Params[i].Name] = uniform(&space.Params[i], rng)
		}
		return out, nil
	}
	for i := range space.Params {
		p := &space.Params[i]
		// The ranked trials that hold p, with their rank; below and above
		// keep trial-number order so that the weights favour recent trials.
		var holders []int
		for r, t := range ranked {
			if _, ok := t.Params[p.Name]; ok {
				holders = append(holders, r)
			}
		}
		n := len(holders)
		if n == 0 {
			out[p.Name] = uniform(p, rng)
			continue
		}
		nBelow := min(int(math.Ceil(0.1*float64(n))), 25)
		type obs struct {
			number int
			v      float64
		}
		var below, above []obs
		for k, r := range holders {
			t := ranked[r]
			o := obs{t.Number, t.Params[p.Name]}
			if k < nBelow {
				below = append(below, o)
			} else {
				above = append(above, o)
			}
		}
		values := func(os []obs) []float64 {
			// Sort by trial number.
			for a := 1; a < len(os); a++ {
				for b := a; b > 0 && os[b].number < os[b-1].number; b-- {
					os[b], os[b-1] = os[b-1], os[b]
				}
			}
			v := make([]float64, len(os))
			for k, o := range os {
				v[k] = o.v
			}
			return v
		}
		bv, av := values(below), values(above)
		if p.Kind == hpo.Categorical {
			out[p.Name] = sampleCategorical(p, bv, av, prior, ncand, rng)
			continue
		}
		l := newParzen(p, bv, prior)
		g := newParzen(p, av, prior)
		l.optuna31, g.optuna31 = !s.Exact, !s.Exact
		best, bestScore := 0.0, math.Inf(-1)
		for c := 0; c < ncand; c++ {
			x := l.sample(rng)
			score := l.logPDF(x) - g.logPDF(x)
			if score > bestScore {
				best, bestScore = x, score
			}
		}
		out[p.Name] = fromModel(p, best)
	}
	return out, nil
}

// weights is Optuna's default_weights: flat for the last 25 observations,
// a linear ramp for older ones.
func weights(n int) []float64 {
	w := make([]float64, n)
	for i := range w {
		w[i] = 1
	}
	if n > 25 {
		m := n - 25
		for i := 0; i < m; i++ {
			if m == 1 {
				w[i] = 1.0 / float64(n)
			} else {
				w[i] = 1.0/float64(n) + float64(i)*(1-1.0/float64(n))/float64(m-1)
			}
		}
	}
	return w
}

// parzen is a mixture of truncated normals over the model-space range of
// one numeric parameter; the last component is the prior.
type parzen struct {
	lo, hi   float64
	step     float64 // 0 for continuous, the grid spacing for linear ints
	optuna31 bool    // leave out the 1/sigma of each component's density
	w, mu, s []float64
	logZ     []float64
}

func newParzen(p *hpo.Param, obs []float64, prior float64) *parzen {
	lo, hi := bounds(p)
	z := &parzen{lo: lo, hi: hi}
	if p.Kind == hpo.Int && !p.Log {
		z.step = p.Step
		if z.step <= 0 {
			z.step = 1
		}
	}
	n := len(obs)
	mus := make([]float64, 0, n+1)
	for _, v := range obs {
		mus = append(mus, toModel(p, v))
	}
	mus = append(mus, 0.5*(lo+hi))
	// Bandwidths: the larger gap to a neighbour among the sorted means with
	// the range ends, except that the outermost use only their inner gap.
	idx := make([]int, len(mus))
	for i := range idx {
		idx[i] = i
	}
	for a := 1; a < len(idx); a++ {
		for b := a; b > 0 && mus[idx[b]] < mus[idx[b-1]]; b-- {
			idx[b], idx[b-1] = idx[b-1], idx[b]
		}
	}
	m := len(mus)
	sig := make([]float64, m)
	for k, i := range idx {
		left, right := lo, hi
		if k > 0 {
			left = mus[idx[k-1]]
		}
		if k < m-1 {
			right = mus[idx[k+1]]
		}
		sig[i] = math.Max(mus[i]-left, right-mus[i])
	}
	if m >= 2 {
		sig[idx[0]] = mus[idx[1]] - mus[idx[0]]
		sig[idx[m-1]] = mus[idx[m-1]] - mus[idx[m-2]]
	}
	maxS := hi - lo
	minS := (hi - lo) / math.Min(100, 1+float64(m))
	for i := range sig {
		sig[i] = math.Max(minS, math.Min(maxS, sig[i]))
	}
	sig[m-1] = hi - lo
	w := weights(n)
	w = append(w, prior)
	sum := 0.0
	for _, x := range w {
		sum += x
	}
	for i := range w {
		w[i] /= sum
	}
	z.w, z.mu, z.s = w, mus, sig
	z.logZ = make([]float64, m)
	for i := range mus {
		z.logZ[i] = math.Log(math.Max(phi((hi-mus[i])/sig[i])-phi((lo-mus[i])/sig[i]), 1e-300))
	}
	return z
}

func phi(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }

func (z *parzen) sample(rng *rand.Rand) float64 {
	u := rng.Float64()
	k := 0
	for acc := z.w[0]; u > acc && k < len(z.w)-1; {
		k++
		acc += z.w[k]
	}
	a, b := phi((z.lo-z.mu[k])/z.s[k]), phi((z.hi-z.mu[k])/z.s[k])
	q := a + rng.Float64()*(b-a)
	q = math.Min(math.Max(q, 1e-300), 1-1e-16)
	x := z.mu[k] + z.s[k]*math.Sqrt2*math.Erfinv(2*q-1)
	x = math.Min(math.Max(x, z.lo), z.hi)
	if z.step > 0 {
		// Snap to the int grid inside the widened range.
		x = z.lo + z.step/2 + math.Round((x-z.lo-z.step/2)/z.step)*z.step
		x = math.Min(math.Max(x, z.lo+z.step/2), z.hi-z.step/2)
	}
	return x
}

// logPDF is the log density, or for ints on a linear grid the log
// probability of the cell around x.
func (z *parzen) logPDF(x float64) float64 {
	terms := make([]float64, len(z.mu))
	for i := range z.mu {
		if z.step > 0 {
			a := math.Max(x-z.step/2, z.lo)
			b := math.Min(x+z.step/2, z.hi)
			p := phi((b-z.mu[i])/z.s[i]) - phi((a-z.mu[i])/z.s[i])
			terms[i] = math.Log(z.w[i]) + math.Log(math.Max(p, 1e-300)) - z.logZ[i]
			continue
		}
		d := (x - z.mu[i]) / z.s[i]
		terms[i] = math.Log(z.w[i]) - 0.5*d*d - 0.5*math.Log(2*math.Pi) - z.logZ[i]
		if !z.optuna31 {
			terms[i] -= math.Log(z.s[i])
		}
	}
	return logSumExp(terms)
}

func logSumExp(x []float64) float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, v)
	}
	if math.IsInf(m, -1) {
		return m
	}
	s := 0.0
	for _, v := range x {
		s += math.Exp(v - m)
	}
	return m + math.Log(s)
}

// sampleCategorical runs TPE on a categorical parameter: each observation
// is a one-hot kernel smoothed towards uniform, and the prior is uniform.
func sampleCategorical(p *hpo.Param, below, above []float64, prior float64, ncand int, rng *rand.Rand) float64 {
	k := len(p.Choices)
	probs := func(obs []float64) []float64 {
		w := weights(len(obs))
		pr := make([]float64, k)
		total := prior
		for c := range pr {
			pr[c] = prior / float64(k)
		}
		for i, o := range obs {
			pr[int(o)] += w[i]
			total += w[i]
		}
		for c := range pr {
			pr[c] /= total
		}
		return pr
	}
	l, g := probs(below), probs(above)
	best, bestScore := 0, math.Inf(-1)
	for c := 0; c < ncand; c++ {
		u, x := rng.Float64(), 0
		for acc := l[0]; u > acc && x < k-1; {
			x++
			acc += l[x]
		}
		if s := math.Log(l[x]) - math.Log(g[x]); s > bestScore {
			best, bestScore = x, s
		}
	}
	return float64(best)
}
