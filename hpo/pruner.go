package hpo

import (
	"fmt"
	"math"
	"sort"
)

// PrunerConfig names a pruner and its settings; it is stored with the study.
type PrunerConfig struct {
	// Name is none (or empty), median or asha.
	Name string `json:"name,omitempty"`
	// Startup: the median pruner prunes nothing until this many trials
	// completed (default 5).
	Startup int `json:"startup,omitempty"`
	// Warmup: the median pruner prunes no trial before this step.
	Warmup int `json:"warmup,omitempty"`
	// MinResource and Reduction set the ASHA rungs at steps
	// MinResource*Reduction^k (defaults 1 and 4).
	MinResource int `json:"min_resource,omitempty"`
	Reduction   int `json:"reduction,omitempty"`
}

// Pruner decides from intermediate values whether a running trial should
// stop early.
type Pruner interface {
	// Prune reports whether trial t, which has just reported step, should
	// stop; trials holds all trials of the study.
	Prune(dir Direction, t Trial, step int, trials []Trial) bool
}

// NewPruner builds the pruner a config names; nil for none.
func NewPruner(c PrunerConfig) (Pruner, error) {
	switch c.Name {
	case "", "none":
		return nil, nil
	case "median":
		if c.Startup < 0 || c.Warmup < 0 {
			return nil, fmt.Errorf("median pruner: negative startup or warmup")
		}
		m := Median{Startup: c.Startup, Warmup: c.Warmup}
		if m.Startup == 0 {
			m.Startup = 5
		}
		return m, nil
	case "asha", "halving":
		a := ASHA{MinResource: c.MinResource, Reduction: c.Reduction}
		if a.MinResource == 0 {
			a.MinResource = 1
		}
		if a.Reduction == 0 {
			a.Reduction = 4
		}
		if a.MinResource < 1 || a.Reduction < 2 {
			return nil, fmt.Errorf("asha pruner: want min_resource >= 1 and reduction >= 2")
		}
		return a, nil
	}
	return nil, fmt.Errorf("unknown pruner %q (want none, median or asha)", c.Name)
}

// Median prunes a trial whose best intermediate value so far is worse than
// the median of the completed trials' values at the same step, as Optuna's
// MedianPruner.
type Median struct {
	Startup, Warmup int
}

// Prune implements Pruner.
func (m Median) Prune(dir Direction, t Trial, step int, trials []Trial) bool {
	if step < m.Warmup {
		return false
	}
	best := math.NaN()
	for s, v := range t.Intermediate {
		if s <= step && (math.IsNaN(best) || better(dir, v, best)) {
			best = v
		}
	}
	if math.IsNaN(best) {
		return false
	}
	completed := 0
	var vals []float64
	for _, o := range trials {
		if o.State != Complete || o.ID == t.ID {
			continue
		}
		completed++
		if v, ok := o.Intermediate[step]; ok {
			vals = append(vals, v)
		}
	}
	if completed < m.Startup || len(vals) == 0 {
		return false
	}
	med := percentile(vals, 50)
	return better(dir, med, best)
}

// ASHA is asynchronous successive halving, as Optuna's
// SuccessiveHalvingPruner: at the rungs MinResource*Reduction^k a trial
// goes on only if its value is in the best 1/Reduction of all trials that
// reached that rung.
type ASHA struct {
	MinResource, Reduction int
}

// Prune implements Pruner.
func (a ASHA) Prune(dir Direction, t Trial, step int, trials []Trial) bool {
	r := a.MinResource
	for r < step {
		r *= a.Reduction
	}
	if r != step {
		return false
	}
	value := t.Intermediate[step]
	var vals []float64
	for _, o := range trials {
		if o.ID == t.ID {
			continue
		}
		if v, ok := o.Intermediate[step]; ok {
			vals = append(vals, v)
		}
	}
	vals = append(vals, value)
	k := len(vals)/a.Reduction - 1
	if k < 0 {
		k = 0
	}
	sort.Float64s(vals)
	if dir == Maximize {
		return value < vals[len(vals)-1-k]
	}
	return value > vals[k]
}

// percentile is numpy's linear-interpolation percentile.
func percentile(x []float64, p float64) float64 {
	s := append([]float64(nil), x...)
	sort.Float64s(s)
	return Quantile(s, p/100)
}

// Quantile returns the q-quantile of sorted data with linear interpolation
// between order statistics (numpy's default, type 7).
func Quantile(sorted []float64, q float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	h := q * float64(n-1)
	lo := int(math.Floor(h))
	if lo >= n-1 {
		return sorted[n-1]
	}
	return sorted[lo] + (h-float64(lo))*(sorted[lo+1]-sorted[lo])
}
