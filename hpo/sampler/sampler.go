// Package sampler holds the samplers of package hpo: random search, the
// tree-structured Parzen estimator (TPE) and a Gaussian-process surrogate
// with expected improvement. Each is deterministic given its seed, the
// history and the trial number, so that workers in several processes
// propose exactly what one process would.
package sampler

import (
	"fmt"
	"math"
	"math/rand/v2"

	"argus/hpo"
)

// New builds the sampler a config names: random, tpe (as Optuna 3.1),
// tpe-exact (TPE with the true mixture density) or gp (also called
// surrogate).
func New(c hpo.SamplerConfig) (hpo.Sampler, error) {
	if c.Startup < 0 {
		return nil, fmt.Errorf("sampler %s: negative startup %d", c.Name, c.Startup)
	}
	switch c.Name {
	case "random":
		return Random{Seed: c.Seed}, nil
	case "tpe":
		return &TPE{Seed: c.Seed, Startup: c.Startup}, nil
	case "tpe-exact":
		return &TPE{Seed: c.Seed, Startup: c.Startup, Exact: true}, nil
	case "gp", "surrogate":
		return &GP{Seed: c.Seed, Startup: c.Startup}, nil
	}
	return nil, fmt.Errorf("unknown sampler %q (want random, tpe, tpe-exact or gp)", c.Name)
}

// rngFor returns the random stream of one trial: it depends only on the
// seed and the trial number, not on which worker samples.
func rngFor(seed uint64, number int, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed^0x9e3779b97f4a7c15*(stream+1), uint64(number)))
}

// Random samples every parameter independently and uniformly: floats and
// ints uniformly in their (log) range, choices with equal probability.
type Random struct {
	Seed uint64
}

// Sample implements hpo.Sampler.
func (r Random) Sample(space *hpo.Space, _ hpo.Direction, _ []hpo.Trial, number int) (map[string]float64, error) {
	rng := rngFor(r.Seed, number, 0)
	out := make(map[string]float64, len(space.Params))
	for i := range space.Params {
		p := &space.Params[i]
		out[p.Name] = uniform(p, rng)
	}
	return out, nil
}

// uniform draws one internal value uniformly from the parameter's space.
func uniform(p *hpo.Param, rng *rand.Rand) float64 {
	switch p.Kind {
	case hpo.Categorical:
		return float64(rng.IntN(len(p.Choices)))
	case hpo.Int:
		if p.Log {
			lo, hi := math.Log(p.Low-0.5), math.Log(p.High+0.5)
			return p.Clip(math.Exp(lo + rng.Float64()*(hi-lo)))
		}
		step := p.Step
		if step <= 0 {
			step = 1
		}
		n := int((p.High-p.Low)/step) + 1
		return p.Low + float64(rng.IntN(n))*step
	}
	if p.Log {
		lo, hi := math.Log(p.Low), math.Log(p.High)
		return p.Clip(math.Exp(lo + rng.Float64()*(hi-lo)))
	}
	return p.Clip(p.Low + rng.Float64()*(p.High-p.Low))
}

// bounds returns the numeric parameter's range in the space the models
// work in: log where the parameter is log-scaled, widened by half a step
// for ints so that every int has the same share of the range.
func bounds(p *hpo.Param) (lo, hi float64) {
	lo, hi = p.Low, p.High
	if p.Kind == hpo.Int {
		step := p.Step
		if step <= 0 {
			step = 1
		}
		lo, hi = lo-step/2, hi+step/2
	}
	if p.Log {
		lo, hi = math.Log(math.Max(lo, p.Low/2)), math.Log(hi)
	}
	return lo, hi
}

// toModel maps an internal value to the model space.
func toModel(p *hpo.Param, v float64) float64 {
	if p.Log {
		return math.Log(v)
	}
	return v
}

// fromModel maps a model-space value back into the parameter's space.
func fromModel(p *hpo.Param, x float64) float64 {
	if p.Log {
		x = math.Exp(x)
	}
	return p.Clip(x)
}
