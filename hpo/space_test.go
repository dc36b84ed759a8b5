package hpo

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
)

func TestParseParam(t *testing.T) {
	tests := []struct {
		in   string
		want Param
		bad  bool
	}{
		{in: "lr=float:1e-5:1e-1:log", want: Param{Name: "lr", Kind: Float, Low: 1e-5, High: 0.1, Log: true}},
		{in: "d=float:0:0.5", want: Param{Name: "d", Kind: Float, Low: 0, High: 0.5}},
		{in: "k=int:1:20", want: Param{Name: "k", Kind: Int, Low: 1, High: 20}},
		{in: "w=int:16:256:16", want: Param{Name: "w", Kind: Int, Low: 16, High: 256, Step: 16}},
		{in: "b=int:8:512:log", want: Param{Name: "b", Kind: Int, Low: 8, High: 512, Log: true}},
		{in: "opt=cat:sgd,adam", want: Param{Name: "opt", Kind: Categorical, Choices: []string{"sgd", "adam"}}},
		{in: "m=float:0:0.99@opt=sgd|nag", want: Param{Name: "m", Kind: Float, High: 0.99, If: &Condition{Parent: "opt", Values: []string{"sgd", "nag"}}}},
		{in: "lr=float:0:1:log", bad: true},
		{in: "lr=float:1:0", bad: true},
		{in: "k=int:1:20:3", bad: true}, // 20 is not 1 + 3k
		{in: "k=int:1.5:3", bad: true},
		{in: "k=int:1:9:0", bad: true},
		{in: "x=float:0:1:2", bad: true},
		{in: "x=float:a:1", bad: true},
		{in: "x=float:nan:1", bad: true},
		{in: "x=bool:0:1", bad: true},
		{in: "x=cat:", bad: true},
		{in: "x=cat:a,a", bad: true},
		{in: "x", bad: true},
		{in: "=float:0:1", bad: true},
		{in: "a b=float:0:1", bad: true},
		{in: "m=float:0:1@opt", bad: true},
		{in: "x=float:0:0", bad: true}, // searched over one value
		{in: "k=int:3:3", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseParam(tt.in)
			if tt.bad {
				if err == nil {
					t.Fatalf("ParseParam(%q) = %+v, want error", tt.in, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != tt.want.Name || got.Kind != tt.want.Kind || got.Low != tt.want.Low || got.High != tt.want.High ||
				got.Log != tt.want.Log || got.Step != tt.want.Step || len(got.Choices) != len(tt.want.Choices) || (got.If == nil) != (tt.want.If == nil) {
				t.Errorf("ParseParam(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzParseParam(f *testing.F) {
	for _, s := range []string{"lr=float:1e-5:1e-1:log", "k=int:1:20:1", "w=int:16:256:16", "opt=cat:a,b", "m=float:0:1@opt=a|b", "x=int:0:0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseParam(s)
		if err != nil {
			return
		}
		// A parameter that parses is valid, and its own values are in it.
		if err := p.Validate(); err != nil {
			t.Fatalf("ParseParam(%q) gave invalid %+v: %v", s, p, err)
		}
		if p.Kind != Categorical {
			for _, v := range []float64{p.Low, p.High} {
				if !p.Contains(v) {
					t.Fatalf("%+v does not contain its bound %g", p, v)
				}
				if c := p.Clip(v); c != v {
					t.Fatalf("Clip(%g) = %g", v, c)
				}
			}
		}
	})
}

// TestParseSpace: a numeric parameter needs both bounds; left out, they
// would read as the empty range [0, 0].
func TestParseSpace(t *testing.T) {
	tests := []struct {
		in, err string
	}{
		{`{"params":[{"name":"x","kind":"float","low":0,"high":1}]}`, ""},
		{`{"params":[{"name":"x","kind":"float","low":-1,"high":0}]}`, ""},
		{`{"params":[{"name":"o","kind":"cat","choices":["a","b"]}]}`, ""},
		{`{"params":[{"name":"x","kind":"float"}]}`, `parameter "x" (float) needs "low" and "high"`},
		{`{"params":[{"name":"k","kind":"int","high":5}]}`, `parameter "k" (int) needs "low" and "high"`},
		{`{"params":[{"name":"x","kind":"float","low":1}]}`, "needs"},
		{`{"params":[{"name":"x","kind":"float","low":0,"high":0}]}`, "empty range [0, 0]"},
		{`{"params":[{"name":"x","kind":"float","low":0,"high":1}]} {}`, "data after"},
		{`{"params":[{"name":"x","kind":"float","low":0,"high":1,"lo":2}]}`, "unknown field"},
	}
	for _, tt := range tests {
		_, err := ParseSpace([]byte(tt.in))
		if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("ParseSpace(%s) error %v, want %q", tt.in, err, tt.err)
		}
	}
}

func FuzzParseSpace(f *testing.F) {
	f.Add([]byte(`{"params":[{"name":"x","kind":"float","low":0,"high":1}]}`))
	f.Add([]byte(`{"params":[{"name":"o","kind":"cat","choices":["a","b"]},{"name":"m","kind":"int","low":1,"high":9,"if":{"parent":"o","values":["a"]}}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSpace(b)
		if err != nil {
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
	})
}

func condSpace() Space {
	return Space{Params: []Param{
		{Name: "opt", Kind: Categorical, Choices: []string{"sgd", "adam"}},
		{Name: "m", Kind: Float, Low: 0, High: 0.99, If: &Condition{Parent: "opt", Values: []string{"sgd"}}},
		{Name: "k", Kind: Int, Low: 2, High: 10, Step: 2},
	}}
}

func TestResolve(t *testing.T) {
	s := condSpace()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	got, err := s.Resolve(map[string]float64{"opt": 1, "m": 0.5, "k": 4})
	if err != nil || len(got) != 2 {
		t.Fatalf("inactive m kept: %v %v", got, err)
	}
	if got, err = s.Resolve(map[string]float64{"opt": 0, "m": 0.5, "k": 4}); err != nil || len(got) != 3 {
		t.Fatalf("active m dropped: %v %v", got, err)
	}
	for _, bad := range []map[string]float64{
		{"opt": 0, "k": 4},                  // m missing
		{"opt": 1, "k": 5},                  // off the step grid
		{"opt": 2, "k": 4},                  // no such choice
		{"opt": 1, "k": 4, "z": 1},          // unknown parameter
		{"opt": 0, "m": math.NaN(), "k": 4}, // NaN
		{"opt": 0, "m": 1, "k": 4},          // above high
	} {
		if _, err := s.Resolve(bad); err == nil {
			t.Errorf("Resolve(%v) succeeded", bad)
		}
	}
	bad := Space{Params: []Param{{Name: "m", Kind: Float, High: 1, If: &Condition{Parent: "opt", Values: []string{"a"}}}}}
	if err := bad.Validate(); err == nil {
		t.Error("condition on a missing parent accepted")
	}
}

// TestAskTell runs a study in memory with a sampler that walks a fixed
// list, checking budget, enqueue, failures and the best trial.
func TestAskTell(t *testing.T) {
	ctx := context.Background()
	st := NewMemory()
	s, err := Create(ctx, st, StudyInfo{Name: "s", Direction: Maximize, Space: condSpace()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Create(ctx, st, StudyInfo{Name: "s", Space: condSpace()}); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate study: %v", err)
	}
	if _, err := Create(ctx, st, StudyInfo{Name: "d", Direction: "up", Space: condSpace()}); err == nil {
		t.Fatal("bad direction accepted")
	}
	s.Sampler = fixed{{"opt": 1, "m": 0.3, "k": 4}, {"opt": 0, "m": 0.3, "k": 6}, {"opt": 0, "m": 7, "k": 6}}
	s.MaxTrials = 4
	if _, err := s.Enqueue(ctx, map[string]string{"opt": "adam", "k": "3"}); !errors.Is(err, ErrOutOfSpace) {
		t.Fatalf("enqueue k=3: %v", err)
	}
	if _, err := s.Enqueue(ctx, map[string]string{"opt": "adam", "k": "8"}); err != nil {
		t.Fatal(err)
	}
	var got []Trial
	for {
		tr, err := s.Ask(ctx)
		if errors.Is(err, ErrBudget) {
			break
		}
		if tr.Number == 3 {
			// The sampler proposed m=7, outside the space: the trial
			// failed, not left RUNNING.
			if err == nil {
				t.Fatal("out-of-space proposal accepted")
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, tr)
		if err := s.Tell(ctx, tr, float64(tr.Number), nil); err != nil {
			t.Fatal(err)
		}
	}
	trials, _ := s.Trials(ctx)
	if len(trials) != 4 || trials[0].Params["k"] != 8 || trials[3].State != Failed {
		t.Fatalf("trials: %+v", trials)
	}
	if _, ok := trials[1].Params["m"]; ok {
		t.Error("inactive m stored")
	}
	best, ok := Best(Maximize, trials)
	if !ok || best.Number != 2 {
		t.Errorf("best %+v", best)
	}
	if len(got) != 3 {
		t.Errorf("%d trials ran", len(got))
	}
}

// fixed proposes its points in turn (by the number of trials so far).
type fixed []map[string]float64

func (f fixed) Sample(_ *Space, _ Direction, trials []Trial, number int) (map[string]float64, error) {
	return f[(number-1)%len(f)], nil
}

func TestPruners(t *testing.T) {
	mk := func(id int64, st State, vals ...float64) Trial {
		tr := Trial{ID: id, State: st, Intermediate: map[int]float64{}}
		for i, v := range vals {
			tr.Intermediate[i+1] = v
		}
		return tr
	}
	var done []Trial
	for i := 0; i < 5; i++ {
		done = append(done, mk(int64(i+1), Complete, 1, float64(i), 0))
	}
	med := Median{Startup: 5}
	cur := mk(99, Running, 3, 3.5) // best so far 3 (minimising), 3.5 (maximising)
	if !med.Prune(Minimize, cur, 2, done) {
		t.Error("median: best 3 above median 2 not pruned")
	}
	if med.Prune(Maximize, cur, 2, done) {
		t.Error("median: 3.5 above median 2 pruned when maximising")
	}
	if (Median{Startup: 6}).Prune(Minimize, cur, 2, done) {
		t.Error("median pruned during startup")
	}
	// ASHA with rungs at 1, 4, 16: at step 1 a trial must be in the best
	// quarter of those that reached step 1.
	a := ASHA{MinResource: 1, Reduction: 4}
	var others []Trial
	for i := 0; i < 7; i++ {
		others = append(others, mk(int64(i+1), Complete, float64(i)))
	}
	if !a.Prune(Minimize, mk(99, Running, 3), 1, others) {
		t.Error("asha: 3 not pruned among 0..6")
	}
	if a.Prune(Minimize, mk(99, Running, 0.5), 1, others) {
		t.Error("asha: 0.5 pruned among 0..6")
	}
	if a.Prune(Minimize, mk(99, Running, 9, 9), 2, others) {
		t.Error("asha: pruned off a rung")
	}
	if _, err := NewPruner(PrunerConfig{Name: "bogus"}); err == nil {
		t.Error("unknown pruner accepted")
	}
}

func TestQuantile(t *testing.T) {
	x := []float64{1, 2, 3, 4}
	for _, c := range []struct{ q, want float64 }{{0, 1}, {0.25, 1.75}, {0.5, 2.5}, {0.75, 3.25}, {1, 4}} {
		if got := Quantile(x, c.q); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("Quantile(%g) = %g, want %g (numpy)", c.q, got, c.want)
		}
	}
}

// TestImportance: a parameter the objective ignores gets less importance
// than one it depends on.
func TestImportance(t *testing.T) {
	s := Space{Params: []Param{
		{Name: "a", Kind: Float, High: 1},
		{Name: "noise", Kind: Float, High: 1},
		{Name: "c", Kind: Categorical, Choices: []string{"x", "y"}},
	}}
	var trials []Trial
	for i := 0; i < 60; i++ {
		a, n, c := float64(i%10)/10, float64((i*7)%13)/13, float64(i%2)
		v := 4*a*a + c
		trials = append(trials, Trial{State: Complete, Value: &v, Params: map[string]float64{"a": a, "noise": n, "c": c}})
	}
	imp := Importance(s, trials)
	if !(imp["a"] > imp["c"] && imp["c"] > imp["noise"]) || math.Abs(imp["a"]+imp["c"]+imp["noise"]-1) > 1e-9 {
		t.Errorf("importance %v", imp)
	}
}
