package classify

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"argus/autograd"
	"argus/checkpoint"
	"argus/nn"
	"argus/tensor"
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
	lr := 0.01
	if opt == "adadelta" {
		lr = 1
	}
	return Config{Model: "tiny", Epochs: 3, Batch: 16, Optimizer: opt, LR: lr, WeightDecay: 0.01,
		Schedule: "cosine", Warmup: 5, Seed: 7, LogEvery: 4}
}

func TestResumeContinuesExactly(t *testing.T) {
	train, test := newBlobs(100, 1), newBlobs(40, 2)
	for _, opt := range []string{"adamw", "sgd", "adadelta"} {
		t.Run(opt, func(t *testing.T) {
			full, err := NewRun(config(opt), newTiny)
			if err != nil {
				t.Fatal(err)
			}
			last, err := full.Train(train, test, "", Hooks{})
			if err != nil {
				t.Fatal(err)
			}
			if last.TestAccuracy < 0.9 {
				t.Errorf("test accuracy %.3f: the loop does not learn", last.TestAccuracy)
			}

			dir := t.TempDir()
			first, _ := NewRun(config(opt), newTiny)
			if _, err := first.Train(train, test, dir, Hooks{Until: 1}); err != nil {
				t.Fatal(err)
			}
			resumed, err := Resume(filepath.Join(dir, CheckpointName), "tiny", 0, newTiny)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := resumed.Train(train, test, dir, Hooks{}); err != nil {
				t.Fatal(err)
			}
			losses := append(append([]float32{}, first.Losses...), resumed.Losses...)
			if len(losses) != len(full.Losses) {
				t.Fatalf("%d losses, want %d", len(losses), len(full.Losses))
			}
			for i := range losses {
				if losses[i] != full.Losses[i] {
					t.Fatalf("step %d: resumed loss %v, uninterrupted %v", i+1, losses[i], full.Losses[i])
				}
			}
			a, b := nn.StateDict(full.Model), nn.StateDict(resumed.Model)
			for i := range a {
				for j, v := range a[i].Value.Data() {
					if b[i].Value.Data()[j] != v {
						t.Fatalf("%s differs after resume", a[i].Name)
					}
				}
			}
			// metrics.jsonl holds the whole history, including the first session.
			raw, err := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
			if len(lines) != len(full.History) {
				t.Errorf("metrics.jsonl has %d lines, want %d", len(lines), len(full.History))
			}
			var rec Record
			if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rec); err != nil || rec.Kind != "eval" || rec.Epoch != 3 {
				t.Errorf("last record %+v, %v", rec, err)
			}
			if _, err := os.Stat(filepath.Join(dir, "metrics.png")); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestResumeRejectsOtherModel(t *testing.T) {
	dir := t.TempDir()
	cfg := config("adamw")
	cfg.Epochs = 1
	r, _ := NewRun(cfg, newTiny)
	path := filepath.Join(dir, "c.safetensors")
	if err := r.Save(path); err != nil {
		t.Fatal(err)
	}
	if _, err := Resume(path, "other", 0, newTiny); !errors.Is(err, ErrOtherModel) {
		t.Errorf("resume as another model: %v", err)
	}
	// The same name but a different architecture: every mismatch is named.
	wide := func(rng *tensor.RNG) Model {
		m := newTiny(rng).(*tiny)
		m.fc = nn.NewLinear(rng, 64, 5, true)
		return m
	}
	_, err := Resume(path, "tiny", 0, wide)
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
	} {
		c := config("adamw")
		mod(&c)
		if _, err := NewRun(c, newTiny); err == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
}
