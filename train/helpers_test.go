package train

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"argus/autograd"
	"argus/checkpoint"
	"argus/data/imageio"
	"argus/data/loader"
	"argus/data/transform"
	"argus/nn"
	"argus/tensor"
)

// blobs is a small synthetic 3-class image set: each class is a bright
// quadrant of an 8×8 image plus noise.
type blobs struct {
	x []float32
	y []int
}

func newBlobs(n int, seed uint64) *blobs {
	rng := tensor.NewRNG(seed)
	x := rng.Normal(0, 0.3, n, 1, 8, 8).Data()
	y := make([]int, n)
	for i := range y {
		c := rng.Rand().IntN(3)
		y[i] = c
		oy, ox := (c/2)*4, (c%2)*4
		for r := range 4 {
			for s := range 4 {
				x[i*64+(oy+r)*8+ox+s] += 1
			}
		}
	}
	return &blobs{x, y}
}

func (b *blobs) Len() int { return len(b.y) }

func (b *blobs) Get(i int, _ *transform.State) (*transform.Sample, error) {
	img := imageio.NewImage(1, 8, 8)
	copy(img.Pix, b.x[i*64:(i+1)*64])
	return &transform.Sample{Image: img, Label: b.y[i]}, nil
}

// tiny is a small CNN with batch norm and dropout, so that resuming must
// restore buffers, optimiser state and the generator.
type tiny struct {
	conv *nn.Conv2d
	bn   *nn.BatchNorm2d
	drop *nn.Dropout
	fc   *nn.Linear
}

func newTiny(rng *tensor.RNG) *tiny {
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

// linear is a linear classifier over the flattened image: no dropout and
// no batch norm, so a batch's gradient depends only on its samples.
type linear struct{ fc *nn.Linear }

func (m *linear) Members() nn.Members {
	return nn.Members{Children: []nn.Child{{Name: "fc", Module: m.fc}}}
}

func (m *linear) Forward(x *autograd.Var) *autograd.Var {
	return m.fc.Forward(autograd.Flatten(x, 1, -1))
}

type forwarder interface {
	nn.Module
	Forward(*autograd.Var) *autograd.Var
}

// testConfig is the config of the test runs: 96 samples in batches of 8,
// 12 steps an epoch.
func testConfig() Config {
	return Config{Epochs: 3, Optimizer: "adamw", LR: 0.01, WeightDecay: 0.01, Schedule: "cosine", Warmup: 5,
		Seed: 7, LogEvery: 4, EMA: 0.9}
}

const (
	testN     = 96
	testBatch = 8
	testSteps = testN / testBatch
)

// newTestTask builds the classification task of the tests over n samples
// in batches of batch, with the model build makes.
func newTestTask(cfg Config, n, batch int, build func(*tensor.RNG) forwarder) Task[*loader.Images] {
	rng := tensor.NewRNG(cfg.Seed)
	m := build(rng)
	train, test := newBlobs(n, 1), newBlobs(40, 2)
	l := loader.New([]loader.Dataset{train}, loader.Indices{N: n, BatchSize: batch, Shuffle: true, Seed: cfg.Seed},
		loader.Stack(nil, nil), loader.Options{Workers: 2, Seed: cfg.Seed})
	return Task[*loader.Images]{
		Model: "tiny", Module: m, RNG: rng, Data: l, EpochSize: n,
		Count: func(b *loader.Images) int { return len(b.Labels) },
		Loss: func(b *loader.Images) ([]Term, error) {
			ce := autograd.CrossEntropy(m.Forward(autograd.Const(b.X)), b.Labels, autograd.CrossEntropyOptions{})
			return []Term{{Name: "cross_entropy", Loss: ce}}, nil
		},
		Eval: func() (map[string]float64, error) {
			x := tensor.FromSlice(test.x, len(test.y), 1, 8, 8)
			logits := m.Forward(autograd.Const(x)).Value()
			correct := 0
			for i, want := range test.y {
				row := logits.Data()[i*3 : i*3+3]
				best := 0
				for j := range row {
					if row[j] > row[best] {
						best = j
					}
				}
				if best == want {
					correct++
				}
			}
			return map[string]float64{"accuracy": float64(correct) / float64(len(test.y))}, nil
		},
		Config: filled(cfg),
	}
}

// filled returns cfg with its defaults set, as a task stores it.
func filled(cfg Config) Config {
	cfg.Fill()
	return cfg
}

func buildTiny(rng *tensor.RNG) forwarder { return newTiny(rng) }

// losses collects the total loss of every step.
type losses struct{ steps []float64 }

func (l *losses) hook(s StepInfo) { l.steps = append(l.steps, s.Loss) }

// uninterrupted runs testConfig to the end in this process and returns its
// per-step losses and final state.
func uninterrupted(t *testing.T) ([]float64, []nn.State) {
	t.Helper()
	cfg := testConfig()
	tr, err := New(cfg, newTestTask(cfg, testN, testBatch, buildTiny))
	if err != nil {
		t.Fatal(err)
	}
	var l losses
	res, err := tr.Run(context.Background(), Options{OnStep: l.hook})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stopped != "" || res.Step != cfg.Epochs*testSteps || len(l.steps) != res.Step {
		t.Fatalf("result %+v after %d steps", res, len(l.steps))
	}
	if acc := float64(res.Metrics["accuracy"]); acc < 0.9 {
		t.Fatalf("test accuracy %.3f: the loop does not learn", acc)
	}
	return l.steps, nn.StateDict(tr.Task.Module)
}

// TestMain runs a training child when the test binary is re-executed by a
// test (ARGUS_TRAIN_CHILD set), so that tests can kill and signal a real
// training process.
func TestMain(m *testing.M) {
	if os.Getenv("ARGUS_TRAIN_CHILD") != "" {
		os.Exit(child())
	}
	os.Exit(runTests(m))
}

// child trains testConfig in ARGUS_TRAIN_OUT, resuming from its checkpoint
// when ARGUS_TRAIN_RESUME is set. It prints "step N LOSS" after every step
// and, with ARGUS_TRAIN_LOCKSTEP set, then waits for a line on stdin, so
// the parent knows exactly where it is when it kills or signals it; a
// signal received is announced with a line "signalled". It exits 130 when
// interrupted, as the CLI does.
func child() int {
	out := os.Getenv("ARGUS_TRAIN_OUT")
	cfg := testConfig()
	tr, err := New(cfg, newTestTask(cfg, testN, testBatch, buildTiny))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if os.Getenv("ARGUS_TRAIN_RESUME") != "" {
		if err := restoreFrom(tr, filepath.Join(out, CheckpointName)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	in := bufio.NewScanner(os.Stdin)
	lockstep := os.Getenv("ARGUS_TRAIN_LOCKSTEP") != ""
	ctx, stop := SignalContext(context.Background())
	defer stop()
	if lockstep {
		// Tell the parent when the signal has arrived, so that it can let
		// the step it interrupted finish knowing that the loop will see it.
		go func() {
			<-ctx.Done()
			fmt.Println("signalled")
		}()
	}
	_, err = tr.Run(ctx, Options{Out: out, OnStep: func(s StepInfo) {
		fmt.Printf("step %d %s\n", s.Step, strconv.FormatFloat(s.Loss, 'g', -1, 64))
		if lockstep {
			in.Scan()
		}
	}})
	switch {
	case errors.Is(err, ErrInterrupted):
		return 130
	case err != nil:
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func restoreFrom[B any](tr *Trainer[B], path string) error {
	f, err := checkpoint.ReadFile(path)
	if err != nil {
		return err
	}
	return tr.Restore(f)
}

func sameState(t *testing.T, got, want []nn.State) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d state entries, want %d", len(got), len(want))
	}
	for i := range want {
		for j, v := range want[i].Value.Data() {
			if g := got[i].Value.Data()[j]; g != v && !(math.IsNaN(float64(g)) && math.IsNaN(float64(v))) {
				t.Fatalf("%s[%d] = %v, uninterrupted run %v", want[i].Name, j, g, v)
			}
		}
	}
}
