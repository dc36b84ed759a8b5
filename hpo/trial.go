package hpo

import (
	"context"
	"errors"
	"math"
	"sort"
	"time"
)

// State is the life-cycle state of a trial.
type State string

// The states of a trial. A WAITING trial was enqueued with fixed
// parameters; a worker claims it and it becomes RUNNING; it ends COMPLETE,
// PRUNED or FAILED.
const (
	Waiting  State = "WAITING"
	Running  State = "RUNNING"
	Complete State = "COMPLETE"
	Pruned   State = "PRUNED"
	Failed   State = "FAILED"
)

// Finished reports whether the state is final.
func (s State) Finished() bool { return s == Complete || s == Pruned || s == Failed }

// Direction says whether the objective is minimised or maximised.
type Direction string

// The directions of a study.
const (
	Minimize Direction = "minimize"
	Maximize Direction = "maximize"
)

// Trial is one evaluation of the objective.
type Trial struct {
	ID     int64  `json:"-"`
	Number int    `json:"number"`
	State  State  `json:"state"`
	Worker string `json:"worker,omitempty"`
	// Params holds the internal values of the active parameters.
	Params map[string]float64 `json:"-"`
	// Value is the objective of a COMPLETE trial, or the last intermediate
	// value of a PRUNED one; nil otherwise.
	Value *float64 `json:"value"`
	// Constraints are feasible when all are <= 0.
	Constraints []float64 `json:"constraints,omitempty"`
	// Intermediate maps a step to the value reported at it.
	Intermediate map[int]float64 `json:"intermediate,omitempty"`
	Reason       string          `json:"reason,omitempty"`
	// RetryOf is the number of the trial this one repeats, or -1.
	RetryOf   int       `json:"retry_of"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Heartbeat time.Time `json:"-"`
	// Stale marks a trial failed because its worker stopped beating.
	Stale bool `json:"stale,omitempty"`
}

// Feasible reports whether all constraints are satisfied (<= 0).
func (t *Trial) Feasible() bool {
	for _, c := range t.Constraints {
		if c > 0 || math.IsNaN(c) {
			return false
		}
	}
	return true
}

// violation is the sum of positive constraint values.
func (t *Trial) violation() float64 {
	v := 0.0
	for _, c := range t.Constraints {
		if c > 0 {
			v += c
		}
	}
	return v
}

// LastStep returns the last step with an intermediate value, or -1.
func (t *Trial) LastStep() int {
	last := -1
	for s := range t.Intermediate {
		if s > last {
			last = s
		}
	}
	return last
}

// StudyInfo describes a study as stored.
type StudyInfo struct {
	Name      string        `json:"name"`
	Direction Direction     `json:"direction"`
	Space     Space         `json:"space"`
	Sampler   SamplerConfig `json:"sampler"`
	Pruner    PrunerConfig  `json:"pruner"`
	Created   time.Time     `json:"created"`
}

// Errors a storage returns that callers tell apart.
var (
	ErrNotFound   = errors.New("not found")
	ErrExists     = errors.New("already exists")
	ErrBudget     = errors.New("trial budget reached")
	ErrNotRunning = errors.New("trial is not running")
)

// ClaimOptions controls Storage.Claim.
type ClaimOptions struct {
	// Worker names the claiming worker.
	Worker string
	// MaxTrials stops claiming once the study holds this many trials,
	// not counting those failed for a stale heartbeat; 0 means no limit.
	MaxTrials int
	// StaleAfter fails RUNNING trials whose heartbeat is older, and
	// enqueues their parameters again; 0 disables it.
	StaleAfter time.Duration
}

// Storage keeps studies and their trials. Implementations are safe for use
// by several goroutines and, for databases, several processes: Claim is
// atomic, so that no trial is handed to two workers.
type Storage interface {
	// CreateStudy stores a new study; ErrExists when the name is taken.
	CreateStudy(ctx context.Context, info StudyInfo) error
	// Study loads a study; ErrNotFound when there is none by that name.
	Study(ctx context.Context, name string) (StudyInfo, error)
	// Studies lists the study names.
	Studies(ctx context.Context) ([]string, error)
	// Claim fails stale trials, then hands out the oldest WAITING trial or
	// a new RUNNING one; ErrBudget when MaxTrials is reached.
	Claim(ctx context.Context, study string, opt ClaimOptions) (Trial, error)
	// Enqueue adds a WAITING trial with fixed parameters.
	Enqueue(ctx context.Context, study string, params map[string]float64) (int, error)
	// SetParams records the parameters of a RUNNING trial.
	SetParams(ctx context.Context, id int64, params map[string]float64) error
	// Beat refreshes the heartbeat of a RUNNING trial.
	Beat(ctx context.Context, id int64) error
	// Report records an intermediate value of a RUNNING trial.
	Report(ctx context.Context, id int64, step int, value float64) error
	// Finish moves a RUNNING trial to a final state; ErrNotRunning if it is
	// no longer running (for example failed as stale meanwhile).
	Finish(ctx context.Context, id int64, state State, value *float64, constraints []float64, reason string) error
	// Trials returns all trials of a study ordered by number.
	Trials(ctx context.Context, study string) ([]Trial, error)
	// Close releases the storage.
	Close() error
}

// Best returns the best COMPLETE feasible trial, and false when there is
// none.
func Best(dir Direction, trials []Trial) (Trial, bool) {
	var best Trial
	found := false
	for _, t := range trials {
		if t.State != Complete || t.Value == nil || !t.Feasible() || math.IsNaN(*t.Value) {
			continue
		}
		if !found || better(dir, *t.Value, *best.Value) {
			best, found = t, true
		}
	}
	return best, found
}

func better(dir Direction, a, b float64) bool {
	if dir == Maximize {
		return a > b
	}
	return a < b
}

// Rank orders finished trials from best to worst for samplers: COMPLETE
// feasible trials by value, then COMPLETE infeasible ones by violation, then
// PRUNED ones by the last step reached (later first) and their value there.
// Trials of other states are left out.
func Rank(dir Direction, trials []Trial) []Trial {
	var out []Trial
	for _, t := range trials {
		if (t.State == Complete || t.State == Pruned) && t.Value != nil && !math.IsNaN(*t.Value) {
			out = append(out, t)
		}
	}
	sign := 1.0
	if dir == Maximize {
		sign = -1
	}
	class := func(t *Trial) int {
		switch {
		case t.State == Complete && t.Feasible():
			return 0
		case t.State == Complete:
			return 1
		}
		return 2
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := &out[i], &out[j]
		ca, cb := class(a), class(b)
		if ca != cb {
			return ca < cb
		}
		switch ca {
		case 1:
			return a.violation() < b.violation()
		case 2:
			if sa, sb := a.LastStep(), b.LastStep(); sa != sb {
				return sa > sb
			}
		}
		return sign**a.Value < sign**b.Value
	})
	return out
}
