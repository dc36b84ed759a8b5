package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
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
	if code, _, e := runHPO(t, append(st, "create", "--create", "--param", "x=float:0:1", "--param", "k=int:1:9:2",
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
	if code, _, e := runHPO(t, "create", "--create", "--study", "b", "--storage", db, "--param", "x=float:0:1"); code != 0 {
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
		{"duplicate study", []string{"create", "--create", "--study", "b", "--storage", db, "--param", "x=float:0:1"}, "already exists"},
		{"bad param", []string{"create", "--create", "--study", "c", "--storage", db, "--param", "x=float:1:0"}, "low 1 above high 0"},
		{"bad sampler", []string{"create", "--create", "--study", "c", "--storage", db, "--param", "x=float:0:1", "--sampler", "cmaes"}, "unknown sampler"},
		{"no space", []string{"create", "--create", "--study", "c", "--storage", db}, "no search space"},
		{"out of space", []string{"enqueue", "--study", "b", "--storage", db, "--set", "x=2"}, "outside the search space"},
		{"unknown param", []string{"enqueue", "--study", "b", "--storage", db, "--set", "y=0.5"}, "not in the search space"},
		{"no command", []string{"run", "--study", "b", "--storage", db, "--trials", "3"}, "no command"},
		{"no trials", []string{"run", "--study", "b", "--storage", db, "--trials", "0", "--", "true"}, `invalid argument "0" for "--trials" flag: must be 1 to 1000000`},
		{"negative timeout", []string{"run", "--study", "b", "--storage", db, "--trials", "1", "--timeout", "-1s", "--", "true"}, `"--timeout" flag: must be 0s to`},
		{"zero heartbeat", []string{"run", "--study", "b", "--storage", db, "--trials", "1", "--heartbeat", "0s", "--", "true"}, `"--heartbeat" flag: must be 10ms to`},
		{"stale before heartbeat", []string{"run", "--study", "b", "--storage", db, "--trials", "1", "--heartbeat", "2s", "--stale-after", "1s", "--", "true"}, "--stale-after 1s must exceed --heartbeat 2s"},
		{"negative startup", []string{"create", "--create", "--study", "c", "--storage", db, "--param", "x=float:0:1", "--startup", "-1"}, `"--startup" flag: must be 0 to`},
		{"empty range", []string{"create", "--create", "--study", "c", "--storage", db, "--param", "x=float:0:0"}, "empty range [0, 0]"},
		{"bench seeds", []string{"bench", "--seeds", "0"}, `"--seeds" flag: must be 1 to 100`},
		{"bench trials", []string{"bench", "--trials", "1e9"}, `"--trials" flag: must be 1 to 1000`},
		{"bench fractional trials", []string{"bench", "--trials", "2.5"}, `"--trials" flag: not an integer`},
		{"bench function", []string{"bench", "--function", "ackley3"}, "unknown function"},
		{"export over the database", []string{"export", "--study", "b", "--storage", db, "--out", filepath.Join(dir, ".", "b.db")}, "--out " + filepath.Join(dir, "b.db") + " is also the --storage database"},
	}
	// A create that fails makes no database.
	fresh := "sqlite:" + filepath.Join(dir, "fresh.db")
	tests = append(tests, []struct {
		name string
		args []string
		want string
	}{
		{"bad direction", []string{"create", "--create", "--study", "c", "--storage", fresh, "--param", "x=float:0:1", "--direction", "sideways"}, `direction "sideways" (want minimize or maximize)`},
		{"bad pruner", []string{"create", "--create", "--study", "c", "--storage", fresh, "--param", "x=float:0:1", "--pruner", "nah"}, `unknown pruner "nah"`},
		{"bad sampler, new database", []string{"create", "--create", "--study", "c", "--storage", fresh, "--param", "x=float:0:1", "--sampler", "cmaes"}, "unknown sampler"},
	}...)
	// A mistyped database path is refused by every command but create,
	// and no empty database is left in its place.
	typo := filepath.Join(dir, "typo.db")
	for _, sub := range [][]string{{"show"}, {"run", "--trials", "1", "--", "true"}, {"export"}, {"enqueue", "--set", "x=0.5"}, {"plot", "--out", dir}} {
		args := append([]string{sub[0], "--study", "b", "--storage", "sqlite:" + typo}, sub[1:]...)
		tests = append(tests, struct {
			name string
			args []string
			want string
		}{"mistyped storage " + sub[0], args, "storage " + typo + ": no such database (check the path; argus hpo create --create makes a new one)"})
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
	pngDB := filepath.Join(dir, "history.png")
	if code, _, e := runHPO(t, "create", "--create", "--study", "b", "--storage", "sqlite:"+pngDB, "--param", "x=float:0:1"); code != 0 {
		t.Fatal(e)
	}
	if code, _, e := runHPO(t, "plot", "--study", "b", "--storage", "sqlite:"+pngDB, "--out", dir); code == 0 || !strings.Contains(e, "plot "+pngDB+" is also the --storage database") {
		t.Errorf("plot over the database: %d %q", code, e)
	}
	if _, err := os.Stat(typo); err == nil {
		t.Error("a mistyped storage path was created")
	}
	if _, err := os.Stat(filepath.Join(dir, "fresh.db")); err == nil {
		t.Error("a failed create left a new database")
	}
	space := filepath.Join(dir, "space.json")
	os.WriteFile(space, []byte(`{"params": [{"name": "lr", "kind": "float"}]}`), 0o644)
	if code, _, e := runHPO(t, "create", "--create", "--study", "c", "--storage", db, "--space", space); code == 0 || !strings.Contains(e, space+`: search space: parameter "lr" (float) needs "low" and "high"`) {
		t.Errorf("space without bounds: %d %q", code, e)
	}
}

// TestHPOCreateNewDatabase: create makes a missing database and says so.
func TestHPOCreateNewDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new.db")
	code, out, e := runHPO(t, "create", "--create", "--study", "a", "--storage", "sqlite:"+path, "--param", "x=float:0:1")
	if code != 0 || !strings.Contains(out, "in the new database "+path) {
		t.Fatalf("create: %d %q %q", code, out, e)
	}
	code, out, e = runHPO(t, "create", "--study", "b", "--storage", "sqlite:"+path, "--param", "x=float:0:1")
	if code != 0 || strings.Contains(out, "new database") {
		t.Errorf("second study: %d %q %q", code, out, e)
	}
	typo := filepath.Join(filepath.Dir(path), "nwe.db")
	code, _, e = runHPO(t, "create", "--study", "c", "--storage", "sqlite:"+typo, "--param", "x=float:0:1")
	if _, err := os.Stat(typo); code == 0 || err == nil || !strings.Contains(e, typo) || !strings.Contains(e, "--create") {
		t.Errorf("create without --create on a missing database: exit %d, stderr %q, file made: %v", code, e, err == nil)
	}
}

// TestHPOConcurrentWrites: two exports and two plots to the same files at
// once both succeed, leave whole files and no temporary files behind
// (each write has its own temporary name).
func TestHPOConcurrentWrites(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "c.db")
	st := []string{"--study", "c", "--storage", db}
	if code, _, e := runHPO(t, append(st, "create", "--create", "--param", "x=float:0:1", "--sampler", "random")...); code != 0 {
		t.Fatal(e)
	}
	if code, _, e := runHPO(t, append(st, "run", "--trials", "3", "--", "sh", "-c", `echo "{\"objective\": $ARGUS_PARAM_X}"`)...); code != 0 {
		t.Fatal(e)
	}
	out := filepath.Join(dir, "out")
	csv := filepath.Join(out, "t.csv")
	os.Mkdir(out, 0o755)
	jobs := [][]string{
		append(st, "export", "--out", csv), append(st, "export", "--out", csv),
		append(st, "plot", "--out", out), append(st, "plot", "--out", out),
	}
	errs := make(chan string, len(jobs))
	for _, args := range jobs {
		go func() {
			code, _, e := runHPO(t, args...)
			if code != 0 {
				e = "exit " + e
			} else {
				e = ""
			}
			errs <- e
		}()
	}
	for range jobs {
		if e := <-errs; e != "" {
			t.Error(e)
		}
	}
	entries, _ := os.ReadDir(out)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "history.png importance.png t.csv" {
		t.Errorf("output folder holds %v", names)
	}
	if b, _ := os.ReadFile(csv); strings.Count(string(b), "\n") != 4 {
		t.Errorf("csv:\n%s", b)
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
	code, out, e := runHPO(t, "create", "--create", "--study", "f", "--storage", db, "--space", space, "--direction", "maximize", "--sampler", "gp", "--json")
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
	if code, _, e := runHPO(t, "create", "--create", "--study", "g", "--storage", db, "--space", space); code == 0 || !strings.Contains(e, "not an earlier parameter") {
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

// TestHPORunSignal: SIGINT or SIGTERM stops hpo run with one error line and
// exit 130, stops the trial's command, and fails its trial rather than
// leaving it RUNNING.
func TestHPORunSignal(t *testing.T) {
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			db := "sqlite:" + filepath.Join(dir, "s.db")
			if code, _, e := runHPO(t, "create", "--create", "--study", "s", "--storage", db, "--param", "x=float:0:1"); code != 0 {
				t.Fatal(e)
			}
			pidFile := filepath.Join(dir, "pid")
			args, _ := json.Marshal([]string{"hpo", "run", "--study", "s", "--storage", db, "--trials", "1", "--",
				"sh", "-c", `echo $$ > "$0.tmp" && mv "$0.tmp" "$0" && exec sleep 600`, pidFile})
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "ARGUS_CLI_ARGS="+string(args))
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Generous bounds: they end a hang, they do not time anything.
			kill := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
			defer kill.Stop()
			deadline := time.Now().Add(60 * time.Second)
			var pid int
			for {
				if b, err := os.ReadFile(pidFile); err == nil {
					pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the trial's command never started")
				}
				time.Sleep(20 * time.Millisecond)
			}
			defer syscall.Kill(pid, syscall.SIGKILL)
			cmd.Process.Signal(sig)
			cmd.Wait()
			if code := cmd.ProcessState.ExitCode(); code != 130 {
				t.Errorf("exit %d, want 130", code)
			}
			e := stderr.String()
			if lines := strings.Split(strings.TrimSpace(e), "\n"); !strings.HasPrefix(lines[len(lines)-1], "argus hpo run: interrupted after 0 complete, 0 pruned, 1 failed trials") ||
				strings.Count(e, "argus hpo run:") != 1 {
				t.Errorf("stderr %q", e)
			}
			// The command is gone: signal 0 fails on a reaped process.
			for syscall.Kill(pid, 0) == nil {
				if time.Now().After(deadline) {
					t.Fatalf("the command (pid %d) still runs", pid)
				}
				time.Sleep(20 * time.Millisecond)
			}
			_, out, _ := runHPO(t, "show", "--study", "s", "--storage", db, "--json")
			var show showResult
			if err := json.Unmarshal([]byte(out), &show); err != nil || show.Counts["FAILED"] != 1 || show.Counts["RUNNING"] != 0 {
				t.Errorf("study after the signal: %s", out)
			}
		})
	}
}
