package classify

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"argus/autograd"
	"argus/checkpoint"
	"argus/nn"
	"argus/tensor"
	"argus/train"
)

// blobs is a small synthetic 3-class image set: each class is a bright
// quadrant plus noise.
type blobs struct {
	x *tensor.Tensor
	y []int
}

func newBlobs(n int, seed uint64) *blobs {
	rng := tensor.NewRNG(seed)
	x := rng.Normal(0, 0.3, n, 1, 8, 8)
	y := make([]int, n)
	d := x.Data()
	for i := range y {
		c := rng.Rand().IntN(3)
		y[i] = c
		oy, ox := (c/2)*4, (c%2)*4
		for r := range 4 {
			for s := range 4 {
				d[i*64+(oy+r)*8+ox+s] += 1
			}
		}
	}
	return &blobs{x, y}
}

func (b *blobs) Len() int { return len(b.y) }

func (b *blobs) Batch(idx []int) (*tensor.Tensor, []int) {
	out := tensor.Zeros(len(idx), 1, 8, 8)
	y := make([]int, len(idx))
	for i, j := range idx {
		copy(out.Data()[i*64:(i+1)*64], b.x.Data()[j*64:(j+1)*64])
		y[i] = b.y[j]
	}
	return out, y
}

// tiny is a small CNN with batch norm and dropout, so that resuming must
// restore buffers, optimiser state and the generator.
type tiny struct {
	conv *nn.Conv2d
	bn   *nn.BatchNorm2d
	drop *nn.Dropout
	fc   *nn.Linear
}

func newTiny(rng *tensor.RNG) Model {
	return &tiny{
		conv: nn.NewConv2d(rng, 1, 4, 3, autograd.Conv2dOptions{Padding: []int{1, 1}}, false),
		bn:   nn.NewBatchNorm2d(4),
		drop: nn.NewDropout(0.2, rng),
		fc:   nn.NewLinear(rng, 4*4*4, 3, true),
	}
}

func (m *tiny) Members() nn.Members {
	return nn.Members{Children: []nn.Child{{Name: "conv", Module: m.conv}, {Name: "bn", Module: m.bn}, {Name: "drop", Module: m.drop}, {Name: "fc", Module: m.fc}}}
}

func (m *tiny) Forward(x *autograd.Var) *autograd.Var {
	x = autograd.ReLU(m.bn.Forward(m.conv.Forward(x)))
	x = autograd.MaxPool2d(x, autograd.MaxPool2dOptions{Kernel: [2]int{2, 2}})
	return m.fc.Forward(m.drop.Forward(autograd.Flatten(x, 1, -1)))
}

func config(opt string) Config {
	c := MNIST()
	c.Model, c.Epochs, c.Optimizer, c.LR, c.Warmup, c.Seed, c.LogEvery, c.LabelSmoothing = "tiny", 3, opt, 0.01, 5, 7, 4, 0
	if opt == "adadelta" {
		c.LR = 1
	}
	return c
}

type stepLosses []float64

func (s *stepLosses) hook(i train.StepInfo) { *s = append(*s, i.Loss) }

// TestResumeContinuesExactly stops a run after its first step (a time
// budget too short for more) and resumes it from the checkpoint: the
// losses and weights match an uninterrupted run's under every optimiser,
// whose state the checkpoint must carry.
func TestResumeContinuesExactly(t *testing.T) {
	trainSet, test := newBlobs(100, 1), newBlobs(40, 2)
	for _, opt := range []string{"adamw", "sgd", "adadelta"} {
		t.Run(opt, func(t *testing.T) {
			full, err := NewTrainer(config(opt), newTiny, trainSet, test)
			if err != nil {
				t.Fatal(err)
			}
			var want stepLosses
			res, err := full.Run(context.Background(), train.Options{OnStep: want.hook})
			if err != nil {
				t.Fatal(err)
			}
			if acc := res.Metrics["test_accuracy"]; acc < 0.9 {
				t.Errorf("test accuracy %.3f: the loop does not learn", acc)
			}
			dir := t.TempDir()
			short := config(opt)
			short.MaxMinutes = 1e-9
			first, _ := NewTrainer(short, newTiny, trainSet, test)
			var got stepLosses
			if res, err := first.Run(context.Background(), train.Options{Out: dir, OnStep: got.hook}); err != nil || res.Stopped != "max-minutes" {
				t.Fatalf("budgeted run: %+v, %v", res, err)
			}
			f, err := checkpoint.ReadFile(filepath.Join(dir, train.CheckpointName))
			if err != nil {
				t.Fatal(err)
			}
			var stored Config
			if err := train.StoredConfig(f, &stored); err != nil || stored != short {
				t.Fatalf("stored config %+v (%v), want %+v", stored, err, short)
			}
			stored.MaxMinutes = 0
			resumed, _ := NewTrainer(stored, newTiny, trainSet, test)
			if err := resumed.Restore(f); err != nil {
				t.Fatal(err)
			}
			if _, err := resumed.Run(context.Background(), train.Options{Out: dir, OnStep: got.hook}); err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d losses, want %d", len(got), len(want))
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("step %d: resumed loss %v, uninterrupted %v", i+1, got[i], want[i])
				}
			}
			a, b := nn.StateDict(full.Task.Module), nn.StateDict(resumed.Task.Module)
			for i := range a {
				for j, v := range a[i].Value.Data() {
					if b[i].Value.Data()[j] != v {
						t.Fatalf("%s differs after resume", a[i].Name)
					}
				}
			}
		})
	}
}

func TestRestoreRejectsOtherModel(t *testing.T) {
	dir := t.TempDir()
	cfg := config("adamw")
	cfg.Epochs = 1
	trainSet, test := newBlobs(20, 1), newBlobs(10, 2)
	r, _ := NewTrainer(cfg, newTiny, trainSet, test)
	path := filepath.Join(dir, "c.safetensors")
	if err := r.Save(path); err != nil {
		t.Fatal(err)
	}
	f, err := checkpoint.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	other := cfg
	other.Model = "other"
	o, _ := NewTrainer(other, newTiny, trainSet, test)
	if err := o.Restore(f); !errors.Is(err, train.ErrOtherModel) {
		t.Errorf("restore as another model: %v", err)
	}
	// The same name but a different architecture: every mismatch is named.
	wide := func(rng *tensor.RNG) Model {
		m := newTiny(rng).(*tiny)
		m.fc = nn.NewLinear(rng, 64, 5, true)
		return m
	}
	w, _ := NewTrainer(cfg, wide, trainSet, test)
	err = w.Restore(f)
	var mis *checkpoint.MismatchError
	if !errors.As(err, &mis) || len(mis.Shapes) != 2 {
		t.Fatalf("error %v", err)
	}
	if !strings.Contains(err.Error(), "fc.weight") || !strings.Contains(err.Error(), "fc.bias") {
		t.Errorf("error does not name the mismatches: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, mod := range []func(*Config){
		func(c *Config) { c.Epochs = 0 },
		func(c *Config) { c.Batch = 0 },
		func(c *Config) { c.LR = -1 },
		func(c *Config) { c.Optimizer = "rmsprop" },
		func(c *Config) { c.Schedule = "linear" },
		func(c *Config) { c.LabelSmoothing = 1 },
		func(c *Config) { c.Workers = -1 },
		func(c *Config) { c.Batch = -1 },
		func(c *Config) { c.Batch = 4000000000 },
		func(c *Config) { c.EvalBatch = MaxBatch + 1 },
		func(c *Config) { c.Accumulate = MaxBatch + 1 },
		func(c *Config) { c.Epochs = MaxEpochs + 1 },
		func(c *Config) { c.Limit = -5 },
		func(c *Config) { c.Warmup = -5 },
		func(c *Config) { c.Workers = MaxWorkers + 1 },
		func(c *Config) { c.LabelSmoothing = math.NaN() },
	} {
		c := config("adamw")
		mod(&c)
		if _, err := NewTrainer(c, newTiny, newBlobs(10, 1), newBlobs(10, 2)); err == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
}
