package optim

import "math"

// Schedule gives the learning-rate factor at step t (an iteration or an
// epoch, as the caller counts). The learning rate is the group's base rate
// times the factor.
type Schedule interface {
	Factor(t int) float64
}

// Constant keeps the base learning rate.
type Constant struct{}

// Factor implements Schedule.
func (Constant) Factor(int) float64 { return 1 }

// Step multiplies the rate by Gamma every Size steps (torch StepLR).
type Step struct {
	Size  int
	Gamma float64
}

// Factor implements Schedule.
func (s Step) Factor(t int) float64 { return math.Pow(s.Gamma, float64(t/s.Size)) }

// MultiStep multiplies the rate by Gamma at each milestone (torch
// MultiStepLR).
type MultiStep struct {
	Milestones []int
	Gamma      float64
}

// Factor implements Schedule.
func (s MultiStep) Factor(t int) float64 {
	n := 0
	for _, m := range s.Milestones {
		if t >= m {
			n++
		}
	}
	return math.Pow(s.Gamma, float64(n))
}

// Cosine anneals the factor from 1 to Min over T steps along half a cosine
// (torch CosineAnnealingLR with eta_min = Min*base). Like torch's, it rises
// again after T, with period 2T.
type Cosine struct {
	T   int
	Min float64
}

// Factor implements Schedule.
func (s Cosine) Factor(t int) float64 {
	return s.Min + (1-s.Min)*(1+math.Cos(math.Pi*float64(t)/float64(s.T)))/2
}

// Poly decays the factor as Min + (1 − Min)·(1 − t/T)^Power, reaching Min
// at T and staying there (the "poly" policy of segmentation training,
// mmsegmentation's PolyLrUpdaterHook with min_lr = Min times the base
// rate).
type Poly struct {
	T     int
	Power float64
	Min   float64
}

// Factor implements Schedule.
func (s Poly) Factor(t int) float64 {
	if t >= s.T {
		return s.Min
	}
	return s.Min + (1-s.Min)*math.Pow(1-float64(t)/float64(s.T), s.Power)
}

// Warmup ramps the factor linearly from Start to 1 over Steps steps, then
// follows Then with the step count restarted at zero (torch LinearLR chained
// with SequentialLR). A nil Then means Constant.
type Warmup struct {
	Steps int
	Start float64
	Then  Schedule
}

// Factor implements Schedule.
func (s Warmup) Factor(t int) float64 {
	if t < s.Steps {
		return s.Start + (1-s.Start)*float64(t)/float64(s.Steps)
	}
	if s.Then == nil {
		return 1
	}
	return s.Then.Factor(t - s.Steps)
}

// Product multiplies the factors of several schedules (torch
// ChainedScheduler).
type Product []Schedule

// Factor implements Schedule.
func (p Product) Factor(t int) float64 {
	f := 1.0
	for _, s := range p {
		f *= s.Factor(t)
	}
	return f
}
