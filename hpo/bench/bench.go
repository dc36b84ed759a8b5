// Package bench runs hpo samplers on the standard test functions of global
// optimisation and summarises the regret over seeds.
package bench

import (
	"context"
	"fmt"
	"math"
	"sort"
	"sync"

	"argus/hpo"
	"argus/hpo/sampler"
	"argus/internal/par"
)

// Function is a test function to minimise over a box.
type Function struct {
	Name string
	// Min is the known global minimum.
	Min   float64
	Space hpo.Space
	F     func(x []float64) float64
}

func box(names []string, lo, hi []float64) hpo.Space {
	var s hpo.Space
	for i, n := range names {
		s.Params = append(s.Params, hpo.Param{Name: n, Kind: hpo.Float, Low: lo[i], High: hi[i]})
	}
	return s
}

// Functions lists the test functions by name.
var Functions = map[string]Function{
	"branin": {
		Name: "branin", Min: 0.397887,
		Space: box([]string{"x1", "x2"}, []float64{-5, 0}, []float64{10, 15}),
		F:     Branin,
	},
	"hartmann6": {
		Name: "hartmann6", Min: -3.32237,
		Space: box([]string{"x1", "x2", "x3", "x4", "x5", "x6"}, []float64{0, 0, 0, 0, 0, 0}, []float64{1, 1, 1, 1, 1, 1}),
		F:     Hartmann6,
	},
	"rosenbrock": {
		Name: "rosenbrock", Min: 0,
		Space: box([]string{"x1", "x2", "x3", "x4"}, []float64{-5, -5, -5, -5}, []float64{10, 10, 10, 10}),
		F:     Rosenbrock,
	},
}

// Branin is the 2-d Branin-Hoo function; its minimum 0.397887 is reached at
// three points.
func Branin(x []float64) float64 {
	const a, b, c, r, s, t = 1, 5.1 / (4 * math.Pi * math.Pi), 5 / math.Pi, 6, 10, 1 / (8 * math.Pi)
	u := x[1] - b*x[0]*x[0] + c*x[0] - r
	return a*u*u + s*(1-t)*math.Cos(x[0]) + s
}

// Hartmann6 is the 6-d Hartmann function on [0, 1]^6, minimum -3.32237.
func Hartmann6(x []float64) float64 {
	alpha := [4]float64{1.0, 1.2, 3.0, 3.2}
	A := [4][6]float64{
		{10, 3, 17, 3.5, 1.7, 8},
		{0.05, 10, 17, 0.1, 8, 14},
		{3, 3.5, 1.7, 10, 17, 8},
		{17, 8, 0.05, 10, 0.1, 14},
	}
	P := [4][6]float64{
		{1312, 1696, 5569, 124, 8283, 5886},
		{2329, 4135, 8307, 3736, 1004, 9991},
		{2348, 1451, 3522, 2883, 3047, 6650},
		{4047, 8828, 8732, 5743, 1091, 381},
	}
	s := 0.0
	for i := 0; i < 4; i++ {
		e := 0.0
		for j := 0; j < 6; j++ {
			d := x[j] - P[i][j]*1e-4
			e += A[i][j] * d * d
		}
		s += alpha[i] * math.Exp(-e)
	}
	return -s
}

// Rosenbrock is the d-dimensional Rosenbrock function, minimum 0 at ones.
func Rosenbrock(x []float64) float64 {
	s := 0.0
	for i := 0; i+1 < len(x); i++ {
		a, b := x[i+1]-x[i]*x[i], 1-x[i]
		s += 100*a*a + b*b
	}
	return s
}

// Run minimises f with the named sampler for trials evaluations and
// returns, per evaluation, the regret of the best value so far.
func Run(f Function, samplerName string, seed uint64, trials int) ([]float64, error) {
	sm, err := sampler.New(hpo.SamplerConfig{Name: samplerName, Seed: seed})
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	st := hpo.NewMemory()
	study, err := hpo.Create(ctx, st, hpo.StudyInfo{Name: f.Name, Direction: hpo.Minimize, Space: f.Space})
	if err != nil {
		return nil, err
	}
	study.Sampler = sm
	study.MaxTrials = trials
	regret := make([]float64, 0, trials)
	best := math.Inf(1)
	x := make([]float64, len(f.Space.Params))
	err = study.Optimize(ctx, func(t hpo.Trial) (float64, error) {
		for i, p := range f.Space.Params {
			x[i] = t.Params[p.Name]
		}
		v := f.F(x)
		best = math.Min(best, v)
		regret = append(regret, best-f.Min)
		return v, nil
	})
	return regret, err
}

// Summary is the regret over seeds after some number of evaluations.
type Summary struct {
	Trials int     `json:"trials"`
	Median float64 `json:"median"`
	Q1     float64 `json:"q1"`
	Q3     float64 `json:"q3"`
}

// Result is the outcome of Compare.
type Result struct {
	Function string    `json:"function"`
	Sampler  string    `json:"sampler"`
	Trials   int       `json:"trials"`
	Seeds    int       `json:"seeds"`
	Median   float64   `json:"median"`
	Q1       float64   `json:"q1"`
	Q3       float64   `json:"q3"`
	At       []Summary `json:"at"`
	// Final holds the final regret of each seed.
	Final []float64 `json:"final"`
}

// Compare runs seeds 0..seeds-1 and summarises the regret after 25, 50,
// 100 evaluations (those not beyond trials) and after trials. progress, if
// not nil, is called after each seed.
func Compare(name, samplerName string, trials, seeds int, progress func(done int)) (Result, error) {
	f, ok := Functions[name]
	if !ok {
		return Result{}, fmt.Errorf("unknown function %q (want branin, hartmann6 or rosenbrock)", name)
	}
	if trials < 1 || seeds < 1 {
		return Result{}, fmt.Errorf("want trials >= 1 and seeds >= 1, got %d and %d", trials, seeds)
	}
	if _, err := sampler.New(hpo.SamplerConfig{Name: samplerName}); err != nil {
		return Result{}, err
	}
	runs := make([][]float64, seeds)
	errs := make([]error, seeds)
	var mu sync.Mutex
	done := 0
	par.For(seeds, 1, func(s int) {
		runs[s], errs[s] = Run(f, samplerName, uint64(s), trials)
		mu.Lock()
		done++
		if progress != nil {
			progress(done)
		}
		mu.Unlock()
	})
	for _, err := range errs {
		if err != nil {
			return Result{}, err
		}
	}
	res := Result{Function: name, Sampler: samplerName, Trials: trials, Seeds: seeds}
	at := func(n int) Summary {
		v := make([]float64, seeds)
		for s := range runs {
			v[s] = runs[s][min(n, len(runs[s]))-1]
		}
		sort.Float64s(v)
		return Summary{Trials: n, Median: hpo.Quantile(v, 0.5), Q1: hpo.Quantile(v, 0.25), Q3: hpo.Quantile(v, 0.75)}
	}
	for _, n := range []int{25, 50, 100} {
		if n < trials {
			res.At = append(res.At, at(n))
		}
	}
	last := at(trials)
	res.At = append(res.At, last)
	res.Median, res.Q1, res.Q3 = last.Median, last.Q1, last.Q3
	for s := range runs {
		res.Final = append(res.Final, runs[s][len(runs[s])-1])
	}
	return res, nil
}
