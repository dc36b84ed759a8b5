package atss

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"time"

	"argus/hpo"
	"argus/internal/atomicfile"
)

// SearchSpace is HPS-Det's search space: the number of positives of each
// object-scale band, an integer parameter k0, k1, ... (one more than the
// bounds of bands) in [lo, hi] each.
func SearchSpace(bands []float64, lo, hi int) hpo.Space {
	var s hpo.Space
	for b := range len(bands) + 1 {
		s.Params = append(s.Params, hpo.Param{Name: "k" + strconv.Itoa(b), Kind: hpo.Int, Low: float64(lo), High: float64(hi)})
	}
	return s
}

// HPSFromParams returns the HPS assigner of a trial's parameters (the
// internal values of SearchSpace's k0, k1, ...) on the given bands, with
// SimOTA's centre radius of 2.5 strides.
func HPSFromParams(bands []float64, params map[string]float64) (HPS, error) {
	a := HPS{Bands: append([]float64(nil), bands...), Radius: 2.5}
	for b := range len(bands) + 1 {
		v, ok := params["k"+strconv.Itoa(b)]
		if !ok {
			return HPS{}, fmt.Errorf("hps: the trial has no parameter k%d", b)
		}
		if v != math.Trunc(v) || v < 1 || v > 1<<20 {
			return HPS{}, fmt.Errorf("hps: k%d = %v, want a whole number of at least 1", b, v)
		}
		a.K = append(a.K, int(v))
	}
	return a, a.Validate()
}

// Objective trains and evaluates a detector with the assigner of one
// trial and returns the value to maximise (validation AP). It should stop
// early, with an error, when ctx ends.
type Objective func(ctx context.Context, a HPS, t hpo.Trial) (float64, error)

// SearchOptions controls Search.
type SearchOptions struct {
	// Bands are the object-scale bands of the study's space (DefaultBands
	// when nil).
	Bands []float64
	// Heartbeat is the interval between a running trial's heartbeats
	// (5 s when zero); with the study's StaleAfter, a trial whose process
	// died is failed and its parameters run again.
	Heartbeat time.Duration
	// Budget, when positive, stops claiming trials once this much time has
	// passed since Search began; the trial in progress finishes.
	Budget time.Duration
	// Log receives one line per finished trial; nil discards.
	Log io.Writer
}

// SearchSummary counts the trials one Search ended, and says why it
// stopped.
type SearchSummary struct {
	Complete, Failed int
	// BudgetSpent is true when Search stopped on Options.Budget.
	BudgetSpent bool
	// Elapsed is the time Search ran, the search's cost with Complete.
	Elapsed time.Duration
}

// Search runs trials of the study (its direction must be maximize) until
// its MaxTrials is reached, the budget is spent or ctx ends: each trial's
// parameters become an HPS assigner handed to the objective, whose value
// is told to the study; an objective error fails the trial and the search
// goes on. Several processes running Search on one stored study share its
// trials, as `argus hpo run` workers do: the storage hands each trial to
// one of them, the sampler proposes from every finished trial, and a trial
// of a killed process is retried once its heartbeat is older than the
// study's StaleAfter, so that a search resumed after a kill neither loses
// nor repeats a finished trial.
func Search(ctx context.Context, s *hpo.Study, opt SearchOptions, objective Objective) (sum SearchSummary, err error) {
	if s.Info.Direction != hpo.Maximize {
		return sum, fmt.Errorf("hps search: study %s is to %s its objective; the search maximises AP", s.Info.Name, s.Info.Direction)
	}
	if s.MaxTrials <= 0 {
		return sum, errors.New("hps search: the number of trials must be positive")
	}
	bands := opt.Bands
	if bands == nil {
		bands = DefaultBands
	}
	if opt.Heartbeat <= 0 {
		opt.Heartbeat = 5 * time.Second
	}
	log := opt.Log
	if log == nil {
		log = io.Discard
	}
	start := time.Now()
	defer func() { sum.Elapsed = time.Since(start) }()
	for ctx.Err() == nil {
		if opt.Budget > 0 && time.Since(start) >= opt.Budget {
			sum.BudgetSpent = true
			return sum, nil
		}
		t, err := s.Ask(ctx)
		if errors.Is(err, hpo.ErrBudget) {
			// A trial still RUNNING may belong to a killed process: once
			// its heartbeat is stale the storage hands it out again, so
			// wait for it while staleness is watched.
			busy, err := anyRunning(ctx, s)
			if err != nil {
				return sum, err
			}
			if s.StaleAfter <= 0 || !busy {
				return sum, nil
			}
			select {
			case <-ctx.Done():
			case <-time.After(opt.Heartbeat):
			}
			continue
		}
		if err != nil {
			return sum, fmt.Errorf("hps search: %w", err)
		}
		state, value, err := runSearchTrial(ctx, s, t, bands, opt.Heartbeat, objective)
		if err != nil {
			return sum, err
		}
		switch state {
		case hpo.Complete:
			sum.Complete++
			fmt.Fprintf(log, "trial %d %v: AP %.4f\n", t.Number, s.Info.Space.External(t.Params), value)
		case hpo.Failed:
			sum.Failed++
			fmt.Fprintf(log, "trial %d %v: failed\n", t.Number, s.Info.Space.External(t.Params))
		}
	}
	return sum, ctx.Err()
}

// anyRunning reports whether a trial of the study is RUNNING.
func anyRunning(ctx context.Context, s *hpo.Study) (bool, error) {
	trials, err := s.Trials(ctx)
	if err != nil {
		return false, fmt.Errorf("hps search: %w", err)
	}
	for _, t := range trials {
		if t.State == hpo.Running {
			return true, nil
		}
	}
	return false, nil
}

// runSearchTrial runs one trial with a heartbeat and ends it; the error is
// for storage problems only.
func runSearchTrial(ctx context.Context, s *hpo.Study, t hpo.Trial, bands []float64, beat time.Duration, objective Objective) (hpo.State, float64, error) {
	a, err := HPSFromParams(bands, t.Params)
	if err != nil {
		return hpo.Failed, 0, ignoreNotRunning(s.Fail(ctx, t, err.Error()))
	}
	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(beat)
		defer tick.Stop()
		for {
			select {
			case <-tctx.Done():
				return
			case <-tick.C:
				// A trial taken away (failed as stale) stops.
				if err := s.Storage.Beat(tctx, t.ID); errors.Is(err, hpo.ErrNotRunning) {
					cancel()
					return
				}
			}
		}
	}()
	v, oerr := objective(tctx, a, t)
	cancel()
	<-done
	if ctx.Err() != nil {
		// Interrupted: leave the trial RUNNING, to go stale and be retried.
		return hpo.Running, 0, nil
	}
	if oerr != nil {
		return hpo.Failed, 0, ignoreNotRunning(s.Fail(ctx, t, oerr.Error()))
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return hpo.Failed, 0, ignoreNotRunning(s.Fail(ctx, t, fmt.Sprintf("objective is %v", v)))
	}
	return hpo.Complete, v, ignoreNotRunning(s.Tell(ctx, t, v, nil))
}

// ignoreNotRunning drops the error of ending a trial another worker took
// over meanwhile.
func ignoreNotRunning(err error) error {
	if errors.Is(err, hpo.ErrNotRunning) {
		return nil
	}
	return err
}

// Searched is the result of a search, the file --hps reads: the bands, the
// best trial's numbers of positives and its value.
type Searched struct {
	Bands []float64 `json:"bands"`
	K     []int     `json:"k"`
	// AP is the best trial's objective value, Trial its number, Study
	// the study's name, Trials the number of complete trials.
	AP     float64 `json:"ap"`
	Trial  int     `json:"trial"`
	Study  string  `json:"study"`
	Trials int     `json:"trials"`
}

// Best returns the study's best complete trial as a Searched value.
func Best(ctx context.Context, s *hpo.Study, bands []float64) (Searched, error) {
	if bands == nil {
		bands = DefaultBands
	}
	trials, err := s.Trials(ctx)
	if err != nil {
		return Searched{}, err
	}
	best, ok := hpo.Best(s.Info.Direction, trials)
	if !ok {
		return Searched{}, fmt.Errorf("study %s has no complete trial", s.Info.Name)
	}
	a, err := HPSFromParams(bands, best.Params)
	if err != nil {
		return Searched{}, err
	}
	n := 0
	for _, t := range trials {
		if t.State == hpo.Complete {
			n++
		}
	}
	return Searched{Bands: a.Bands, K: a.K, AP: *best.Value, Trial: best.Number, Study: s.Info.Name, Trials: n}, nil
}

// Assigner returns the HPS assigner of the searched values.
func (r Searched) Assigner() (HPS, error) {
	a := HPS{Bands: r.Bands, K: r.K, Radius: 2.5}
	return a, a.Validate()
}

// WriteSearched writes r as JSON to path, atomically.
func WriteSearched(path string, r Searched) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(b, '\n'))
}

// ReadSearched reads a file WriteSearched wrote and checks its values.
func ReadSearched(path string) (Searched, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Searched{}, err
	}
	var r Searched
	if err := json.Unmarshal(b, &r); err != nil {
		return Searched{}, fmt.Errorf("read %s: %w", path, err)
	}
	if _, err := r.Assigner(); err != nil {
		return Searched{}, fmt.Errorf("read %s: %w", path, err)
	}
	return r, nil
}
