// Package classify trains and evaluates image classifiers: a seeded,
// resumable training loop with per-epoch evaluation, checkpoints, metrics as
// JSON lines and a plot.
package classify

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"argus/autograd"
	"argus/checkpoint"
	"argus/nn"
	"argus/optim"
	"argus/tensor"
)

// Dataset is a list of labelled images.
type Dataset interface {
	Len() int
	// Batch returns the images at idx as one (len(idx), C, H, W) tensor and
	// their class labels.
	Batch(idx []int) (*tensor.Tensor, []int)
}

// Model maps a batch of images to class logits.
type Model interface {
	nn.Module
	Forward(x *autograd.Var) *autograd.Var
}

// Config is a training run's settings. It is stored in every checkpoint, so
// a resumed run uses the settings it started with.
type Config struct {
	// Model names the architecture; checkpoints of another model are
	// refused.
	Model  string `json:"model"`
	Epochs int    `json:"epochs"`
	Batch  int    `json:"batch"`
	// EvalBatch is the batch size for evaluation (default 100: larger
	// batches are slower, their activations no longer fit in cache).
	EvalBatch int `json:"eval_batch"`
	// Optimizer is "adamw", "adam", "sgd" (momentum 0.9) or "adadelta".
	Optimizer   string  `json:"optimizer"`
	LR          float64 `json:"lr"`
	WeightDecay float64 `json:"weight_decay"`
	// Schedule is "cosine" (per step, to zero at the last step), "step"
	// (×Gamma each epoch, as PyTorch's MNIST example) or "constant".
	Schedule string  `json:"schedule"`
	Gamma    float64 `json:"gamma"`
	// LabelSmoothing mixes the one-hot training target with the uniform
	// distribution (evaluation uses plain cross-entropy).
	LabelSmoothing float64 `json:"label_smoothing,omitempty"`
	// Warmup is the number of steps of linear learning-rate warm-up.
	Warmup int    `json:"warmup"`
	Seed   uint64 `json:"seed"`
	// LogEvery is the number of steps between training-loss records.
	LogEvery int `json:"log_every"`
}

func (c *Config) fill() {
	if c.EvalBatch == 0 {
		c.EvalBatch = 100
	}
	if c.LogEvery == 0 {
		c.LogEvery = 50
	}
	if c.Gamma == 0 {
		c.Gamma = 0.7
	}
}

// Validate reports settings that cannot train.
func (c *Config) Validate() error {
	switch {
	case c.Epochs < 1:
		return fmt.Errorf("epochs must be at least 1, got %d", c.Epochs)
	case c.Batch < 1:
		return fmt.Errorf("batch must be at least 1, got %d", c.Batch)
	case !(c.LR > 0) || math.IsInf(c.LR, 0):
		return fmt.Errorf("learning rate must be positive, got %g", c.LR)
	case c.LabelSmoothing < 0 || c.LabelSmoothing >= 1:
		return fmt.Errorf("label smoothing must be in [0, 1), got %g", c.LabelSmoothing)
	case c.WeightDecay < 0:
		return fmt.Errorf("weight decay must not be negative, got %g", c.WeightDecay)
	}
	switch c.Optimizer {
	case "adamw", "adam", "sgd", "adadelta":
	default:
		return fmt.Errorf("unknown optimizer %q (have adamw, adam, sgd, adadelta)", c.Optimizer)
	}
	switch c.Schedule {
	case "cosine", "step", "constant":
	default:
		return fmt.Errorf("unknown schedule %q (have cosine, step, constant)", c.Schedule)
	}
	return nil
}

// Record is one line of metrics.jsonl: a training-loss average over the
// last LogEvery steps (Kind "train") or an end-of-epoch evaluation (Kind
// "eval").
type Record struct {
	Kind         string  `json:"kind"`
	Epoch        int     `json:"epoch"`
	Step         int     `json:"step"`
	LR           float64 `json:"lr,omitempty"`
	Loss         float64 `json:"loss"`
	TrainLoss    float64 `json:"train_loss,omitempty"`
	TestLoss     float64 `json:"test_loss,omitempty"`
	TestAccuracy float64 `json:"test_accuracy,omitempty"`
	Seconds      float64 `json:"seconds,omitempty"`
}

// Run is a training run in progress: model, optimiser, random generator
// and the position reached.
type Run struct {
	Config  Config
	Model   Model
	Opt     optim.Optimizer
	RNG     *tensor.RNG
	Epoch   int // epochs completed
	Step    int // optimiser steps taken
	History []Record
	// Losses holds the loss of every step, in order; tests compare it
	// between interrupted and uninterrupted runs.
	Losses []float32
	// Seconds is the training time accumulated over all sessions.
	Seconds float64
}

// NewRun builds a fresh run: the model from build with a generator seeded
// by cfg.Seed, which then also drives shuffling and dropout.
func NewRun(cfg Config, build func(*tensor.RNG) Model) (*Run, error) {
	cfg.fill()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	rng := tensor.NewRNG(cfg.Seed)
	m := build(rng)
	return &Run{Config: cfg, Model: m, Opt: newOptimizer(cfg, m), RNG: rng}, nil
}

func newOptimizer(cfg Config, m Model) optim.Optimizer {
	ps := nn.Parameters(m)
	switch cfg.Optimizer {
	case "sgd":
		return optim.NewSGD(0.9, 0, false, optim.NewGroup(cfg.LR, cfg.WeightDecay, ps...))
	case "adam":
		return optim.NewAdam(0.9, 0.999, 1e-8, optim.NewGroup(cfg.LR, cfg.WeightDecay, ps...))
	case "adadelta":
		return optim.NewAdadelta(0.9, 1e-6, optim.NewGroup(cfg.LR, cfg.WeightDecay, ps...))
	}
	return optim.NewAdamW(0.9, 0.999, 1e-8, optim.SplitDecay(ps, cfg.LR, cfg.WeightDecay)...)
}

// stepsPerEpoch is the number of batches in an epoch; the last batch may be
// smaller.
func (r *Run) stepsPerEpoch(n int) int { return (n + r.Config.Batch - 1) / r.Config.Batch }

func (r *Run) schedule(n int) optim.Schedule {
	spe := r.stepsPerEpoch(n)
	var s optim.Schedule
	switch r.Config.Schedule {
	case "cosine":
		s = optim.Cosine{T: r.Config.Epochs*spe - r.Config.Warmup}
	case "step":
		s = optim.Step{Size: spe, Gamma: r.Config.Gamma}
	default:
		s = optim.Constant{}
	}
	if r.Config.Warmup > 0 {
		s = optim.Warmup{Steps: r.Config.Warmup, Start: 0.01, Then: s}
	}
	return s
}

// Progress receives training progress: steps done and total in this epoch,
// and the running mean loss of the epoch.
type Progress interface {
	Start(epoch, epochs, steps int)
	Update(done int, loss float64)
	Finish()
}

// Hooks are called by Train; any may be nil.
type Hooks struct {
	Progress Progress
	// Epoch is called after each epoch's evaluation and checkpoint.
	Epoch func(r *Run, rec Record)
	// Until, when positive, stops training once this many epochs are
	// complete, as an interruption would; the schedule still spans
	// Config.Epochs.
	Until int
}

// TrainEpoch trains one epoch over train in a shuffled order drawn from the
// run's generator and returns the mean training loss.
func (r *Run) TrainEpoch(train Dataset, p Progress) float64 {
	n := train.Len()
	perm := r.RNG.Perm(n)
	sched := r.schedule(n)
	spe := r.stepsPerEpoch(n)
	nn.Train(r.Model, true)
	if p != nil {
		p.Start(r.Epoch+1, r.Config.Epochs, spe)
	}
	var sum, windowSum float64
	window := 0
	for b := 0; b < spe; b++ {
		idx := perm[b*r.Config.Batch : min((b+1)*r.Config.Batch, n)]
		x, y := train.Batch(idx)
		optim.SetSchedule(r.Opt, sched, r.Step)
		optim.ZeroGrad(r.Opt)
		loss := autograd.CrossEntropy(r.Model.Forward(autograd.Const(x)), y,
			autograd.CrossEntropyOptions{LabelSmoothing: float32(r.Config.LabelSmoothing)})
		loss.Backward()
		r.Opt.Step()
		r.Step++
		l := loss.Value().Item()
		r.Losses = append(r.Losses, l)
		sum += float64(l)
		windowSum += float64(l)
		window++
		if r.Step%r.Config.LogEvery == 0 || b == spe-1 {
			r.History = append(r.History, Record{Kind: "train", Epoch: r.Epoch + 1, Step: r.Step,
				LR: r.Opt.Groups()[0].LR, Loss: windowSum / float64(window)})
			windowSum, window = 0, 0
		}
		if p != nil {
			p.Update(b+1, sum/float64(b+1))
		}
	}
	if p != nil {
		p.Finish()
	}
	r.Epoch++
	return sum / float64(spe)
}

// Evaluate returns the mean cross-entropy and the accuracy of m on ds, in
// evaluation mode and without recording gradients.
func Evaluate(m Model, ds Dataset, batch int) (loss, accuracy float64) {
	if batch < 1 {
		batch = 100
	}
	nn.Train(m, false)
	defer nn.Train(m, true)
	n := ds.Len()
	correct := 0
	nn.NoGrad(m, func() {
		idx := make([]int, 0, batch)
		for lo := 0; lo < n; lo += batch {
			idx = idx[:0]
			for i := lo; i < min(lo+batch, n); i++ {
				idx = append(idx, i)
			}
			x, y := ds.Batch(idx)
			logits := m.Forward(autograd.Const(x))
			l := autograd.CrossEntropy(logits, y, autograd.CrossEntropyOptions{})
			loss += float64(l.Value().Item()) * float64(len(idx))
			c := logits.Shape()[1]
			d := logits.Value().Data()
			for i, want := range y {
				row := d[i*c : (i+1)*c]
				best := 0
				for j, v := range row {
					if v > row[best] {
						best = j
					}
				}
				if best == want {
					correct++
				}
			}
		}
	})
	if n == 0 {
		return 0, 0
	}
	return loss / float64(n), float64(correct) / float64(n)
}

// Train runs the remaining epochs, evaluating on test after each and, when
// outDir is not empty, writing checkpoint.safetensors, metrics.jsonl and
// metrics.png there. It returns the last evaluation.
func (r *Run) Train(train, test Dataset, outDir string, h Hooks) (Record, error) {
	var last Record
	if outDir != "" {
		if err := os.MkdirAll(outDir, 0o755); err != nil {
			return last, fmt.Errorf("create output directory: %w", err)
		}
	}
	if r.Epoch >= r.Config.Epochs {
		return last, fmt.Errorf("run already has %d of %d epochs: nothing to do (raise --epochs)", r.Epoch, r.Config.Epochs)
	}
	end := r.Config.Epochs
	if h.Until > 0 {
		end = min(end, h.Until)
	}
	for r.Epoch < end {
		t0 := time.Now()
		trainLoss := r.TrainEpoch(train, h.Progress)
		r.Seconds += time.Since(t0).Seconds()
		testLoss, acc := Evaluate(r.Model, test, r.Config.EvalBatch)
		last = Record{Kind: "eval", Epoch: r.Epoch, Step: r.Step, Loss: testLoss, TrainLoss: trainLoss,
			TestLoss: testLoss, TestAccuracy: acc, Seconds: r.Seconds}
		r.History = append(r.History, last)
		if outDir != "" {
			if err := r.Save(filepath.Join(outDir, CheckpointName)); err != nil {
				return last, err
			}
			if err := WriteMetrics(filepath.Join(outDir, "metrics.jsonl"), r.History); err != nil {
				return last, err
			}
			if err := Plot(filepath.Join(outDir, "metrics.png"), r.History); err != nil {
				return last, err
			}
		}
		if h.Epoch != nil {
			h.Epoch(r, last)
		}
	}
	return last, nil
}

// CheckpointName is the file name of the checkpoint in an output directory.
const CheckpointName = "checkpoint.safetensors"

// Metadata keys of a run's checkpoint.
const (
	metaConfig  = "config"
	metaMetrics = "metrics"
	metaSeconds = "seconds"
)

// Save writes the run's model, optimiser state, generator state, config,
// position and metrics history to path atomically.
func (r *Run) Save(path string) error {
	rng, err := r.RNG.MarshalBinary()
	if err != nil {
		return fmt.Errorf("save generator state: %w", err)
	}
	cfg, _ := json.Marshal(r.Config)
	hist, _ := json.Marshal(r.History)
	return checkpoint.Save(path, r.Model, checkpoint.Contents{
		Optimizer: r.Opt,
		Extra:     map[string][]byte{"rng": rng},
		Metadata: map[string]string{
			"format":             "pt",
			checkpoint.MetaModel: r.Config.Model,
			checkpoint.MetaEpoch: strconv.Itoa(r.Epoch),
			checkpoint.MetaStep:  strconv.Itoa(r.Step),
			metaConfig:           string(cfg),
			metaMetrics:          string(hist),
			metaSeconds:          strconv.FormatFloat(r.Seconds, 'g', -1, 64),
		},
	})
}

// ErrOtherModel is wrapped by the error for a checkpoint of another model.
var ErrOtherModel = errors.New("checkpoint holds another model")

// CheckModel returns an error if f's metadata names a model other than
// want.
func CheckModel(f *checkpoint.File, want string) error {
	if got, ok := f.Metadata[checkpoint.MetaModel]; ok && got != want {
		return fmt.Errorf("%w: %q, not %q", ErrOtherModel, got, want)
	}
	return nil
}

// Resume restores a run from a checkpoint written by Save. The model comes
// from build with the stored configuration; epochs, when positive,
// replaces the stored number of epochs so that a run can be extended.
func Resume(path, model string, epochs int, build func(*tensor.RNG) Model) (*Run, error) {
	f, err := checkpoint.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if err := CheckModel(f, model); err != nil {
		return nil, fmt.Errorf("resume %s: %w", path, err)
	}
	var cfg Config
	if err := json.Unmarshal([]byte(f.Metadata[metaConfig]), &cfg); err != nil {
		return nil, fmt.Errorf("resume %s: no training configuration in checkpoint: %v", path, err)
	}
	if epochs > 0 {
		cfg.Epochs = epochs
	}
	r, err := NewRun(cfg, build)
	if err != nil {
		return nil, fmt.Errorf("resume %s: %w", path, err)
	}
	if err := checkpoint.LoadModel(f, r.Model); err != nil {
		return nil, fmt.Errorf("resume %s: %w", path, err)
	}
	if err := checkpoint.LoadOptimizer(f, r.Opt); err != nil {
		return nil, fmt.Errorf("resume %s: %w", path, err)
	}
	st, ok := f.Extra("rng")
	if !ok {
		return nil, fmt.Errorf("resume %s: no generator state in checkpoint", path)
	}
	if err := r.RNG.UnmarshalBinary(st); err != nil {
		return nil, fmt.Errorf("resume %s: generator state: %w", path, err)
	}
	if r.Epoch, err = strconv.Atoi(f.Metadata[checkpoint.MetaEpoch]); err != nil {
		return nil, fmt.Errorf("resume %s: epoch: %w", path, err)
	}
	if r.Step, err = strconv.Atoi(f.Metadata[checkpoint.MetaStep]); err != nil {
		return nil, fmt.Errorf("resume %s: step: %w", path, err)
	}
	if err := json.Unmarshal([]byte(f.Metadata[metaMetrics]), &r.History); err != nil {
		return nil, fmt.Errorf("resume %s: metrics: %w", path, err)
	}
	r.Seconds, _ = strconv.ParseFloat(f.Metadata[metaSeconds], 64)
	return r, nil
}

// LoadWeights reads a checkpoint of the named model into m, for evaluation.
func LoadWeights(path, model string, m nn.Module) (*checkpoint.File, error) {
	f, err := checkpoint.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if err := CheckModel(f, model); err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	if err := checkpoint.LoadModel(f, m); err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return f, nil
}
