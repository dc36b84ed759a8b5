package reid

import (
	"context"
	"errors"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"argus/checkpoint"
	"argus/data/dataset"
	"argus/data/synth"
	"argus/train"
)

func TestPurityNMI(t *testing.T) {
	tests := []struct {
		name        string
		c, truth    []int
		purity, nmi float64
	}{
		{"perfect", []int{0, 0, 1, 1}, []int{5, 5, 7, 7}, 1, 1},
		{"merged", []int{0, 0, 0, 0}, []int{5, 5, 7, 7}, 0.5, 0},
		// sklearn: normalized_mutual_info_score([0,0,1,1,1],[0,0,0,1,1]).
		{"mixed", []int{0, 0, 1, 1, 1}, []int{0, 0, 0, 1, 1}, 0.8, 0.4325380677663123},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if p := Purity(tt.c, tt.truth); math.Abs(p-tt.purity) > 1e-9 {
				t.Errorf("purity %v, want %v", p, tt.purity)
			}
			if n := NMI(tt.c, tt.truth); math.Abs(n-tt.nmi) > 1e-6 {
				t.Errorf("NMI %v, want %v", n, tt.nmi)
			}
		})
	}
}

// tinyDomains writes two synthetic domains of 8 identities.
func tinyDomains(t *testing.T) (src, tgt *dataset.ReID) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	if _, err := synth.ReID(dir, synth.Options{Seed: 3, Size: 8, Workers: 1}); err != nil {
		t.Fatal(err)
	}
	src, err := ReadDomain(filepath.Join(dir, "domain_a"))
	if err != nil {
		t.Fatal(err)
	}
	if tgt, err = ReadDomain(filepath.Join(dir, "domain_b")); err != nil {
		t.Fatal(err)
	}
	return src, tgt
}

func tinyUDA() Config {
	c := Default()
	c.Model, c.Mode, c.Target = "resnet18", "uda", "domain_b"
	c.Epochs, c.UDA.PretrainEpochs = 3, 1
	c.Height, c.Width, c.Batch, c.Instances, c.EvalBatch, c.Workers = 32, 16, 8, 4, 16, 1
	c.Schedule, c.Warmup = "constant", 0
	c.UDA.K1, c.UDA.K2, c.UDA.Eps, c.UDA.MinSamples = 6, 3, 0.9, 2
	return c
}

// TestUDAResumeIsExact interrupts an adaptation run in its last epoch,
// after the clustering, resumes it from the checkpoint and checks that it
// ends where the uninterrupted run ends: the pseudo labels and the
// cluster memory travel in the checkpoint, and PDA's styled source
// batches and FA's Fourier views are drawn again the same.
func TestUDAResumeIsExact(t *testing.T) {
	if testing.Short() {
		t.Skip("trains twice")
	}
	src, tgt := tinyDomains(t)
	tests := []struct {
		name    string
		pda, fa bool
		terms   []string
	}{
		{"ccl", false, false, []string{"ccl"}},
		{"ccl+pda+fa", true, true, []string{"ccl", "ccl_fourier", "pda_cross_entropy", "pda_triplet"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tinyUDA()
			cfg.UDA.PDA, cfg.UDA.FA = tt.pda, tt.fa
			full, err := NewRun(cfg, src, tgt, tgt, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			want, err := full.Run(context.Background(), train.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if want.Metrics["clusters"] < 2 {
				t.Fatalf("the reference run found %v clusters: the test checks nothing", want.Metrics["clusters"])
			}
			if len(want.Terms) != len(tt.terms) {
				t.Errorf("terms %v, want %v", slices.Sorted(maps.Keys(want.Terms)), tt.terms)
			}
			for _, k := range tt.terms {
				if v, ok := want.Terms[k]; !ok || !(v > 0) {
					t.Errorf("term %s: %v (present %v), want a positive loss", k, v, ok)
				}
			}
			out := t.TempDir()
			part, err := NewRun(cfg, src, tgt, tgt, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			_, err = part.Run(ctx, train.Options{Out: out, OnStep: func(s train.StepInfo) {
				if s.Epoch == 3 && s.Batch == 1 {
					cancel()
				}
			}})
			if !errors.Is(err, train.ErrInterrupted) {
				t.Fatalf("interrupted run: %v", err)
			}
			f, err := checkpoint.ReadFile(filepath.Join(out, train.CheckpointName))
			if err != nil {
				t.Fatal(err)
			}
			resumed, err := NewRun(cfg, src, tgt, tgt, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := resumed.Restore(f); err != nil {
				t.Fatal(err)
			}
			got, err := resumed.Run(context.Background(), train.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got.Step != want.Step || got.TrainLoss != want.TrainLoss {
				t.Errorf("resumed: step %d, loss %v; uninterrupted: step %d, loss %v", got.Step, got.TrainLoss, want.Step, want.TrainLoss)
			}
			for _, k := range []string{"mAP", "rank1", "clusters", "purity", "nmi"} {
				if got.Metrics[k] != want.Metrics[k] {
					t.Errorf("%s: resumed %v, uninterrupted %v", k, got.Metrics[k], want.Metrics[k])
				}
			}
		})
	}
}

// TestReclusterNoClusters checks an epoch where DBSCAN finds no cluster:
// with earlier labels it keeps them and warns; without, it is an error.
func TestReclusterNoClusters(t *testing.T) {
	src, tgt := tinyDomains(t)
	cfg := tinyUDA()
	var log strings.Builder
	r, err := NewRun(cfg, src, tgt, tgt, nil, &log)
	if err != nil {
		t.Fatal(err)
	}
	u := r.UDA
	u.cfg.UDA.MinSamples = 1 << 20
	if err := u.recluster(context.Background(), 1); err == nil || !strings.Contains(err.Error(), "no earlier labels") {
		t.Fatalf("no clusters and no earlier labels: %v", err)
	}
	u.cfg.UDA.MinSamples = cfg.UDA.MinSamples
	if err := u.recluster(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if u.classes < 2 {
		t.Fatalf("%d clusters: the test checks nothing", u.classes)
	}
	labels, classes := slices.Clone(u.labels), u.classes
	u.cfg.UDA.MinSamples = 1 << 20
	if err := u.recluster(context.Background(), 2); err != nil {
		t.Fatalf("no clusters with earlier labels: %v", err)
	}
	if !slices.Equal(u.labels, labels) || u.classes != classes || u.epoch != 2 {
		t.Errorf("labels %v (%d classes, epoch %d), want the last %v (%d classes, epoch 2)", u.labels, u.classes, u.epoch, labels, classes)
	}
	if !strings.Contains(log.String(), "warning: epoch 3: DBSCAN found 0 clusters; keeping the last epoch's") {
		t.Errorf("no warning in the log:\n%s", log.String())
	}
	if d := u.diagnostics(); d["clusters"] != float64(classes) {
		t.Errorf("diagnostics %v, want %d clusters", d, classes)
	}
}
