package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"

	"argus/checkpoint"
	"argus/nn"
)

// Metadata keys of a run's checkpoint, besides checkpoint.MetaModel,
// MetaEpoch and MetaStep.
const (
	// MetaConfig holds the task's resolved config as YAML.
	MetaConfig = "config"
	// MetaMetrics holds the run's metrics history as a JSON array.
	MetaMetrics = "metrics"
	// MetaPosition holds the position within the run and its running sums
	// as JSON.
	MetaPosition = "train"
)

// Extra entries of a run's checkpoint.
const (
	extraRNG = "rng"
	extraEMA = "ema."
)

// Save writes the run's model, optimiser state, generator state, moving
// average, config, position and metrics history to path atomically.
func (tr *Trainer[B]) Save(path string) error {
	rng, err := tr.Task.RNG.MarshalBinary()
	if err != nil {
		return fmt.Errorf("save generator state: %w", err)
	}
	extra := map[string][]byte{extraRNG: rng}
	if tr.ema != nil {
		for k, v := range tr.ema.encode() {
			extra[extraEMA+k] = v
		}
	}
	pos, err := json.Marshal(tr.pos)
	if err != nil {
		return fmt.Errorf("save position: %w", err)
	}
	hist, err := json.Marshal(tr.History)
	if err != nil {
		return fmt.Errorf("save metrics: %w", err)
	}
	meta := map[string]string{}
	for k, v := range tr.Task.Metadata {
		meta[k] = v
	}
	for k, v := range map[string]string{
		"format":             "pt",
		checkpoint.MetaModel: tr.Task.Model,
		checkpoint.MetaEpoch: strconv.Itoa(tr.pos.Epoch),
		checkpoint.MetaStep:  strconv.Itoa(tr.pos.Step),
		MetaPosition:         string(pos),
		MetaMetrics:          string(hist),
	} {
		meta[k] = v
	}
	if tr.Task.Config != nil {
		cfg, err := EncodeConfig(tr.Task.Config)
		if err != nil {
			return err
		}
		meta[MetaConfig] = string(cfg)
	}
	return checkpoint.Save(path, tr.Task.Module, checkpoint.Contents{Optimizer: tr.Opt, Extra: extra, Metadata: meta})
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

// StoredConfig decodes the task config stored in a run's checkpoint into
// cfg, so that a resumed run can be built with the settings it started
// with.
func StoredConfig(f *checkpoint.File, cfg any) error {
	s, ok := f.Metadata[MetaConfig]
	if !ok {
		return fmt.Errorf("no training configuration in checkpoint")
	}
	if err := DecodeConfig([]byte(s), cfg); err != nil {
		return fmt.Errorf("training configuration in checkpoint: %w", err)
	}
	return nil
}

// Restore loads the state of a run saved by Save into tr: weights,
// optimiser, generator, moving average, position and history. tr must have
// been built from the checkpoint's config (see StoredConfig), changed at
// most in the settings Resumable() and Task.Resumable name; any other
// change would make the resumed run differ from an uninterrupted one and
// is refused, naming each. After an error the trainer is in an unknown
// state and must be discarded.
func (tr *Trainer[B]) Restore(f *checkpoint.File) error {
	if err := CheckModel(f, tr.Task.Model); err != nil {
		return err
	}
	if tr.Task.Config != nil {
		stored := reflect.New(reflect.TypeOf(tr.Task.Config))
		if err := StoredConfig(f, stored.Interface()); err != nil {
			return err
		}
		if err := CheckChanges(stored.Elem().Interface(), tr.Task.Config, append(Resumable(), tr.Task.Resumable...)); err != nil {
			return err
		}
	}
	var pos position
	if err := json.Unmarshal([]byte(f.Metadata[MetaPosition]), &pos); err != nil {
		return fmt.Errorf("no training position in checkpoint: %v", err)
	}
	if err := pos.check(f); err != nil {
		return err
	}
	var hist []Record
	if err := json.Unmarshal([]byte(f.Metadata[MetaMetrics]), &hist); err != nil {
		return fmt.Errorf("metrics in checkpoint: %w", err)
	}
	rng, ok := f.Extra(extraRNG)
	if !ok {
		return fmt.Errorf("no generator state in checkpoint")
	}
	var emaState map[string][]byte
	if tr.ema != nil {
		emaState = map[string][]byte{}
		for _, s := range tr.ema.names {
			b, ok := f.Extra(extraEMA + s)
			if !ok {
				return fmt.Errorf("no moving average of %s in checkpoint", s)
			}
			emaState[s] = b
		}
		if err := tr.ema.check(emaState); err != nil {
			return err
		}
	}
	if err := checkpoint.LoadModel(f, tr.Task.Module); err != nil {
		return err
	}
	if err := checkpoint.LoadOptimizer(f, tr.Opt); err != nil {
		return err
	}
	if pos.Step > 0 {
		// Every trainable parameter has had a step, so every one has
		// state: a checkpoint without it would resume with a fresh
		// optimiser and silently take other steps. A frozen parameter (the
		// re-ID neck's bias) never gets a gradient, so it has none.
		st := tr.Opt.State()
		for _, g := range tr.Opt.Groups() {
			for _, p := range g.Params {
				if !p.Var.RequiresGrad() {
					continue
				}
				if _, ok := st[p.Name+".step"]; !ok {
					return fmt.Errorf("no optimiser state for %s in checkpoint (it was saved without the optimiser, so the run cannot continue exactly)", p.Name)
				}
			}
		}
	}
	if err := tr.Task.RNG.UnmarshalBinary(rng); err != nil {
		return fmt.Errorf("generator state: %w", err)
	}
	if tr.ema != nil {
		tr.ema.decode(emaState)
	}
	tr.pos, tr.History = pos, hist
	for i := len(hist) - 1; i >= 0; i-- {
		if hist[i].Metrics != nil {
			tr.lastRec = hist[i].Metrics
			break
		}
	}
	return nil
}

// check refuses a position that no run reaches: negative counts, or
// counts that disagree with the checkpoint's epoch and step metadata.
func (p position) check(f *checkpoint.File) error {
	switch {
	case p.Epoch < 0 || p.Batch < 0 || p.Step < 0 || p.Samples < 0:
		return fmt.Errorf("training position in checkpoint is invalid: epoch %d, batch %d, step %d, samples %d (none may be negative)",
			p.Epoch, p.Batch, p.Step, p.Samples)
	case !(p.Seconds >= 0) || math.IsInf(p.Seconds, 0):
		return fmt.Errorf("training position in checkpoint is invalid: %v seconds", p.Seconds)
	}
	for key, want := range map[string]int{checkpoint.MetaEpoch: p.Epoch, checkpoint.MetaStep: p.Step} {
		if s, ok := f.Metadata[key]; ok && s != strconv.Itoa(want) {
			return fmt.Errorf("checkpoint metadata %s %q disagrees with its training position (%d)", key, s, want)
		}
	}
	return nil
}

// LoadWeights reads a checkpoint of the named model into m, for
// evaluation. With ema set it loads the moving average of the weights that
// the run kept, and fails when it kept none.
func LoadWeights(path, model string, m nn.Module, ema bool) (*checkpoint.File, error) {
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
	if ema {
		e := newEMA(m, 0)
		st := map[string][]byte{}
		for _, s := range e.names {
			b, ok := f.Extra(extraEMA + s)
			if !ok {
				return nil, fmt.Errorf("load %s: the run kept no moving average of the weights (train with ema)", path)
			}
			st[s] = b
		}
		if err := e.check(st); err != nil {
			return nil, fmt.Errorf("load %s: %w", path, err)
		}
		e.decode(st)
		e.swapIn(m)
	}
	return f, nil
}
