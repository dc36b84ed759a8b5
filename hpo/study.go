package hpo

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// SamplerConfig names a sampler and its settings; it is stored with the
// study so that every worker samples the same way.
type SamplerConfig struct {
	// Name is random, tpe or gp.
	Name string `json:"name"`
	Seed uint64 `json:"seed"`
	// Startup is the number of random trials before the model takes over;
	// 0 picks the sampler's default.
	Startup int `json:"startup,omitempty"`
}

// Sampler proposes the parameters of a new trial from the finished ones.
// Implementations are deterministic given their seed, the trials and the
// trial number, so that any worker proposes the same point from the same
// history.
type Sampler interface {
	// Sample returns internal values for the parameters of the space; the
	// study drops those that are inactive.
	Sample(space *Space, dir Direction, trials []Trial, number int) (map[string]float64, error)
}

// Study is a search in progress, bound to a storage. The zero Worker,
// MaxTrials and StaleAfter mean "anonymous", "no limit" and "never stale".
type Study struct {
	Info       StudyInfo
	Storage    Storage
	Sampler    Sampler
	Pruner     Pruner
	Worker     string
	MaxTrials  int
	StaleAfter time.Duration
}

// Validate reports the first problem with a study's definition: no name,
// a direction other than minimize or maximize (empty is minimize), a bad
// space or an unknown pruner. Create calls it; callers may too, before
// they make anything.
func (info *StudyInfo) Validate() error {
	if info.Name == "" {
		return errors.New("study without a name")
	}
	if info.Direction != "" && info.Direction != Minimize && info.Direction != Maximize {
		return fmt.Errorf("study %s: direction %q (want minimize or maximize)", info.Name, info.Direction)
	}
	if err := info.Space.Validate(); err != nil {
		return fmt.Errorf("study %s: %w", info.Name, err)
	}
	if _, err := NewPruner(info.Pruner); err != nil {
		return fmt.Errorf("study %s: %w", info.Name, err)
	}
	return nil
}

// Create stores a new study and returns it without sampler or pruner; set
// them (see package sampler) before asking.
func Create(ctx context.Context, st Storage, info StudyInfo) (*Study, error) {
	if info.Direction == "" {
		info.Direction = Minimize
	}
	if err := info.Validate(); err != nil {
		return nil, err
	}
	if info.Created.IsZero() {
		info.Created = time.Now().UTC()
	}
	if err := st.CreateStudy(ctx, info); err != nil {
		return nil, fmt.Errorf("create study %s: %w", info.Name, err)
	}
	return &Study{Info: info, Storage: st}, nil
}

// Load opens a stored study with the pruner it was created with.
func Load(ctx context.Context, st Storage, name string) (*Study, error) {
	info, err := st.Study(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("load study %s: %w", name, err)
	}
	pr, err := NewPruner(info.Pruner)
	if err != nil {
		return nil, fmt.Errorf("load study %s: %w", name, err)
	}
	return &Study{Info: info, Storage: st, Pruner: pr}, nil
}

// Ask claims a trial and gives it parameters: those it was enqueued with,
// or the sampler's proposal. It returns ErrBudget when MaxTrials is reached.
func (s *Study) Ask(ctx context.Context) (Trial, error) {
	t, err := s.Storage.Claim(ctx, s.Info.Name, ClaimOptions{Worker: s.Worker, MaxTrials: s.MaxTrials, StaleAfter: s.StaleAfter})
	if err != nil {
		return t, err
	}
	if len(t.Params) > 0 {
		return t, nil
	}
	params, err := s.sample(ctx, t.Number)
	if err != nil {
		// Keep the study consistent: the claimed trial must not stay RUNNING.
		_ = s.Storage.Finish(ctx, t.ID, Failed, nil, nil, "sample: "+err.Error())
		return t, fmt.Errorf("trial %d: %w", t.Number, err)
	}
	if err := s.Storage.SetParams(ctx, t.ID, params); err != nil {
		return t, fmt.Errorf("trial %d: %w", t.Number, err)
	}
	t.Params = params
	return t, nil
}

func (s *Study) sample(ctx context.Context, number int) (map[string]float64, error) {
	if s.Sampler == nil {
		return nil, errors.New("study has no sampler")
	}
	trials, err := s.Storage.Trials(ctx, s.Info.Name)
	if err != nil {
		return nil, err
	}
	raw, err := s.Sampler.Sample(&s.Info.Space, s.Info.Direction, trials, number)
	if err != nil {
		return nil, fmt.Errorf("sample: %w", err)
	}
	return s.Info.Space.Resolve(raw)
}

// Enqueue adds a trial with fixed parameters given as external values; it
// is run before any sampled one. Values outside the space are rejected
// with ErrOutOfSpace and nothing is stored.
func (s *Study) Enqueue(ctx context.Context, params map[string]string) (int, error) {
	internal := make(map[string]float64, len(params))
	for name, v := range params {
		p := s.Info.Space.Param(name)
		if p == nil {
			return 0, fmt.Errorf("parameter %s: not in the search space", name)
		}
		x, err := p.Parse(v)
		if err != nil {
			return 0, err
		}
		internal[name] = x
	}
	r, err := s.Info.Space.Resolve(internal)
	if err != nil {
		return 0, err
	}
	if len(r) != len(internal) {
		return 0, errors.New("enqueue: values given for inactive parameters")
	}
	return s.Storage.Enqueue(ctx, s.Info.Name, r)
}

// Tell completes a trial with its objective value and constraint values.
func (s *Study) Tell(ctx context.Context, t Trial, value float64, constraints []float64) error {
	if math.IsNaN(value) || math.IsInf(value, 0) {
		return s.Fail(ctx, t, fmt.Sprintf("objective is %v", value))
	}
	if err := s.Storage.Finish(ctx, t.ID, Complete, &value, constraints, ""); err != nil {
		return fmt.Errorf("tell trial %d: %w", t.Number, err)
	}
	return nil
}

// Fail ends a trial as FAILED with the reason.
func (s *Study) Fail(ctx context.Context, t Trial, reason string) error {
	if err := s.Storage.Finish(ctx, t.ID, Failed, nil, nil, reason); err != nil {
		return fmt.Errorf("fail trial %d: %w", t.Number, err)
	}
	return nil
}

// Report records an intermediate value and reports whether the pruner
// wants the trial stopped; t.Intermediate is updated.
func (s *Study) Report(ctx context.Context, t *Trial, step int, value float64) (bool, error) {
	if step < 0 {
		return false, fmt.Errorf("trial %d: negative step %d", t.Number, step)
	}
	if math.IsNaN(value) || math.IsInf(value, 0) {
		return false, fmt.Errorf("trial %d: intermediate value %v at step %d", t.Number, value, step)
	}
	if err := s.Storage.Report(ctx, t.ID, step, value); err != nil {
		return false, fmt.Errorf("report trial %d: %w", t.Number, err)
	}
	if t.Intermediate == nil {
		t.Intermediate = map[int]float64{}
	}
	t.Intermediate[step] = value
	if s.Pruner == nil {
		return false, nil
	}
	trials, err := s.Storage.Trials(ctx, s.Info.Name)
	if err != nil {
		return false, err
	}
	return s.Pruner.Prune(s.Info.Direction, *t, step, trials), nil
}

// Prune ends a trial as PRUNED; its value is the last intermediate value.
func (s *Study) Prune(ctx context.Context, t Trial, reason string) error {
	var v *float64
	if last := t.LastStep(); last >= 0 {
		x := t.Intermediate[last]
		v = &x
	}
	if err := s.Storage.Finish(ctx, t.ID, Pruned, v, nil, reason); err != nil {
		return fmt.Errorf("prune trial %d: %w", t.Number, err)
	}
	return nil
}

// Trials returns the study's trials ordered by number.
func (s *Study) Trials(ctx context.Context) ([]Trial, error) {
	return s.Storage.Trials(ctx, s.Info.Name)
}

// Optimize runs the objective until MaxTrials is reached (MaxTrials must be
// set). An objective error fails the trial and the search goes on.
func (s *Study) Optimize(ctx context.Context, f func(t Trial) (float64, error)) error {
	if s.MaxTrials <= 0 {
		return errors.New("optimize: MaxTrials not set")
	}
	for {
		t, err := s.Ask(ctx)
		if errors.Is(err, ErrBudget) {
			return nil
		}
		if err != nil {
			return err
		}
		v, ferr := f(t)
		if ferr != nil {
			if err := s.Fail(ctx, t, ferr.Error()); err != nil {
				return err
			}
			continue
		}
		if err := s.Tell(ctx, t, v, nil); err != nil {
			return err
		}
	}
}
