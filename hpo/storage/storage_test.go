package storage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"argus/hpo"
)

func space() hpo.Space {
	return hpo.Space{Params: []hpo.Param{
		{Name: "x", Kind: hpo.Float, Low: 0, High: 1},
		{Name: "opt", Kind: hpo.Categorical, Choices: []string{"sgd", "adam"}},
		{Name: "m", Kind: hpo.Float, Low: 0, High: 0.99, If: &hpo.Condition{Parent: "opt", Values: []string{"sgd"}}},
	}}
}

// storages returns the storages under test: memory, SQLite, and
// PostgreSQL when ARGUS_TEST_POSTGRES names one.
func storages(t *testing.T) map[string]hpo.Storage {
	ctx := context.Background()
	out := map[string]hpo.Storage{"memory": hpo.NewMemory()}
	db, err := Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	out["sqlite"] = db
	if u := os.Getenv("ARGUS_TEST_POSTGRES"); u != "" {
		pg, err := Open(ctx, u)
		if err != nil {
			t.Fatalf("ARGUS_TEST_POSTGRES: %v", err)
		}
		t.Cleanup(func() { pg.Close() })
		out["postgres"] = pg
	}
	return out
}

// Unique study names keep runs against a shared PostgreSQL apart.
func studyName(t *testing.T) string {
	return fmt.Sprintf("%s-%d-%d", t.Name(), os.Getpid(), time.Now().UnixNano())
}

func TestConformance(t *testing.T) {
	if os.Getenv("ARGUS_TEST_POSTGRES") == "" {
		t.Log("ARGUS_TEST_POSTGRES unset: PostgreSQL not tested (set it to a postgres:// URL)")
	}
	ctx := context.Background()
	for name, st := range storages(t) {
		t.Run(name, func(t *testing.T) {
			sn := studyName(t)
			info := hpo.StudyInfo{Name: sn, Direction: hpo.Maximize, Space: space(), Sampler: hpo.SamplerConfig{Name: "tpe", Seed: 3}}
			s, err := hpo.Create(ctx, st, info)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := hpo.Create(ctx, st, info); !errors.Is(err, hpo.ErrExists) {
				t.Fatalf("second create: %v, want ErrExists", err)
			}
			if _, err := st.Study(ctx, sn+"-none"); !errors.Is(err, hpo.ErrNotFound) {
				t.Fatalf("missing study: %v, want ErrNotFound", err)
			}
			got, err := st.Study(ctx, sn)
			if err != nil || got.Direction != hpo.Maximize || len(got.Space.Params) != 3 || got.Sampler.Seed != 3 || got.Space.Params[2].If == nil {
				t.Fatalf("study round trip: %+v %v", got, err)
			}
			if _, err := s.Enqueue(ctx, map[string]string{"x": "2", "opt": "adam"}); !errors.Is(err, hpo.ErrOutOfSpace) {
				t.Fatalf("enqueue out of space: %v", err)
			}
			if n, err := s.Enqueue(ctx, map[string]string{"x": "0.5", "opt": "sgd", "m": "0.9"}); err != nil || n != 0 {
				t.Fatalf("enqueue: %d %v", n, err)
			}
			s.MaxTrials = 3
			a, err := st.Claim(ctx, sn, hpo.ClaimOptions{Worker: "w", MaxTrials: 3})
			if err != nil || a.Number != 0 || a.Params["m"] != 0.9 || a.State != hpo.Running {
				t.Fatalf("claim enqueued: %+v %v", a, err)
			}
			b, err := st.Claim(ctx, sn, hpo.ClaimOptions{Worker: "w", MaxTrials: 3})
			if err != nil || b.Number != 1 || len(b.Params) != 0 {
				t.Fatalf("claim new: %+v %v", b, err)
			}
			if err := st.SetParams(ctx, b.ID, map[string]float64{"x": 0.25, "opt": 1}); err != nil {
				t.Fatal(err)
			}
			if err := st.Report(ctx, a.ID, 1, 0.4); err != nil {
				t.Fatal(err)
			}
			if err := st.Report(ctx, a.ID, 1, 0.45); err != nil {
				t.Fatal(err)
			}
			if err := st.Beat(ctx, a.ID); err != nil {
				t.Fatal(err)
			}
			if err := s.Tell(ctx, a, 0.8, []float64{-1}); err != nil {
				t.Fatal(err)
			}
			if err := s.Tell(ctx, a, 0.9, nil); !errors.Is(err, hpo.ErrNotRunning) {
				t.Fatalf("second tell: %v, want ErrNotRunning", err)
			}
			if err := st.Report(ctx, a.ID, 2, 1); !errors.Is(err, hpo.ErrNotRunning) {
				t.Fatalf("report after tell: %v", err)
			}
			if err := s.Fail(ctx, b, "boom"); err != nil {
				t.Fatal(err)
			}
			c, err := st.Claim(ctx, sn, hpo.ClaimOptions{MaxTrials: 3})
			if err != nil || c.Number != 2 {
				t.Fatalf("third claim: %+v %v", c, err)
			}
			if _, err := st.Claim(ctx, sn, hpo.ClaimOptions{MaxTrials: 3}); !errors.Is(err, hpo.ErrBudget) {
				t.Fatalf("claim beyond budget: %v", err)
			}
			trials, err := s.Trials(ctx)
			if err != nil || len(trials) != 3 {
				t.Fatalf("trials: %d %v", len(trials), err)
			}
			if tr := trials[0]; tr.State != hpo.Complete || *tr.Value != 0.8 || tr.Intermediate[1] != 0.45 || len(tr.Constraints) != 1 || tr.Worker != "w" {
				t.Errorf("trial 0: %+v", tr)
			}
			if tr := trials[1]; tr.State != hpo.Failed || tr.Reason != "boom" || tr.Value != nil || tr.Params["x"] != 0.25 {
				t.Errorf("trial 1: %+v", tr)
			}
			// Trial 2 goes stale: it no longer counts against the budget and
			// its parameters come back as a retry.
			if err := st.SetParams(ctx, c.ID, map[string]float64{"x": 0.1, "opt": 1}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
			r, err := st.Claim(ctx, sn, hpo.ClaimOptions{MaxTrials: 3, StaleAfter: 10 * time.Millisecond})
			if err != nil || r.RetryOf != -1 && r.Params["x"] != 0.1 || r.Number != 3 {
				t.Fatalf("claim after stale: %+v %v", r, err)
			}
			trials, _ = s.Trials(ctx)
			if tr := trials[2]; tr.State != hpo.Failed || !tr.Stale {
				t.Errorf("stale trial: %+v", tr)
			}
			if tr := trials[3]; tr.Params["x"] != 0.1 || tr.State != hpo.Running {
				t.Errorf("retry trial: %+v", tr)
			}
			best, ok := hpo.Best(hpo.Maximize, trials)
			if !ok || best.Number != 0 {
				t.Errorf("best: %+v %v", best, ok)
			}
		})
	}
}

// TestConcurrentClaims has goroutines race for a budget of trials through
// separate connections: every number is handed out exactly once.
func TestConcurrentClaims(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	urls := map[string]string{"sqlite": "sqlite:" + filepath.Join(dir, "c.db")}
	if u := os.Getenv("ARGUS_TEST_POSTGRES"); u != "" {
		urls["postgres"] = u
	}
	for name, u := range urls {
		t.Run(name, func(t *testing.T) {
			sn := studyName(t)
			const workers, budget = 4, 40
			first, err := Open(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			defer first.Close()
			if _, err := hpo.Create(ctx, first, hpo.StudyInfo{Name: sn, Space: space()}); err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			seen := map[int]int{}
			var wg sync.WaitGroup
			errs := make(chan error, workers)
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					st, err := Open(ctx, u)
					if err != nil {
						errs <- err
						return
					}
					defer st.Close()
					for {
						tr, err := st.Claim(ctx, sn, hpo.ClaimOptions{Worker: fmt.Sprint(w), MaxTrials: budget})
						if errors.Is(err, hpo.ErrBudget) {
							return
						}
						if err != nil {
							errs <- err
							return
						}
						mu.Lock()
						seen[tr.Number]++
						mu.Unlock()
						v := float64(tr.Number)
						if err := st.Finish(ctx, tr.ID, hpo.Complete, &v, nil, ""); err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if len(seen) != budget {
				t.Fatalf("%d distinct trials, want %d", len(seen), budget)
			}
			for n, c := range seen {
				if c != 1 || n < 0 || n >= budget {
					t.Errorf("trial %d claimed %d times", n, c)
				}
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	for _, u := range []string{"mysql://x/y", "nothing", "sqlite:", "sqlite:a.db?x=1", ":x"} {
		if _, err := Open(ctx, u); err == nil {
			t.Errorf("Open(%q) succeeded", u)
		}
	}
	dir := t.TempDir()
	for _, u := range []string{"sqlite:" + filepath.Join(dir, "a.db"), "sqlite://" + filepath.Join(dir, "b.db")} {
		db, err := Open(ctx, u)
		if err != nil {
			t.Errorf("Open(%q): %v", u, err)
			continue
		}
		db.Close()
	}
}

func FuzzOpen(f *testing.F) {
	for _, s := range []string{"sqlite:x.db", "sqlite:///tmp/x.db", "postgres://u:p@127.0.0.1:1/db", "mysql://", "", "sqlite://host/path"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, u string) {
		// Only the URL parsing is fuzzed: schemes that would touch the
		// network or disk are skipped.
		if l := strings.ToLower(u); strings.HasPrefix(l, "sqlite") || strings.HasPrefix(l, "postgr") {
			return
		}
		if db, err := Open(context.Background(), u); err == nil {
			db.Close()
			t.Fatalf("Open(%q) succeeded", u)
		}
	})
}

// TestOpenExisting: a SQLite path without a file is refused and not
// created, so that a mistyped path is not a new empty storage; a file made
// by Open opens.
func TestOpenExisting(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, u := range []string{"sqlite:" + filepath.Join(dir, "typo.db"), "sqlite://" + filepath.Join(dir, "typo2.db")} {
		db, err := OpenExisting(ctx, u)
		if !errors.Is(err, ErrNoDatabase) {
			if db != nil {
				db.Close()
			}
			t.Errorf("OpenExisting(%q) error %v, want ErrNoDatabase", u, err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("OpenExisting left %d files in the folder", len(entries))
	}
	u := "sqlite:" + filepath.Join(dir, "s.db")
	db, err := Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if db, err = OpenExisting(ctx, u); err != nil {
		t.Fatalf("OpenExisting of a made database: %v", err)
	}
	db.Close()
}

func TestFilePath(t *testing.T) {
	for u, want := range map[string]string{
		"sqlite:a/b.db":       "a/b.db",
		"SQLite:x.db":         "x.db",
		"sqlite:///abs/x.db":  "/abs/x.db",
		"sqlite:x.db?mode=ro": "",
		"postgres://u@h/db":   "",
		"nothing":             "",
		"sqlite:":             "",
	} {
		if got := FilePath(u); got != want {
			t.Errorf("FilePath(%q) = %q, want %q", u, got, want)
		}
	}
}
