package atss

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"argus/hpo"
	"argus/hpo/sampler"
	"argus/hpo/storage"
)

// cheapAP is a stand-in for a training's validation AP, largest (1) at
// k = (4, 7, 12).
func cheapAP(a HPS) float64 {
	want := []int{4, 7, 12}
	var d float64
	for i, k := range a.K {
		d += float64((k - want[i]) * (k - want[i]))
	}
	return 1 - d/300
}

// newSearchStudy creates a study of the HPS space in st with a seeded
// sampler.
func newSearchStudy(t *testing.T, st hpo.Storage, name, samplerName string, trials int) *hpo.Study {
	t.Helper()
	ctx := context.Background()
	info := hpo.StudyInfo{Name: name, Direction: hpo.Maximize, Space: SearchSpace(DefaultBands, 1, 20),
		Sampler: hpo.SamplerConfig{Name: samplerName, Seed: 3, Startup: 6}}
	s, err := hpo.Create(ctx, st, info)
	if errors.Is(err, hpo.ErrExists) {
		s, err = hpo.Load(ctx, st, name)
	}
	if err != nil {
		t.Fatal(err)
	}
	if s.Sampler, err = sampler.New(s.Info.Sampler); err != nil {
		t.Fatal(err)
	}
	s.MaxTrials = trials
	return s
}

// TestSearchFindsCheapOptimum runs the search with the surrogate (GP) and
// TPE samplers on a cheap objective and checks the trials, the best
// values and that the surrogate search ends near the optimum, well above
// its random start.
func TestSearchFindsCheapOptimum(t *testing.T) {
	for _, name := range []string{"gp", "tpe"} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := newSearchStudy(t, hpo.NewMemory(), "hps", name, 24)
			calls := 0
			sum, err := Search(ctx, s, SearchOptions{}, func(_ context.Context, a HPS, _ hpo.Trial) (float64, error) {
				calls++
				if len(a.K) != 3 || slices.ContainsFunc(a.K, func(k int) bool { return k < 1 || k > 20 }) {
					t.Fatalf("k %v outside the space", a.K)
				}
				return cheapAP(a), nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if sum.Complete != 24 || calls != 24 || sum.Failed != 0 || !(sum.Elapsed > 0) {
				t.Fatalf("summary %+v after %d calls", sum, calls)
			}
			best, err := Best(ctx, s, nil)
			if err != nil {
				t.Fatal(err)
			}
			trials, _ := s.Trials(ctx)
			startup := -1.0
			for _, tr := range trials[:6] {
				startup = max(startup, *tr.Value)
			}
			a, _ := best.Assigner()
			if best.AP != cheapAP(a) || best.Trials != 24 || best.Study != "hps" {
				t.Fatalf("best %+v", best)
			}
			if name == "gp" && !(best.AP > startup && best.AP >= 0.95) {
				t.Errorf("best AP %.4f at k %v, random start %.4f", best.AP, best.K, startup)
			}
		})
	}
}

// TestSearchResumesAfterAKill interrupts a search in its third trial,
// then resumes it from the stored study: the interrupted trial is retried
// once its heartbeat is stale, no finished trial runs again, and the
// search ends with its number of complete trials.
func TestSearchResumesAfterAKill(t *testing.T) {
	url := "sqlite:" + filepath.Join(t.TempDir(), "hps.db")
	ctx := context.Background()
	st, err := storage.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	s := newSearchStudy(t, st, "resume", "tpe", 6)
	kctx, kill := context.WithCancel(ctx)
	var seen [][]int
	_, err = Search(kctx, s, SearchOptions{Heartbeat: 10 * time.Millisecond}, func(ctx context.Context, a HPS, _ hpo.Trial) (float64, error) {
		seen = append(seen, a.K)
		if len(seen) == 3 {
			kill()
			<-ctx.Done()
			return 0, ctx.Err()
		}
		return cheapAP(a), nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted search: %v", err)
	}
	st.Close()
	st, err = storage.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s = newSearchStudy(t, st, "resume", "tpe", 6)
	s.StaleAfter = 50 * time.Millisecond
	var again [][]int
	sum, err := Search(ctx, s, SearchOptions{Heartbeat: 10 * time.Millisecond}, func(_ context.Context, a HPS, _ hpo.Trial) (float64, error) {
		again = append(again, a.K)
		return cheapAP(a), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Complete != 4 || len(again) != 4 {
		t.Fatalf("resumed search: %+v, %d calls", sum, len(again))
	}
	if !slices.ContainsFunc(again, func(k []int) bool { return slices.Equal(k, seen[2]) }) {
		t.Errorf("the resumed search ran %v, not the interrupted trial's %v", again, seen[2])
	}
	trials, err := s.Trials(ctx)
	if err != nil {
		t.Fatal(err)
	}
	complete, retried := 0, false
	for _, tr := range trials {
		if tr.State == hpo.Complete {
			complete++
			retried = retried || tr.RetryOf == 2
		}
	}
	if !retried {
		t.Error("no complete retry of the interrupted trial 2")
	}
	if complete != 6 {
		t.Fatalf("%d complete trials, want 6", complete)
	}
}

// TestSearchWorkersShareAStudy runs two searches at once on one stored
// study, each with its own connection: together they run its trials, each
// trial once.
func TestSearchWorkersShareAStudy(t *testing.T) {
	url := "sqlite:" + filepath.Join(t.TempDir(), "shared.db")
	ctx := context.Background()
	var mu sync.Mutex
	numbers := map[int]int{}
	var wg sync.WaitGroup
	sums := make([]SearchSummary, 2)
	errs := make([]error, 2)
	st0, err := storage.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer st0.Close()
	newSearchStudy(t, st0, "shared", "random", 8)
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := storage.Open(ctx, url)
			if err != nil {
				errs[w] = err
				return
			}
			defer st.Close()
			s := newSearchStudy(t, st, "shared", "random", 8)
			s.Worker = "w" + string(rune('0'+w))
			sums[w], errs[w] = Search(ctx, s, SearchOptions{}, func(_ context.Context, a HPS, tr hpo.Trial) (float64, error) {
				mu.Lock()
				numbers[tr.Number]++
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
				return cheapAP(a), nil
			})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := sums[0].Complete + sums[1].Complete; n != 8 || len(numbers) != 8 {
		t.Fatalf("%d complete trials over %d numbers, want 8", n, len(numbers))
	}
	for n, c := range numbers {
		if c != 1 {
			t.Errorf("trial %d ran %d times", n, c)
		}
	}
}

// TestSearchStopsOnItsBudget checks that no trial starts after the budget.
func TestSearchStopsOnItsBudget(t *testing.T) {
	s := newSearchStudy(t, hpo.NewMemory(), "budget", "random", 50)
	sum, err := Search(context.Background(), s, SearchOptions{Budget: time.Nanosecond}, func(context.Context, HPS, hpo.Trial) (float64, error) {
		time.Sleep(time.Millisecond)
		return 0.5, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !sum.BudgetSpent || sum.Complete > 1 {
		t.Fatalf("summary %+v", sum)
	}
}

// TestSearchRecordsFailures checks that an objective error or a NaN fails
// the trial and the search goes on, and that a minimising study is
// refused.
func TestSearchRecordsFailures(t *testing.T) {
	s := newSearchStudy(t, hpo.NewMemory(), "fail", "random", 4)
	i := 0
	sum, err := Search(context.Background(), s, SearchOptions{}, func(context.Context, HPS, hpo.Trial) (float64, error) {
		i++
		switch i {
		case 1:
			return 0, errors.New("diverged")
		case 2:
			return float64(i) / 0 * 0, nil // NaN
		}
		return 0.25, nil
	})
	if err != nil || sum.Complete != 2 || sum.Failed != 2 {
		t.Fatalf("summary %+v, error %v", sum, err)
	}
	m := hpo.NewMemory()
	info := hpo.StudyInfo{Name: "min", Space: SearchSpace(DefaultBands, 1, 5)}
	ms, err := hpo.Create(context.Background(), m, info)
	if err != nil {
		t.Fatal(err)
	}
	ms.MaxTrials = 1
	if _, err := Search(context.Background(), ms, SearchOptions{}, nil); err == nil || !strings.Contains(err.Error(), "maximises AP") {
		t.Fatalf("error %v", err)
	}
}

// TestSearchedFile round-trips the result file and refuses bad ones.
func TestSearchedFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "best.json")
	want := Searched{Bands: []float64{32, 96}, K: []int{3, 8, 14}, AP: 0.31, Trial: 7, Study: "s", Trials: 20}
	if err := WriteSearched(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadSearched(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.K, want.K) || !slices.Equal(got.Bands, want.Bands) || got.AP != want.AP || got.Trial != 7 {
		t.Fatalf("read %+v", got)
	}
	for name, body := range map[string]string{
		"short.json": `{"bands": [32, 96], "k": [3, 8]}`,
		"zero.json":  `{"bands": [32], "k": [0, 4]}`,
		"bad.json":   `{"bands": [32`,
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadSearched(p); err == nil {
			t.Errorf("%s read without error", name)
		}
	}
}
