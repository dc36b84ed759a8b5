package worker

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"argus/hpo"
	"argus/hpo/sampler"
	"argus/hpo/storage"
)

// TestMain lets the test binary act as a worker process: with
// HPO_TEST_WORKER set it runs the study named by the environment and exits.
func TestMain(m *testing.M) {
	if os.Getenv("HPO_TEST_WORKER") != "" {
		if err := workerMain(); err != nil {
			fmt.Fprintln(os.Stderr, "worker:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func workerMain() error {
	ctx := context.Background()
	st, err := storage.Open(ctx, os.Getenv("HPO_URL"))
	if err != nil {
		return err
	}
	defer st.Close()
	s, err := hpo.Load(ctx, st, os.Getenv("HPO_STUDY"))
	if err != nil {
		return err
	}
	if s.Sampler, err = sampler.New(s.Info.Sampler); err != nil {
		return err
	}
	s.MaxTrials, _ = strconv.Atoi(os.Getenv("HPO_TRIALS"))
	s.Worker = fmt.Sprintf("pid%d", os.Getpid())
	s.StaleAfter = time.Second
	_, err = Run(ctx, s, Options{
		Command:   []string{"sh", "-c", os.Getenv("HPO_SCRIPT"), "objective"},
		Heartbeat: 100 * time.Millisecond,
		Log:       os.Stderr,
	})
	return err
}

// objective logs "number pid" to $HPO_LOG and prints x + y as objective;
// trial $HPO_HANG instead waits for its worker to die.
const objective = `
echo "$ARGUS_TRIAL $PPID" >> "$HPO_LOG"
if [ "$ARGUS_TRIAL" = "$HPO_HANG" ]; then
  while kill -0 $PPID 2>/dev/null; do sleep 0.05; done
  exit 1
fi
echo "not json: progress"
echo '{"step": 0, "intermediate": 1}'
echo "{\"objective\": $(awk "BEGIN{print $ARGUS_PARAM_X + $ARGUS_PARAM_Y}")}"
`

func startWorker(t *testing.T, url, study, log string, trials int, hang string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "HPO_TEST_WORKER=1", "HPO_URL="+url, "HPO_STUDY="+study,
		"HPO_TRIALS="+strconv.Itoa(trials), "HPO_LOG="+log, "HPO_SCRIPT="+objective, "HPO_HANG="+hang)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("worker %v stderr:\n%s", cmd.Process, stderr.String())
		}
	})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

func newStudy(t *testing.T, url string) (string, hpo.Storage) {
	ctx := context.Background()
	st, err := storage.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	name := fmt.Sprintf("%s-%d-%d", t.Name(), os.Getpid(), time.Now().UnixNano())
	_, err = hpo.Create(ctx, st, hpo.StudyInfo{Name: name, Space: hpo.Space{Params: []hpo.Param{
		{Name: "x", Kind: hpo.Float, Low: 0, High: 1},
		{Name: "y", Kind: hpo.Int, Low: 0, High: 10},
	}}, Sampler: hpo.SamplerConfig{Name: "tpe", Seed: 1, Startup: 5}, Pruner: hpo.PrunerConfig{Name: "median"}})
	if err != nil {
		t.Fatal(err)
	}
	return name, st
}

// logged reads the "number pid" lines the objective wrote.
func logged(t *testing.T, path string) map[int][]string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int][]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(l)
		n, err := strconv.Atoi(f[0])
		if err != nil || len(f) != 2 {
			t.Fatalf("bad log line %q", l)
		}
		out[n] = append(out[n], f[1])
	}
	return out
}

func urls(t *testing.T) map[string]string {
	out := map[string]string{"sqlite": "sqlite:" + filepath.Join(t.TempDir(), "w.db")}
	if u := os.Getenv("ARGUS_TEST_POSTGRES"); u != "" {
		out["postgres"] = u
	} else {
		t.Log("ARGUS_TEST_POSTGRES unset: PostgreSQL not tested (set it to a postgres:// URL)")
	}
	return out
}

// TestFourWorkers runs four worker processes on one study: every trial
// number runs exactly once and ends COMPLETE.
func TestFourWorkers(t *testing.T) {
	for name, url := range urls(t) {
		t.Run(name, func(t *testing.T) {
			const trials = 24
			study, st := newStudy(t, url)
			log := filepath.Join(t.TempDir(), "log")
			var cmds []*exec.Cmd
			for w := 0; w < 4; w++ {
				cmds = append(cmds, startWorker(t, url, study, log, trials, "none"))
			}
			for _, c := range cmds {
				if err := c.Wait(); err != nil {
					t.Fatalf("worker: %v", err)
				}
			}
			runs := logged(t, log)
			all, err := st.Trials(context.Background(), study)
			if err != nil {
				t.Fatal(err)
			}
			if len(all) != trials || len(runs) != trials {
				t.Fatalf("%d trials stored, %d run, want %d", len(all), len(runs), trials)
			}
			workers := map[string]bool{}
			for _, tr := range all {
				if tr.State != hpo.Complete || len(runs[tr.Number]) != 1 {
					t.Errorf("trial %d: %s, run %d times", tr.Number, tr.State, len(runs[tr.Number]))
				}
				want := tr.Params["x"] + tr.Params["y"]
				if tr.Value == nil || abs(*tr.Value-want) > 1e-4*(1+abs(want)) {
					t.Errorf("trial %d: value %v, want %v", tr.Number, tr.Value, want)
				}
				workers[tr.Worker] = true
			}
			t.Logf("%d trials over %d workers", len(all), len(workers))
		})
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// TestKillResume kills a worker with SIGKILL in the middle of a trial; a
// second worker fails the stale trial after the heartbeat timeout, runs its
// parameters again and finishes the study.
func TestKillResume(t *testing.T) {
	for name, url := range urls(t) {
		t.Run(name, func(t *testing.T) {
			const trials = 6
			ctx := context.Background()
			study, st := newStudy(t, url)
			log := filepath.Join(t.TempDir(), "log")
			a := startWorker(t, url, study, log, trials, "2")
			deadline := time.Now().Add(60 * time.Second)
			for {
				all, err := st.Trials(ctx, study)
				if err != nil {
					t.Fatal(err)
				}
				if len(all) > 2 && all[2].State == hpo.Running && len(all[2].Params) > 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("trial 2 never started")
				}
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(100 * time.Millisecond) // let the command start
			if err := a.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			a.Wait()
			b := startWorker(t, url, study, log, trials, "none")
			if err := b.Wait(); err != nil {
				t.Fatalf("resumed worker: %v", err)
			}
			all, err := st.Trials(ctx, study)
			if err != nil {
				t.Fatal(err)
			}
			if len(all) != trials+1 {
				t.Fatalf("%d trials, want %d (one stale and its retry)", len(all), trials+1)
			}
			retries := 0
			for _, tr := range all {
				switch {
				case tr.Number == 2:
					if tr.State != hpo.Failed || !tr.Stale {
						t.Errorf("killed trial: %s stale=%v", tr.State, tr.Stale)
					}
				case tr.State != hpo.Complete:
					t.Errorf("trial %d: %s (%s)", tr.Number, tr.State, tr.Reason)
				}
				if tr.RetryOf == 2 {
					retries++
					if tr.Params["x"] != all[2].Params["x"] || tr.Params["y"] != all[2].Params["y"] {
						t.Errorf("retry params %v, want %v", tr.Params, all[2].Params)
					}
				}
			}
			if retries != 1 {
				t.Errorf("%d retries of trial 2, want 1", retries)
			}
			for n, pids := range logged(t, log) {
				if len(pids) != 1 && n != 2 {
					t.Errorf("trial %d ran %d times", n, len(pids))
				}
			}
		})
	}
}
