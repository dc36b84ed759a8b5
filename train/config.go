package train

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"argus/nn"
	"argus/optim"
)

// Config holds the settings of the training loop itself. A task's config
// embeds it inline (`yaml:",inline"`) next to the task's own settings, so a
// run's YAML file is one flat mapping.
type Config struct {
	// Epochs is the number of passes over the training data.
	Epochs int `yaml:"epochs" json:"epochs"`
	// Optimizer is "adamw", "adam", "sgd" (with Momentum) or "adadelta".
	Optimizer   string  `yaml:"optimizer" json:"optimizer"`
	LR          float64 `yaml:"lr" json:"lr"`
	WeightDecay float64 `yaml:"weight_decay" json:"weight_decay"`
	// Momentum is SGD's momentum.
	Momentum float64 `yaml:"momentum" json:"momentum"`
	// Schedule is "cosine" (per step, to zero at the last step), "step"
	// (×Gamma each epoch), "poly" (per step, (LR − MinLR)·(1 − t/T)^Power
	// + MinLR over the T steps of the run, mmsegmentation's) or
	// "constant".
	Schedule string  `yaml:"schedule" json:"schedule"`
	Gamma    float64 `yaml:"gamma" json:"gamma"`
	// Power and MinLR shape the poly schedule (0.9 and 1e-4 in
	// mmsegmentation's recipes).
	Power float64 `yaml:"power,omitempty" json:"power,omitempty"`
	MinLR float64 `yaml:"min_lr,omitempty" json:"min_lr,omitempty"`
	// Warmup is the number of optimiser steps of linear learning-rate
	// warm-up, from 1% of the rate.
	Warmup int `yaml:"warmup" json:"warmup"`
	// Accumulate is the number of batches whose gradients are averaged
	// into one optimiser step (default 1).
	Accumulate int `yaml:"accumulate" json:"accumulate"`
	// ClipNorm, when positive, scales the gradients so that their global
	// L2 norm is at most ClipNorm before each step.
	ClipNorm float64 `yaml:"clip_norm" json:"clip_norm"`
	// EMA, when positive, keeps an exponential moving average of the
	// weights with this decay per step; evaluation then uses it.
	EMA float64 `yaml:"ema" json:"ema"`
	// EvalEvery is the number of epochs between evaluations (default 1);
	// the last epoch is always evaluated.
	EvalEvery int `yaml:"eval_every" json:"eval_every"`
	// LogEvery is the number of optimiser steps between training-loss
	// records in metrics.jsonl (default 50).
	LogEvery int `yaml:"log_every" json:"log_every"`
	// MaxMinutes, when positive, stops this session after that many
	// minutes of wall time with a resumable checkpoint.
	MaxMinutes float64 `yaml:"max_minutes" json:"max_minutes"`
	// Seed seeds initialisation, shuffling, augmentation and dropout.
	Seed uint64 `yaml:"seed" json:"seed"`
}

// Fill sets the defaults of settings left at zero.
func (c *Config) Fill() {
	if c.Accumulate == 0 {
		c.Accumulate = 1
	}
	if c.EvalEvery == 0 {
		c.EvalEvery = 1
	}
	if c.LogEvery == 0 {
		c.LogEvery = 50
	}
	if c.Gamma == 0 {
		c.Gamma = 0.7
	}
}

// Validate reports the first setting that cannot train.
func (c *Config) Validate() error {
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	switch {
	case c.Epochs < 1:
		return fmt.Errorf("epochs must be at least 1, got %d", c.Epochs)
	case !(c.LR > 0) || !finite(c.LR):
		return fmt.Errorf("learning rate must be positive, got %g", c.LR)
	case c.WeightDecay < 0 || !finite(c.WeightDecay):
		return fmt.Errorf("weight decay must not be negative, got %g", c.WeightDecay)
	case !(c.Momentum >= 0 && c.Momentum < 1):
		return fmt.Errorf("momentum must be in [0, 1), got %g", c.Momentum)
	case c.Warmup < 0:
		return fmt.Errorf("warmup must not be negative, got %d", c.Warmup)
	case c.Accumulate < 1:
		return fmt.Errorf("accumulate must be at least 1, got %d", c.Accumulate)
	case c.ClipNorm < 0 || !finite(c.ClipNorm):
		return fmt.Errorf("clip norm must not be negative, got %g", c.ClipNorm)
	case !(c.EMA >= 0 && c.EMA < 1):
		return fmt.Errorf("ema decay must be in [0, 1), got %g", c.EMA)
	case c.EvalEvery < 1:
		return fmt.Errorf("eval every must be at least 1, got %d", c.EvalEvery)
	case c.LogEvery < 1:
		return fmt.Errorf("log every must be at least 1, got %d", c.LogEvery)
	case c.MaxMinutes < 0 || !finite(c.MaxMinutes):
		return fmt.Errorf("max minutes must not be negative, got %g", c.MaxMinutes)
	case !(c.Gamma > 0) || !finite(c.Gamma):
		return fmt.Errorf("gamma must be positive, got %g", c.Gamma)
	}
	switch c.Optimizer {
	case "adamw", "adam", "sgd", "adadelta":
	default:
		return fmt.Errorf("unknown optimizer %q (have adamw, adam, sgd, adadelta)", c.Optimizer)
	}
	switch c.Schedule {
	case "cosine", "step", "constant":
	case "poly":
		switch {
		case !(c.Power > 0) || !finite(c.Power):
			return fmt.Errorf("poly power must be positive, got %g", c.Power)
		case !(c.MinLR >= 0 && c.MinLR < c.LR):
			return fmt.Errorf("poly min_lr must be in [0, lr), got %g", c.MinLR)
		}
	default:
		return fmt.Errorf("unknown schedule %q (have cosine, step, poly, constant)", c.Schedule)
	}
	return nil
}

// Resumable returns the settings of Config a resumed run may change: they
// decide how long it runs and what it records, never the steps it takes
// (extending Epochs stretches a cosine schedule from then on, as intended).
func Resumable() []string { return []string{"epochs", "max_minutes", "eval_every", "log_every"} }

// NewOptimizer builds the optimiser cfg names over m's parameters. AdamW
// leaves biases and normalisation scales undecayed (optim.SplitDecay);
// the others decay every parameter, as PyTorch does by default.
func NewOptimizer(cfg Config, m nn.Module) optim.Optimizer {
	ps := nn.Parameters(m)
	switch cfg.Optimizer {
	case "sgd":
		return optim.NewSGD(cfg.Momentum, 0, false, optim.NewGroup(cfg.LR, cfg.WeightDecay, ps...))
	case "adam":
		return optim.NewAdam(0.9, 0.999, 1e-8, optim.NewGroup(cfg.LR, cfg.WeightDecay, ps...))
	case "adadelta":
		return optim.NewAdadelta(0.9, 1e-6, optim.NewGroup(cfg.LR, cfg.WeightDecay, ps...))
	}
	return optim.NewAdamW(0.9, 0.999, 1e-8, optim.SplitDecay(ps, cfg.LR, cfg.WeightDecay)...)
}

// NewSchedule returns the learning-rate schedule cfg names, counted in
// optimiser steps, for epochs of stepsPerEpoch steps.
func NewSchedule(cfg Config, stepsPerEpoch int) optim.Schedule {
	var s optim.Schedule
	switch cfg.Schedule {
	case "cosine":
		s = optim.Cosine{T: max(cfg.Epochs*stepsPerEpoch-cfg.Warmup, 1)}
	case "step":
		s = optim.Step{Size: max(stepsPerEpoch, 1), Gamma: cfg.Gamma}
	case "poly":
		s = optim.Poly{T: max(cfg.Epochs*stepsPerEpoch-cfg.Warmup, 1), Power: cfg.Power, Min: cfg.MinLR / cfg.LR}
	default:
		s = optim.Constant{}
	}
	if cfg.Warmup > 0 {
		s = optim.Warmup{Steps: cfg.Warmup, Start: 0.01, Then: s}
	}
	return s
}

// ReadConfig decodes the YAML file at path into cfg, over the values cfg
// already holds; keys that cfg has no field for are errors, so that a
// misspelt setting is not silently ignored.
func ReadConfig(path string, cfg any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	if err := DecodeConfig(b, cfg); err != nil {
		return fmt.Errorf("read config %s: %w", path, err)
	}
	return nil
}

// DecodeConfig decodes YAML (or JSON, which YAML contains) into cfg, over
// the values cfg already holds, refusing unknown keys.
func DecodeConfig(b []byte, cfg any) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	err := dec.Decode(cfg)
	var te *yaml.TypeError
	switch {
	case errors.Is(err, io.EOF):
		return nil // an empty file changes nothing
	case errors.As(err, &te):
		// One line, for the CLI's one error line.
		return errors.New(strings.Join(te.Errors, "; "))
	}
	return err
}

// EncodeConfig returns cfg as YAML.
func EncodeConfig(cfg any) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(cfg); err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	return buf.Bytes(), nil
}

// CheckChanges compares a resumed run's requested config with the one
// stored in its checkpoint, setting by setting (by JSON name), and returns
// an error naming every change outside accepted, because those would make
// the resumed run differ from an uninterrupted one.
func CheckChanges(stored, requested any, accepted []string) error {
	a, err := settings(stored)
	if err != nil {
		return err
	}
	b, err := settings(requested)
	if err != nil {
		return err
	}
	var changed []string
	for k, v := range b {
		if !slices.Contains(accepted, k) && !reflect.DeepEqual(a[k], v) {
			changed = append(changed, fmt.Sprintf("%s (%v in the checkpoint, %v now)", k, show(a[k]), show(v)))
		}
	}
	if len(changed) == 0 {
		return nil
	}
	sort.Strings(changed)
	return fmt.Errorf("cannot change %s: a resumed run keeps the settings in its checkpoint (%s may change)",
		strings.Join(changed, ", "), strings.Join(accepted, ", "))
}

func show(v any) any {
	if v == nil {
		return "unset"
	}
	return v
}

func settings(cfg any) (map[string]any, error) {
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("compare configs: %w", err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("compare configs: %w", err)
	}
	return m, nil
}
