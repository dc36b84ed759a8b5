package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runHPO(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(append([]string{"hpo"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestHPOCommands(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "s.db")
	st := []string{"--study", "q", "--storage", db}
	if code, _, e := runHPO(t, append(st, "create", "--param", "x=float:0:1", "--param", "k=int:1:9:2",
		"--param", "opt=cat:sgd,adam", "--param", "m=float:0:0.99@opt=sgd", "--sampler", "tpe", "--seed", "3")...); code != 0 {
		t.Fatalf("create: %s", e)
	}
	script := `echo "{\"step\": 1, \"intermediate\": $ARGUS_PARAM_X}"; echo "{\"objective\": $ARGUS_PARAM_X}"`
	code, out, e := runHPO(t, append(st, "run", "--trials", "6", "--json", "--", "sh", "-c", script)...)
	if code != 0 {
		t.Fatalf("run: %s", e)
	}
	var sum map[string]int
	if err := json.Unmarshal([]byte(out), &sum); err != nil || sum["complete"] != 6 {
		t.Fatalf("run --json: %q %v", out, err)
	}
	if !strings.Contains(e, "trial 5: COMPLETE") {
		t.Errorf("no progress on stderr: %q", e)
	}
	code, out, e = runHPO(t, append(st, "show", "--json")...)
	if code != 0 {
		t.Fatalf("show: %s", e)
	}
	var show showResult
	if err := json.Unmarshal([]byte(out), &show); err != nil {
		t.Fatal(err)
	}
	if show.Trials != 6 || show.Counts["COMPLETE"] != 6 || show.Best == nil || show.Best.Params["x"] != *show.Best.Value {
		t.Errorf("show: %+v", show)
	}
	csvPath := filepath.Join(dir, "t.csv")
	if code, _, e := runHPO(t, append(st, "export", "--out", csvPath)...); code != 0 {
		t.Fatalf("export: %s", e)
	}
	jsonPath := filepath.Join(dir, "t.json")
	code, out, e = runHPO(t, append(st, "export", "--format", "json", "--out", jsonPath, "--json")...)
	var sumExp map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &sumExp) != nil || sumExp["trials"] != 6.0 || sumExp["out"] != jsonPath {
		t.Fatalf("export --json: %d %q %s", code, out, e)
	}
	if code, _, e := runHPO(t, append(st, "export", "--json")...); code == 0 || !strings.Contains(e, "give --out FILE") {
		t.Errorf("export --json to stdout: %d %q", code, e)
	}
	b, _ := os.ReadFile(csvPath)
	if lines := strings.Count(string(b), "\n"); lines != 7 || !strings.HasPrefix(string(b), "number,state,value,param_x,param_k,param_opt,param_m") {
		t.Errorf("csv (%d lines):\n%s", lines, b)
	}
	code, out, _ = runHPO(t, append(st, "export", "--format", "json")...)
	var exp struct{ Trials []map[string]any }
	if code != 0 || json.Unmarshal([]byte(out), &exp) != nil || len(exp.Trials) != 6 {
		t.Errorf("json export: %d %q", code, out)
	}
	plots := filepath.Join(dir, "plots")
	if code, _, e := runHPO(t, append(st, "plot", "--out", plots)...); code != 0 {
		t.Fatalf("plot: %s", e)
	}
	for _, f := range []string{"history.png", "importance.png"} {
		b, err := os.ReadFile(filepath.Join(plots, f))
		if err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
			t.Errorf("%s: not a PNG (%v)", f, err)
		}
	}
	if code, _, e := runHPO(t, append(st, "enqueue", "--set", "x=0.5", "--set", "k=3", "--set", "opt=adam")...); code != 0 {
		t.Errorf("enqueue: %s", e)
	}
	// A crashing command fails its trials with the reason and the run
	// reports it; the study stays consistent (nothing left RUNNING).
	code, _, e = runHPO(t, append(st, "run", "--trials", "8", "--", "sh", "-c", "echo broken >&2; exit 2")...)
	if code == 0 || !strings.Contains(e, "all 2 trials this worker ran failed") || !strings.Contains(e, "exit status 2: broken") {
		t.Errorf("crashing command: code %d, stderr %q", code, e)
	}
	_, out, _ = runHPO(t, append(st, "show", "--json")...)
	json.Unmarshal([]byte(out), &show)
	if show.Counts["FAILED"] != 2 || show.Counts["RUNNING"] != 0 || show.Trials != 8 {
		t.Errorf("after failures: %+v", show.Counts)
	}
}

// TestHPOBadInput: each mistake gives one clear line and a non-zero exit.
func TestHPOBadInput(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "b.db")
	if code, _, e := runHPO(t, "create", "--study", "b", "--storage", db, "--param", "x=float:0:1"); code != 0 {
		t.Fatal(e)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown scheme", []string{"show", "--study", "b", "--storage", "mysql://u@h/db"}, `unknown scheme "mysql"`},
		{"no scheme", []string{"show", "--study", "b", "--storage", "b.db"}, "no scheme"},
		{"missing study", []string{"show", "--study", "nope", "--storage", db}, "study nope: not found"},
		{"duplicate study", []string{"create", "--study", "b", "--storage", db, "--param", "x=float:0:1"}, "already exists"},
		{"bad param", []string{"create", "--study", "c", "--storage", db, "--param", "x=float:1:0"}, "low 1 above high 0"},
		{"bad sampler", []string{"create", "--study", "c", "--storage", db, "--param", "x=float:0:1", "--sampler", "cmaes"}, "unknown sampler"},
		{"no space", []string{"create", "--study", "c", "--storage", db}, "no search space"},
		{"out of space", []string{"enqueue", "--study", "b", "--storage", db, "--set", "x=2"}, "outside the search space"},
		{"unknown param", []string{"enqueue", "--study", "b", "--storage", db, "--set", "y=0.5"}, "not in the search space"},
		{"no command", []string{"run", "--study", "b", "--storage", db, "--trials", "3"}, "no command"},
		{"no trials", []string{"run", "--study", "b", "--storage", db, "--trials", "0", "--", "true"}, "--trials must be positive"},
		{"bench function", []string{"bench", "--function", "ackley3"}, "unknown function"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, e := runHPO(t, tt.args...)
			if code == 0 || !strings.Contains(e, tt.want) || strings.Count(e, "\n") != 1 {
				t.Errorf("code %d, stderr %q, want one line with %q", code, e, tt.want)
			}
		})
	}
	if _, err := os.Stat("b.db"); err == nil {
		t.Error("a storage file was created for a bad URL")
	}
}

func TestHPOSpaceFile(t *testing.T) {
	dir := t.TempDir()
	space := filepath.Join(dir, "space.json")
	os.WriteFile(space, []byte(`{"params": [
		{"name": "opt", "kind": "cat", "choices": ["sgd", "adam"]},
		{"name": "m", "kind": "float", "low": 0, "high": 0.99, "if": {"parent": "opt", "values": ["sgd"]}},
		{"name": "lr", "kind": "float", "low": 1e-5, "high": 0.1, "log": true}]}`), 0o644)
	db := "sqlite:" + filepath.Join(dir, "f.db")
	code, out, e := runHPO(t, "create", "--study", "f", "--storage", db, "--space", space, "--direction", "maximize", "--sampler", "gp", "--json")
	if code != 0 {
		t.Fatal(e)
	}
	var info struct {
		Direction string
		Space     struct{ Params []map[string]any }
	}
	if err := json.Unmarshal([]byte(out), &info); err != nil || info.Direction != "maximize" || len(info.Space.Params) != 3 {
		t.Fatalf("create --json: %s", out)
	}
	os.WriteFile(space, []byte(`{"params": [{"name": "m", "kind": "float", "low": 0, "high": 1, "if": {"parent": "opt", "values": ["sgd"]}}]}`), 0o644)
	if code, _, e := runHPO(t, "create", "--study", "g", "--storage", db, "--space", space); code == 0 || !strings.Contains(e, "not an earlier parameter") {
		t.Errorf("bad space file: %d %q", code, e)
	}
}

func TestHPOBench(t *testing.T) {
	code, out, e := runHPO(t, "bench", "--function", "branin", "--sampler", "random", "--trials", "30", "--seeds", "4", "--json")
	if code != 0 {
		t.Fatal(e)
	}
	var r struct {
		Function       string
		Median, Q1, Q3 float64
		At             []struct{ Trials int }
		Final          []float64
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Function != "branin" || len(r.Final) != 4 || !(r.Q1 <= r.Median && r.Median <= r.Q3) || len(r.At) != 2 || r.At[0].Trials != 25 {
		t.Errorf("bench: %s", out)
	}
}
