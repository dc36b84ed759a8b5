package worker

import (
	"context"
	"strings"
	"testing"
	"time"

	"argus/hpo"
)

func memStudy(t *testing.T, pruner hpo.PrunerConfig, xs ...string) *hpo.Study {
	ctx := context.Background()
	s, err := hpo.Create(ctx, hpo.NewMemory(), hpo.StudyInfo{Name: "w", Space: hpo.Space{Params: []hpo.Param{
		{Name: "x", Kind: hpo.Float, Low: 0, High: 1},
		{Name: "opt.kind", Kind: hpo.Categorical, Choices: []string{"a", "b"}},
	}}, Pruner: pruner})
	if err != nil {
		t.Fatal(err)
	}
	s, err = hpo.Load(ctx, s.Storage, "w") // with its pruner
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range xs {
		if _, err := s.Enqueue(ctx, map[string]string{"x": x, "opt.kind": "b"}); err != nil {
			t.Fatal(err)
		}
	}
	s.MaxTrials = len(xs)
	return s
}

// TestTrialOutcomes runs one enqueued trial per script and checks how it
// ends.
func TestTrialOutcomes(t *testing.T) {
	tests := []struct {
		name, script string
		state        hpo.State
		value        float64
		reason       string
	}{
		{"objective", `echo '{"objective": 0.25}'`, hpo.Complete, 0.25, ""},
		{"value alias and later text", `echo '{"value": 2}'; echo done`, hpo.Complete, 2, ""},
		{"flags and env", `[ "$1" = "--x=0.5" ] && [ "$2" = "--opt.kind=b" ] && [ "$ARGUS_PARAM_X" = 0.5 ] && [ "$ARGUS_PARAM_OPT_KIND" = b ] && [ "$ARGUS_TRIAL" = 0 ] && echo '{"objective": 1}'`, hpo.Complete, 1, ""},
		{"crash", `echo boom >&2; exit 3`, hpo.Failed, 0, "exit status 3: boom"},
		{"crash after objective", `echo '{"objective": 1}'; exit 1`, hpo.Failed, 0, "exit status 1"},
		{"no objective", `echo hello`, hpo.Failed, 0, "no objective"},
		{"last line not objective", `echo '{"objective": 1}'; echo '{"note": 2}'`, hpo.Failed, 0, "no objective"},
		{"bad objective", `echo '{"objective": "high"}'`, hpo.Failed, 0, "not a number"},
		{"nan objective", `echo '{"objective": "NaN"}'`, hpo.Failed, 0, "objective is NaN"},
		{"missing program", `exec /nonexistent/program`, hpo.Failed, 0, "exit status"},
		{"null objective", `echo '{"objective": null}'`, hpo.Failed, 0, `"objective" is null`},
		{"null value", `echo '{"value": null}'`, hpo.Failed, 0, `"value" is null`},
		{"null constraint", `echo '{"objective": 1, "constraints": [null]}'`, hpo.Failed, 0, "constraints"},
		// The worker stops reading at the long line; the command, blocked
		// on its next write, must be stopped rather than waited for.
		{"line over the limit", `head -c 17000000 /dev/zero | tr '\0' a; echo; echo '{"objective": 1}'`, hpo.Failed, 0, "line longer than 16 MiB"},
	}
	// A hang ends when the context does, as an interrupted trial, which
	// fails the test on its reason.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := memStudy(t, hpo.PrunerConfig{}, "0.5")
			sum, err := Run(ctx, s, Options{Command: []string{"sh", "-c", tt.script, "sh"}})
			if err != nil {
				t.Fatal(err)
			}
			trials, _ := s.Trials(ctx)
			if len(trials) != 1 {
				t.Fatalf("%d trials", len(trials))
			}
			tr := trials[0]
			if tr.State != tt.state || !strings.Contains(tr.Reason, tt.reason) {
				t.Fatalf("state %s reason %q, want %s %q", tr.State, tr.Reason, tt.state, tt.reason)
			}
			if tt.state == hpo.Complete && (tr.Value == nil || *tr.Value != tt.value || sum.Complete != 1) {
				t.Errorf("value %v, want %v (summary %+v)", tr.Value, tt.value, sum)
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	ctx := context.Background()
	s := memStudy(t, hpo.PrunerConfig{}, "0.5")
	if _, err := Run(ctx, s, Options{Command: []string{"sh", "-c", "sleep 10"}, Timeout: 200 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	trials, _ := s.Trials(ctx)
	if trials[0].State != hpo.Failed || !strings.Contains(trials[0].Reason, "longer than") {
		t.Fatalf("%s %q", trials[0].State, trials[0].Reason)
	}
}

// TestPruning: with the median pruner, a trial whose intermediate values
// are worse than the completed trials' is stopped early and PRUNED with
// its last intermediate value.
func TestPruning(t *testing.T) {
	ctx := context.Background()
	s := memStudy(t, hpo.PrunerConfig{Name: "median", Startup: 2}, "0.1", "0.2", "0.9")
	script := `for s in 1 2 3; do echo "{\"step\": $s, \"intermediate\": $ARGUS_PARAM_X}"; sleep 0.05; done
echo "{\"objective\": $ARGUS_PARAM_X, \"intermediate\": {\"7\": 0}}"`
	sum, err := Run(ctx, s, Options{Command: []string{"sh", "-c", script}})
	if err != nil {
		t.Fatal(err)
	}
	trials, _ := s.Trials(ctx)
	if sum.Complete != 2 || sum.Pruned != 1 {
		t.Fatalf("summary %+v", sum)
	}
	if tr := trials[2]; tr.State != hpo.Pruned || *tr.Value != 0.9 || tr.LastStep() != 1 {
		t.Errorf("trial 2: %s value %v last step %d", tr.State, tr.Value, tr.LastStep())
	}
	if tr := trials[0]; len(tr.Intermediate) != 4 || tr.Intermediate[7] != 0 {
		t.Errorf("trial 0 intermediate %v", tr.Intermediate)
	}
}

func TestParseLine(t *testing.T) {
	tests := []struct {
		in   string
		want Line
		err  string
	}{
		{in: `{"objective": 1.5}`, want: Line{Step: -1, HasObjective: true, Objective: 1.5}},
		{in: ` {"value": -2, "constraints": [0.5, -1]} `, want: Line{Step: -1, HasObjective: true, Objective: -2, Constraints: []float64{0.5, -1}}},
		{in: `{"step": 4, "intermediate": 0.3}`, want: Line{Step: 4, Intermediate: 0.3}},
		{in: `{"objective": 1, "intermediate": [3, 2]}`, want: Line{Step: -1, HasObjective: true, Objective: 1, Values: map[int]float64{0: 3, 1: 2}}},
		{in: `{"other": 1}`, want: Line{Step: -1}},
		{in: `hello`, err: "not a JSON object"},
		{in: `{broken`, err: "not a JSON object"},
		{in: `{"step": -1, "intermediate": 1}`, err: "step"},
		{in: `{"step": 1}`, err: "without"},
		{in: `{"objective": "Inf"}`, err: "objective is"},
		{in: `{"objective": 1, "constraints": "x"}`, err: "constraints"},
		{in: `{"objective": 1, "intermediate": {"a": 1}}`, err: "intermediate step"},
		{in: `{"objective": null}`, err: `"objective" is null`},
		{in: `{"value": null}`, err: `"value" is null`},
		{in: `{"step": null, "intermediate": 1}`, err: "step"},
		{in: `{"step": 2, "intermediate": null}`, err: `"intermediate" is null`},
		{in: `{"objective": 1, "constraints": [0, null]}`, err: "constraints"},
		{in: `{"objective": 1, "constraints": null}`, err: "constraints"},
		{in: `{"objective": 1, "intermediate": [1, null]}`, err: "step 1 is null"},
		{in: `{"objective": 1, "intermediate": {"3": null}}`, err: "step 3 is null"},
		{in: `{"objective": 1, "intermediate": null}`, err: `"intermediate" is null`},
	}
	for _, tt := range tests {
		got, err := ParseLine([]byte(tt.in))
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseLine(%s) error %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseLine(%s): %v", tt.in, err)
			continue
		}
		if got.Step != tt.want.Step || got.HasObjective != tt.want.HasObjective || got.Objective != tt.want.Objective ||
			got.Intermediate != tt.want.Intermediate || len(got.Constraints) != len(tt.want.Constraints) || len(got.Values) != len(tt.want.Values) {
			t.Errorf("ParseLine(%s) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func FuzzParseLine(f *testing.F) {
	for _, s := range []string{`{"objective": 1.5}`, `{"step": 4, "intermediate": 0.3}`, `{"objective": 1, "intermediate": {"2": 3}, "constraints": [1]}`, `text`, `{"value": "nan"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := ParseLine(b)
		if err != nil {
			return
		}
		if l.HasObjective && l.Step >= 0 {
			t.Fatal("a line is both an objective and an intermediate report")
		}
		if l.Step < -1 {
			t.Fatalf("step %d", l.Step)
		}
	})
}

// TestTakenAway: when another worker fails this worker's trial as stale
// (its heartbeats came too late), the command is stopped and its result
// dropped; the run goes on without error.
func TestTakenAway(t *testing.T) {
	ctx := context.Background()
	s := memStudy(t, hpo.PrunerConfig{}, "0.5")
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			trials, _ := s.Trials(ctx)
			if len(trials) > 0 && trials[0].State == hpo.Running {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond)
		// Another worker with a shorter timeout finds the trial stale and
		// takes over its parameters as a retry.
		r, err := s.Storage.Claim(ctx, "w", hpo.ClaimOptions{MaxTrials: 1, StaleAfter: 50 * time.Millisecond})
		if err != nil || r.RetryOf != 0 {
			t.Errorf("claim: %+v %v", r, err)
			return
		}
		x := 1.0
		s.Storage.Finish(ctx, r.ID, hpo.Complete, &x, nil, "")
	}()
	// Were the command not stopped, the test would wait out its sleep.
	sum, err := Run(ctx, s, Options{Command: []string{"sh", "-c", `sleep 30; echo '{"objective": 2}'`}, Heartbeat: 300 * time.Millisecond})
	<-done
	if err != nil {
		t.Fatal(err)
	}
	trials, _ := s.Trials(ctx)
	if len(trials) != 2 || trials[0].State != hpo.Failed || !trials[0].Stale || *trials[1].Value != 1 || sum.Complete != 0 {
		t.Errorf("trials %+v, summary %+v", trials, sum)
	}
}
