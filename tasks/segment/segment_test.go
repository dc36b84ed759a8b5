package segment

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"argus/checkpoint"
	"argus/data/loader"
	"argus/data/synth"
	"argus/tensor"
	"argus/train"
)

// synthData writes the three synthetic street-scene datasets of n images
// each into a temporary folder.
func synthData(t *testing.T, n int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "streets")
	if _, err := synth.Segmentation(dir, synth.Options{Seed: 1, Size: n, Workers: 2}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRoundsSampler(t *testing.T) {
	r := rounds{
		sets: []loader.Indices{{N: 5, BatchSize: 2, Shuffle: true, Seed: 1, DropLast: true}, {N: 3, BatchSize: 2, Shuffle: true, Seed: 2, DropLast: true}},
		off:  []int{0, 5}, alt: 2, iters: 7,
	}
	a, err := r.Batches(3)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := r.Batches(3)
	if len(a) != 7 {
		t.Fatalf("%d rounds, want 7", len(a))
	}
	for i, bt := range a {
		if !slices.Equal(bt.Indices, b[i].Indices) {
			t.Fatal("the same epoch gives other rounds")
		}
		// Two batches of dataset 0 (indices 0..4), one of dataset 1 (5..7).
		if len(bt.Indices) != 6 {
			t.Fatalf("round %d has %d indices, want 6", i, len(bt.Indices))
		}
		for k, j := range bt.Indices {
			if (k < 4) != (j < 5) || j > 7 {
				t.Fatalf("round %d: index %d at %d belongs to the wrong dataset", i, j, k)
			}
		}
	}
	c, _ := r.Batches(4)
	if slices.EqualFunc(a, c, func(x, y loader.Batch) bool { return slices.Equal(x.Indices, y.Indices) }) {
		t.Error("another epoch gives the same rounds")
	}
}

func TestEpochIters(t *testing.T) {
	for _, c := range []struct{ iters, want int }{{1, 1}, {300, 300}, {500, 500}, {1000, 500}, {80000, 500}, {1200, 400}, {1009, 1009}} {
		if got := EpochIters(c.iters); got != c.want {
			t.Errorf("EpochIters(%d) = %d, want %d", c.iters, got, c.want)
		}
	}
}

// TestTrainCDCL trains two iterations of CDCL on two synthetic datasets
// and checks the terms, the per-dataset metrics and the datasets' errors.
func TestTrainCDCL(t *testing.T) {
	dir := synthData(t, 5)
	cfg := CDCL()
	cfg.Data, cfg.Datasets, cfg.Iters, cfg.Batch, cfg.Crop, cfg.Workers = dir, []string{"cityscapes", "camvid"}, 2, 2, 32, 2
	cfg.EvalScale, cfg.Width = 64, 16
	d, err := OpenData(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTrainer(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	var terms []string
	res, err := tr.Run(context.Background(), train.Options{OnStep: func(s train.StepInfo) {
		if terms == nil {
			for k := range s.Terms {
				terms = append(terms, k)
			}
			slices.Sort(terms)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"camvid.aux", "camvid.decode", "cityscapes.aux", "cityscapes.decode"}; !slices.Equal(terms, want) {
		t.Errorf("terms %v, want %v", terms, want)
	}
	if res.Step != 2 {
		t.Errorf("%d steps, want 2", res.Step)
	}
	for _, k := range []string{"cityscapes.mIoU", "camvid.mIoU", "cityscapes.aAcc"} {
		if v, ok := res.Metrics[k]; !ok || math.IsNaN(float64(v)) || v < 0 || v > 1 {
			t.Errorf("metric %s = %v", k, v)
		}
	}
	bad := cfg
	bad.Datasets = []string{"cityscapes", "bdd100k"}
	if _, err := OpenData(bad); err == nil || !strings.Contains(err.Error(), `dataset "bdd100k" is not in`) || !strings.Contains(err.Error(), "camvid, cityscapes, coarse") {
		t.Errorf("unknown dataset: %v", err)
	}
	bad = cfg
	bad.Batch = 1
	if _, err := NewTrainer(bad, d); err == nil || !strings.Contains(err.Error(), "1×1 pyramid bin") {
		t.Errorf("batch of one: %v", err)
	}
}

// TestSlideInference checks sliding windows against the windows' own
// logits: a 40×24 image in 24×24 windows at stride 16 is two windows,
// averaged over the eight columns they share.
func TestSlideInference(t *testing.T) {
	m, err := NewModel(tensor.NewRNG(3), Labels{Method: "single", Model: "pspnet-r18", Datasets: []LabelSet{{Name: "a", Classes: []string{"x", "y", "z"}}}})
	if err != nil {
		t.Fatal(err)
	}
	x := tensor.NewRNG(4).Normal(0, 1, 1, 3, 24, 40)
	got, err := Logits(m, 0, x, Inference{Mode: "slide", Crop: 24, Stride: 16})
	if err != nil {
		t.Fatal(err)
	}
	left, _ := Logits(m, 0, window(x, 0, 24, 0, 24), Inference{Mode: "whole"})
	right, _ := Logits(m, 0, window(x, 0, 24, 16, 40), Inference{Mode: "whole"})
	l, r, g := left.Data(), right.Data(), got.Data()
	for c := range 3 {
		for i := range 24 {
			for j := range 40 {
				var want float32
				switch {
				case j < 16:
					want = l[c*576+i*24+j]
				case j >= 24:
					want = r[c*576+i*24+j-16]
				default:
					want = (l[c*576+i*24+j] + r[c*576+i*24+j-16]) / 2
				}
				if v := g[c*960+i*40+j]; math.Abs(float64(v-want)) > 1e-6*(1+math.Abs(float64(want))) {
					t.Fatalf("class %d pixel (%d, %d): %g, want %g", c, j, i, v, want)
				}
			}
		}
	}
}

// TestResumeIsExact interrupts a CDCL run after its first step and checks
// that the resumed run ends where the uninterrupted one does.
func TestResumeIsExact(t *testing.T) {
	dir := synthData(t, 4)
	cfg := CDCL()
	cfg.Data, cfg.Datasets, cfg.Iters, cfg.Batch, cfg.Crop, cfg.Workers, cfg.EvalScale = dir, []string{"camvid", "coarse"}, 3, 2, 32, 2, 48
	cfg.Width = 16
	d, err := OpenData(cfg)
	if err != nil {
		t.Fatal(err)
	}
	run := func(out string, stopAfter int, resume string) train.Result {
		t.Helper()
		tr, err := NewTrainer(cfg, d)
		if err != nil {
			t.Fatal(err)
		}
		if resume != "" {
			f, err := checkpoint.ReadFile(resume)
			if err != nil {
				t.Fatal(err)
			}
			if err := tr.Restore(f); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		res, err := tr.Run(ctx, train.Options{Out: out, OnStep: func(s train.StepInfo) {
			if s.Step == stopAfter {
				cancel()
			}
		}})
		if err != nil && !errors.Is(err, train.ErrInterrupted) {
			t.Fatal(err)
		}
		return res
	}
	whole := run(filepath.Join(t.TempDir(), "a"), -1, "")
	b := filepath.Join(t.TempDir(), "b")
	if res := run(b, 1, ""); res.Stopped != "interrupt" || res.Step != 1 {
		t.Fatalf("interrupted run: %+v", res)
	}
	resumed := run(b, -1, filepath.Join(b, train.CheckpointName))
	if resumed.Step != whole.Step || resumed.TrainLoss != whole.TrainLoss || resumed.Metrics["coarse.mIoU"] != whole.Metrics["coarse.mIoU"] {
		t.Errorf("resumed: step %d loss %v mIoU %v; uninterrupted: step %d loss %v mIoU %v", resumed.Step, resumed.TrainLoss,
			resumed.Metrics["coarse.mIoU"], whole.Step, whole.TrainLoss, whole.Metrics["coarse.mIoU"])
	}
}
