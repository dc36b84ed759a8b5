package hpo

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"time"
)

// Memory is a Storage held in memory, for in-process searches and
// benchmarks; it is shared by goroutines, not processes.
type Memory struct {
	mu      sync.Mutex
	studies map[string]*memStudy
	nextID  int64
}

type memStudy struct {
	info   StudyInfo
	trials []*Trial
}

// NewMemory returns an empty in-memory storage.
func NewMemory() *Memory { return &Memory{studies: map[string]*memStudy{}} }

// CreateStudy implements Storage.
func (m *Memory) CreateStudy(_ context.Context, info StudyInfo) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.studies[info.Name]; ok {
		return fmt.Errorf("study %s: %w", info.Name, ErrExists)
	}
	m.studies[info.Name] = &memStudy{info: info}
	return nil
}

// Study implements Storage.
func (m *Memory) Study(_ context.Context, name string) (StudyInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.studies[name]
	if !ok {
		return StudyInfo{}, fmt.Errorf("study %s: %w", name, ErrNotFound)
	}
	return s.info, nil
}

// Studies implements Storage.
func (m *Memory) Studies(context.Context) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for n := range m.studies {
		out = append(out, n)
	}
	return out, nil
}

func (m *Memory) study(name string) (*memStudy, error) {
	s, ok := m.studies[name]
	if !ok {
		return nil, fmt.Errorf("study %s: %w", name, ErrNotFound)
	}
	return s, nil
}

func (m *Memory) trial(id int64) (*Trial, error) {
	for _, s := range m.studies {
		for _, t := range s.trials {
			if t.ID == id {
				return t, nil
			}
		}
	}
	return nil, fmt.Errorf("trial id %d: %w", id, ErrNotFound)
}

func (m *Memory) add(s *memStudy, state State, params map[string]float64, retry int, now time.Time) *Trial {
	m.nextID++
	t := &Trial{ID: m.nextID, Number: len(s.trials), State: state, Params: params, RetryOf: retry}
	if state == Running {
		t.Start, t.Heartbeat = now, now
	}
	s.trials = append(s.trials, t)
	return t
}

// Claim implements Storage.
func (m *Memory) Claim(_ context.Context, study string, opt ClaimOptions) (Trial, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.study(study)
	if err != nil {
		return Trial{}, err
	}
	now := time.Now().UTC()
	if opt.StaleAfter > 0 {
		for _, t := range s.trials {
			if t.State == Running && now.Sub(t.Heartbeat) > opt.StaleAfter {
				t.State, t.End, t.Stale = Failed, now, true
				t.Reason = fmt.Sprintf("heartbeat older than %v", opt.StaleAfter)
				if len(t.Params) > 0 {
					m.add(s, Waiting, maps.Clone(t.Params), t.Number, now)
				}
			}
		}
	}
	for _, t := range s.trials {
		if t.State == Waiting {
			t.State, t.Worker, t.Start, t.Heartbeat = Running, opt.Worker, now, now
			return clone(t), nil
		}
	}
	if opt.MaxTrials > 0 {
		n := 0
		for _, t := range s.trials {
			if !t.Stale {
				n++
			}
		}
		if n >= opt.MaxTrials {
			return Trial{}, ErrBudget
		}
	}
	t := m.add(s, Running, nil, -1, now)
	t.Worker = opt.Worker
	return clone(t), nil
}

func clone(t *Trial) Trial {
	c := *t
	c.Params = maps.Clone(t.Params)
	c.Intermediate = maps.Clone(t.Intermediate)
	c.Constraints = append([]float64(nil), t.Constraints...)
	if t.Value != nil {
		v := *t.Value
		c.Value = &v
	}
	return c
}

// Enqueue implements Storage.
func (m *Memory) Enqueue(_ context.Context, study string, params map[string]float64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.study(study)
	if err != nil {
		return 0, err
	}
	return m.add(s, Waiting, maps.Clone(params), -1, time.Now().UTC()).Number, nil
}

func (m *Memory) running(id int64) (*Trial, error) {
	t, err := m.trial(id)
	if err != nil {
		return nil, err
	}
	if t.State != Running {
		return nil, fmt.Errorf("trial %d is %s: %w", t.Number, t.State, ErrNotRunning)
	}
	return t, nil
}

// SetParams implements Storage.
func (m *Memory) SetParams(_ context.Context, id int64, params map[string]float64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, err := m.running(id)
	if err != nil {
		return err
	}
	t.Params = maps.Clone(params)
	return nil
}

// Beat implements Storage.
func (m *Memory) Beat(_ context.Context, id int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, err := m.running(id)
	if err != nil {
		return err
	}
	t.Heartbeat = time.Now().UTC()
	return nil
}

// Report implements Storage.
func (m *Memory) Report(_ context.Context, id int64, step int, value float64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, err := m.running(id)
	if err != nil {
		return err
	}
	if t.Intermediate == nil {
		t.Intermediate = map[int]float64{}
	}
	t.Intermediate[step] = value
	return nil
}

// Finish implements Storage.
func (m *Memory) Finish(_ context.Context, id int64, state State, value *float64, constraints []float64, reason string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, err := m.running(id)
	if err != nil {
		return err
	}
	t.State, t.Reason, t.End = state, reason, time.Now().UTC()
	t.Constraints = append([]float64(nil), constraints...)
	if value != nil {
		v := *value
		t.Value = &v
	}
	return nil
}

// Trials implements Storage.
func (m *Memory) Trials(_ context.Context, study string) ([]Trial, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.study(study)
	if err != nil {
		return nil, err
	}
	out := make([]Trial, len(s.trials))
	for i, t := range s.trials {
		out[i] = clone(t)
	}
	return out, nil
}

// Close implements Storage.
func (m *Memory) Close() error { return nil }
