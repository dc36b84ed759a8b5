package train

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"argus/autograd"
	"argus/checkpoint"
	"argus/data/loader"
	"argus/nn"
	"argus/tensor"
)

// TestNonFiniteLossStops makes a second loss term NaN in the middle of the
// second epoch: the run stops with an error naming the step and the term,
// the checkpoint of the first epoch is left as it was, and resuming from
// it repeats the uninterrupted run.
func TestNonFiniteLossStops(t *testing.T) {
	ref, refState := uninterrupted(t)
	out := t.TempDir()
	cfg := testConfig()
	task := newTestTask(cfg, testN, testBatch, buildTiny)
	badStep, calls := testSteps+4, 0
	loss := task.Loss
	task.Loss = func(b *loader.Images) ([]Term, error) {
		terms, err := loss(b)
		calls++
		v := float32(0)
		if calls == badStep {
			v = float32(math.NaN())
		}
		return append(terms, Term{Name: "penalty", Loss: autograd.Const(tensor.Scalar(v))}), err
	}
	tr, err := New(cfg, task)
	if err != nil {
		t.Fatal(err)
	}
	var saved []byte
	res, err := tr.Run(context.Background(), Options{Out: out, OnEpoch: func(Record) {
		saved, _ = os.ReadFile(filepath.Join(out, CheckpointName))
	}})
	var nf *NonFiniteError
	if !errors.As(err, &nf) || nf.Step != badStep || nf.Term != "penalty" {
		t.Fatalf("error %v, want a non-finite penalty at step %d", err, badStep)
	}
	if msg := err.Error(); !strings.Contains(msg, "step 16") || !strings.Contains(msg, "loss term penalty is NaN") {
		t.Errorf("error %q does not name the step and the term", msg)
	}
	if res.Stopped != "non-finite" || res.Step != badStep-1 || res.Checkpoint == "" {
		t.Errorf("result %+v", res)
	}
	if b, _ := json.Marshal(res.TrainLoss); string(b) != "null" {
		t.Errorf("train loss encodes as %s, want null", b)
	}
	now, err := os.ReadFile(filepath.Join(out, CheckpointName))
	if err != nil || saved == nil || !bytes.Equal(now, saved) {
		t.Fatalf("the checkpoint of epoch 1 changed (%v)", err)
	}
	if epoch, step := checkpointStep(t, filepath.Join(out, CheckpointName)); epoch != 1 || step != testSteps {
		t.Fatalf("checkpoint at epoch %d step %d", epoch, step)
	}
	metrics, _ := os.ReadFile(filepath.Join(out, MetricsName))
	if !bytes.Contains(metrics, []byte(`"loss":null`)) {
		t.Errorf("metrics.jsonl does not record the failed step:\n%s", metrics)
	}
	next, err := New(cfg, newTestTask(cfg, testN, testBatch, buildTiny))
	if err != nil {
		t.Fatal(err)
	}
	if err := restoreFrom(next, filepath.Join(out, CheckpointName)); err != nil {
		t.Fatal(err)
	}
	var rest losses
	if _, err := next.Run(context.Background(), Options{Out: out, OnStep: rest.hook}); err != nil {
		t.Fatal(err)
	}
	for i, l := range rest.steps {
		if l != ref[testSteps+i] {
			t.Fatalf("step %d: resumed loss %v, uninterrupted %v", testSteps+i+1, l, ref[testSteps+i])
		}
	}
	sameState(t, nn.StateDict(next.Task.Module), refState)
}

// TestNonFiniteWeightsAreNotSaved diverges with a huge learning rate: the
// guard stops the run at the first non-finite loss and writes no
// checkpoint, and the new run's folder keeps none of its files.
func TestNonFiniteWeightsAreNotSaved(t *testing.T) {
	out := t.TempDir()
	cfg := testConfig()
	cfg.LR, cfg.Warmup = 1e308, 0
	tr, err := New(cfg, newTestTask(cfg, testN, testBatch, buildTiny))
	if err != nil {
		t.Fatal(err)
	}
	_, err = tr.Run(context.Background(), Options{Out: out})
	var nf *NonFiniteError
	if !errors.As(err, &nf) || nf.Step != 2 || nf.Term != "cross_entropy" {
		t.Fatalf("error %v, want a non-finite cross_entropy at step 2", err)
	}
	// A new run that fails before its first checkpoint leaves none of its
	// files (the config, the metrics) behind.
	for _, name := range runFiles {
		if _, err := os.Stat(filepath.Join(out, name)); err == nil {
			t.Errorf("a diverged new run left %s", name)
		}
	}
}

// oneStep trains a linear model for one epoch that is exactly one
// optimiser step (SGD without momentum) and returns its weights.
func oneStep(t *testing.T, batch int, cfg Config) (*Trainer[*loader.Images], StepInfo, []float32) {
	t.Helper()
	cfg.Epochs, cfg.Optimizer, cfg.Momentum, cfg.WeightDecay, cfg.Schedule, cfg.Warmup, cfg.EMA = 1, "sgd", 0, 0, "constant", 0, 0
	task := newTestTask(cfg, 32, batch, func(rng *tensor.RNG) forwarder { return &linear{nn.NewLinear(rng, 64, 3, true)} })
	task.Eval = nil
	tr, err := New(cfg, task)
	if err != nil {
		t.Fatal(err)
	}
	var info []StepInfo
	if _, err := tr.Run(context.Background(), Options{OnStep: func(s StepInfo) { info = append(info, s) }}); err != nil {
		t.Fatal(err)
	}
	if len(info) != 1 {
		t.Fatalf("%d steps, want 1", len(info))
	}
	var w []float32
	for _, s := range nn.StateDict(task.Module) {
		w = append(w, s.Value.Data()...)
	}
	return tr, info[0], w
}

// TestAccumulationMatchesOneBigBatch: four accumulated batches of 8 take
// the step one batch of 32 takes, for a mean loss.
func TestAccumulationMatchesOneBigBatch(t *testing.T) {
	cfg := testConfig()
	cfg.LR = 0.5
	_, big, wBig := oneStep(t, 32, cfg)
	cfg.Accumulate = 4
	_, acc, wAcc := oneStep(t, 8, cfg)
	if math.Abs(big.Loss-acc.Loss) > 1e-6 {
		t.Errorf("loss %v accumulated, %v in one batch", acc.Loss, big.Loss)
	}
	_, _, w0 := oneStep(t, 32, Config{LR: 1e-30, Seed: cfg.Seed})
	moved := 0.0
	for i := range wBig {
		moved = math.Max(moved, math.Abs(float64(wBig[i]-w0[i])))
		if d := math.Abs(float64(wAcc[i] - wBig[i])); d > 1e-6 {
			t.Fatalf("weight %d: %v accumulated, %v in one batch", i, wAcc[i], wBig[i])
		}
	}
	if moved < 1e-3 {
		t.Fatalf("the step moved the weights by at most %g: the comparison says nothing", moved)
	}
}

// TestClipping: with a clip norm below the gradient's, an SGD step of rate
// 1 moves the weights by exactly the clip norm; without, by the gradient
// norm.
func TestClipping(t *testing.T) {
	cfg := testConfig()
	cfg.LR = 1
	_, _, w0 := oneStep(t, 32, Config{LR: 1e-30, Seed: cfg.Seed})
	dist := func(w []float32) float64 {
		s := 0.0
		for i := range w {
			d := float64(w[i] - w0[i])
			s += d * d
		}
		return math.Sqrt(s)
	}
	cfg.ClipNorm = 1e6
	_, free, wFree := oneStep(t, 32, cfg)
	if math.IsNaN(free.GradNorm) || math.Abs(dist(wFree)-free.GradNorm) > 1e-4*free.GradNorm {
		t.Fatalf("unclipped step moved %g, gradient norm %g", dist(wFree), free.GradNorm)
	}
	cfg.ClipNorm = free.GradNorm / 10
	_, clipped, wClip := oneStep(t, 32, cfg)
	if clipped.GradNorm != free.GradNorm {
		t.Errorf("gradient norm before clipping %g, want %g", clipped.GradNorm, free.GradNorm)
	}
	if d := dist(wClip); math.Abs(d-cfg.ClipNorm) > 1e-4*cfg.ClipNorm {
		t.Errorf("clipped step moved %g, want the clip norm %g", d, cfg.ClipNorm)
	}
}

// TestEMA checks the moving average against its definition after every
// step, that evaluation sees it, and that the model keeps its own weights.
func TestEMA(t *testing.T) {
	cfg := testConfig()
	cfg.Epochs, cfg.EMA = 1, 0.75
	task := newTestTask(cfg, 24, 8, buildTiny)
	init := nn.StateDict(task.Module)
	want := make([][]float32, len(init))
	for i, s := range init {
		want[i] = append([]float32{}, s.Value.Data()...)
	}
	var seen [][]float32
	eval := task.Eval
	task.Eval = func() (map[string]float64, error) {
		for _, s := range nn.StateDict(task.Module) {
			seen = append(seen, append([]float32{}, s.Value.Data()...))
		}
		return eval()
	}
	tr, err := New(cfg, task)
	if err != nil {
		t.Fatal(err)
	}
	steps := 0
	_, err = tr.Run(context.Background(), Options{OnStep: func(StepInfo) {
		steps++
		for i, s := range nn.StateDict(task.Module) {
			for j, v := range s.Value.Data() {
				if s.Integer {
					want[i][j] = v
				} else {
					want[i][j] = 0.75*want[i][j] + 0.25*v
				}
			}
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if steps != 3 {
		t.Fatalf("%d steps", steps)
	}
	for i, s := range init {
		for j := range want[i] {
			if got := tr.ema.vals[i].Data()[j]; got != want[i][j] {
				t.Fatalf("%s[%d]: average %v, want %v", s.Name, j, got, want[i][j])
			}
			if seen[i][j] != want[i][j] {
				t.Fatalf("evaluation saw %s[%d] = %v, not the average %v", s.Name, j, seen[i][j], want[i][j])
			}
		}
	}
	differs := false
	for i, s := range nn.StateDict(task.Module) {
		for j, v := range s.Value.Data() {
			differs = differs || v != want[i][j]
		}
	}
	if !differs {
		t.Error("after evaluation the model holds the average, not its own weights")
	}
}

func TestConfigFiles(t *testing.T) {
	type taskConfig struct {
		Config `yaml:",inline"`
		Batch  int `yaml:"batch" json:"batch"`
	}
	cfg := taskConfig{Config: testConfig(), Batch: 16}
	b, err := EncodeConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var back taskConfig
	if err := DecodeConfig(b, &back); err != nil || back != cfg {
		t.Fatalf("round trip %+v, %v", back, err)
	}
	if !strings.Contains(string(b), "\nbatch: 16\n") || !strings.Contains(string(b), "lr: 0.01\n") {
		t.Errorf("yaml is not one flat mapping:\n%s", b)
	}
	if err := DecodeConfig([]byte("lr: 0.1\nbacth: 3\n"), &back); err == nil || !strings.Contains(err.Error(), "bacth") {
		t.Errorf("misspelt key: %v", err)
	}
	over := cfg
	if err := DecodeConfig([]byte("lr: 0.5\n"), &over); err != nil || over.LR != 0.5 || over.Batch != 16 {
		t.Errorf("decoding over defaults: %+v, %v", over, err)
	}
	cases := []struct {
		name string
		mod  func(*taskConfig)
		want string
	}{
		{"same", func(*taskConfig) {}, ""},
		{"more epochs", func(c *taskConfig) { c.Epochs = 9; c.MaxMinutes = 3 }, ""},
		{"lr", func(c *taskConfig) { c.LR = 0.1 }, "lr (0.01 in the checkpoint, 0.1 now)"},
		{"batch and seed", func(c *taskConfig) { c.Batch = 4; c.Seed = 2 }, "batch (16 in the checkpoint, 4 now), seed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := cfg
			c.mod(&req)
			err := CheckChanges(cfg, req, Resumable())
			if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	for _, mod := range []func(*Config){
		func(c *Config) { c.Epochs = 0 },
		func(c *Config) { c.LR = -1 },
		func(c *Config) { c.LR = math.Inf(1) },
		func(c *Config) { c.Optimizer = "rmsprop" },
		func(c *Config) { c.Schedule = "linear" },
		func(c *Config) { c.Accumulate = -1 },
		func(c *Config) { c.EMA = 1 },
		func(c *Config) { c.ClipNorm = -1 },
		func(c *Config) { c.MaxMinutes = math.NaN() },
		func(c *Config) { c.WeightDecay = math.NaN() },
		func(c *Config) { c.Momentum = math.NaN() },
		func(c *Config) { c.EMA = math.NaN() },
		func(c *Config) { c.Gamma = math.NaN() },
		func(c *Config) { c.Gamma = -1 },
		func(c *Config) { c.Warmup = -5 },
	} {
		c := testConfig()
		mod(&c)
		c.Fill()
		if err := c.Validate(); err == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
}

func TestFloatJSON(t *testing.T) {
	for _, c := range []struct {
		v    float64
		want string
	}{{1.5, "1.5"}, {math.NaN(), "null"}, {math.Inf(-1), "null"}, {1e-7, "1e-7"}} {
		b, err := json.Marshal(Float(c.v))
		if err != nil || string(b) != c.want {
			t.Errorf("%v encodes as %s (%v), want %s", c.v, b, err, c.want)
		}
	}
	var f Float
	if err := json.Unmarshal([]byte("null"), &f); err != nil || !math.IsNaN(float64(f)) {
		t.Errorf("null decodes as %v, %v", f, err)
	}
}

// TestEvalEvery evaluates every second epoch and always the last, and
// records each epoch and every LogEvery steps in the history.
func TestEvalEvery(t *testing.T) {
	cfg := testConfig()
	cfg.EvalEvery, cfg.LogEvery = 2, 5
	task := newTestTask(cfg, testN, testBatch, buildTiny)
	evals := 0
	eval := task.Eval
	task.Eval = func() (map[string]float64, error) { evals++; return eval() }
	tr, err := New(cfg, task)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Run(context.Background(), Options{}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range tr.History {
		got = append(got, r.Kind+":"+strconv.Itoa(r.Step)+":"+strconv.FormatBool(r.Metrics != nil))
	}
	// 12 steps an epoch: train records at every fifth step and at the end
	// of each epoch.
	want := []string{"train:5:false", "train:10:false", "train:12:false", "eval:12:false",
		"train:15:false", "train:20:false", "train:24:false", "eval:24:true",
		"train:25:false", "train:30:false", "train:35:false", "train:36:false", "eval:36:true"}
	if strings.Join(got, " ") != strings.Join(want, " ") || evals != 2 {
		t.Errorf("history %v with %d evaluations, want %v with 2", got, evals, want)
	}
}

// TestRestoreRefusesChangedSettings: a checkpoint restores only into a run
// of the settings it stores, but for those that change no step.
func TestRestoreRefusesChangedSettings(t *testing.T) {
	cfg := testConfig()
	tr, err := New(cfg, newTestTask(cfg, testN, testBatch, buildTiny))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), CheckpointName)
	if err := tr.Save(path); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.Epochs, c.LogEvery = 5, 1 }, ""},
		{func(c *Config) { c.LR = 0.5 }, "cannot change lr (0.01 in the checkpoint, 0.5 now)"},
		{func(c *Config) { c.Accumulate, c.EMA = 2, 0.5 }, "cannot change accumulate (1 in the checkpoint, 2 now), ema (0.9 in the checkpoint, 0.5 now)"},
	} {
		changed := testConfig()
		c.mod(&changed)
		next, err := New(changed, newTestTask(changed, testN, testBatch, buildTiny))
		if err != nil {
			t.Fatal(err)
		}
		err = restoreFrom(next, path)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("restore into %+v: %v, want %q", changed, err, c.want)
		}
	}
}

// TestTaskMetadata: the task's metadata goes into the checkpoint beside
// the loop's keys, which it cannot replace.
func TestTaskMetadata(t *testing.T) {
	cfg := testConfig()
	task := newTestTask(cfg, testN, testBatch, buildTiny)
	task.Metadata = map[string]string{checkpoint.MetaClasses: "3", checkpoint.MetaModel: "other"}
	tr, err := New(cfg, task)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), CheckpointName)
	if err := tr.Save(path); err != nil {
		t.Fatal(err)
	}
	f, err := checkpoint.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Metadata[checkpoint.MetaClasses]; got != "3" {
		t.Errorf("classes %q in the checkpoint, want 3", got)
	}
	if got := f.Metadata[checkpoint.MetaModel]; got != task.Model {
		t.Errorf("model %q in the checkpoint, want the task's %q", got, task.Model)
	}
}
