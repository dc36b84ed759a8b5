// Package train is the one training loop of argus. A task gives it a model,
// the generator the model draws from, a batch source (a data/loader
// Loader), a loss function returning named terms and an evaluation; the
// loop owns everything else: the optimiser and its schedule, gradient
// accumulation and clipping, an optional moving average of the weights,
// the progress bar, evaluation every few epochs, metrics.jsonl and a plot,
// the resolved config, atomic checkpoints after every epoch, exact resume,
// stopping on a signal or a time budget with a resumable checkpoint, and a
// guard that stops at the first non-finite loss.
//
// A run is exact: the batches come from a sampler seeded by the config's
// seed and the epoch, and every other random draw from the task's
// generator, whose state the checkpoint holds, so a run resumed from any
// checkpoint repeats the uninterrupted run's steps bit for bit.
package train

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"argus/autograd"
	"argus/data/loader"
	"argus/internal/atomicfile"
	"argus/nn"
	"argus/optim"
	"argus/tensor"
)

// Source yields the batches of an epoch, starting part-way when resuming;
// *loader.Loader implements it.
type Source[B any] interface {
	EpochFrom(ctx context.Context, epoch, first int) (*loader.Iter[B], error)
}

// Term is one named term of a batch's loss, a scalar. The loss optimised
// is the sum of the terms; metrics.jsonl records each, and the guard names
// the one that stops being finite.
type Term struct {
	Name string
	Loss *autograd.Var
}

// Task is what a task gives the loop.
type Task[B any] struct {
	// Model names the architecture in checkpoints; checkpoints of another
	// model are refused.
	Model string
	// Module is the network trained.
	Module nn.Module
	// RNG is the generator the module draws from while training (dropout);
	// checkpoints hold its state.
	RNG *tensor.RNG
	// Data yields the training batches.
	Data Source[B]
	// EpochSize is the number of samples in an epoch and Count the number
	// in a batch, for the progress bar and the rate; with Count nil both
	// count batches instead.
	EpochSize int
	Count     func(B) int
	// Loss computes the loss terms of a batch in training mode.
	Loss func(B) ([]Term, error)
	// Eval, when not nil, evaluates the module (the loop puts it in
	// evaluation mode, without gradients, with the moving average of the
	// weights when there is one) and returns named metrics.
	Eval func() (map[string]float64, error)
	// Config is the task's resolved configuration, written as YAML to the
	// run folder's config.yaml and into every checkpoint.
	Config any
	// Resumable names the settings of Config, besides Resumable()'s, that a
	// resumed run may change because they change no step (by JSON name).
	Resumable []string
	// Metadata holds further metadata strings written into every
	// checkpoint, such as the number of classes the model was built for
	// (checkpoint.MetaClasses); they cannot replace the loop's own keys.
	Metadata map[string]string
}

// File names in a run folder.
const (
	CheckpointName = "checkpoint.safetensors"
	MetricsName    = "metrics.jsonl"
	PlotName       = "metrics.png"
	ConfigName     = "config.yaml"
)

// ErrInterrupted is returned by Run when its context was cancelled (by a
// signal, see SignalContext): the step in progress was finished and a
// resumable checkpoint saved.
var ErrInterrupted = errors.New("interrupted")

// NonFiniteError reports the first loss term, gradient norm or weights that
// were not finite. The step it names was not applied and no checkpoint was
// written after it, so the last checkpoint is the last good state.
type NonFiniteError struct {
	// Step is the 1-based optimiser step, Epoch the 1-based epoch.
	Step, Epoch int
	// Term is the loss term's name, or "gradient norm" or "weights".
	Term  string
	Value float64
}

func (e *NonFiniteError) Error() string {
	what := "loss term " + e.Term
	if e.Term == "gradient norm" || e.Term == "weights" {
		what = e.Term
	}
	return fmt.Sprintf("step %d (epoch %d): %s is %v", e.Step, e.Epoch, what, e.Value)
}

// StepInfo describes a finished optimiser step, for Options.OnStep.
type StepInfo struct {
	// Epoch is 1-based; Batch counts the epoch's batches done so far.
	Epoch, Batch, Step int
	LR                 float64
	// Loss is the step's total loss (the mean over its accumulated
	// batches), Terms each term's.
	Loss  float64
	Terms map[string]float64
	// GradNorm is the gradients' global L2 norm before clipping, computed
	// only when clipping (NaN otherwise).
	GradNorm float64
}

// Sync joins the processes of a data-parallel run, each training the same
// model on its share of every batch (dist.Reducer implements it). During
// the last backward pass of each step the loop calls Ready with each
// parameter as soon as its gradient is complete, so that reducing can
// overlap the pass; after it, Wait, which returns when every gradient is
// the mean over the processes, before clipping and the optimiser step;
// then Average with the step's loss and terms (in the terms' name order),
// so that every process records the run's loss, and after every step and
// epoch with the process's reasons to stop (a signal, the time budget: 1
// or 0 each), so that all processes stop after the same step.
type Sync interface {
	// Rank is the process's index; only rank 0 writes the run folder and
	// shows progress.
	Rank() int
	Ready(p *autograd.Var)
	Wait() error
	Average(v []float64) error
}

// Options configure one session of Run.
type Options struct {
	// Out is the run folder; empty writes nothing.
	Out string
	// Sync, when not nil, makes the session one process of a data-parallel
	// run; on every rank but 0 Out and Progress are then ignored.
	Sync Sync
	// Progress, when not nil, shows each epoch's progress.
	Progress Progress
	// OnEpoch is called with each epoch's record after its checkpoint is
	// written; OnStep after each optimiser step.
	OnEpoch func(Record)
	OnStep  func(StepInfo)
}

// Result summarises a session of Run.
type Result struct {
	// Epoch and Step are the position reached (epochs completed).
	Epoch, Step int
	// TrainLoss and Terms are the mean loss of the last epoch trained in
	// this session, complete or not (non-finite when the guard stopped it).
	TrainLoss Float
	Terms     map[string]Float
	// Metrics is the last evaluation of the run, if any.
	Metrics map[string]Float
	// Seconds is the training time over all sessions, SessionSeconds this
	// session's, Samples the samples it trained on (batches without
	// Task.Count).
	Seconds, SessionSeconds float64
	Samples                 int
	// Stopped says why the session ended early: "interrupt",
	// "max-minutes" or "non-finite"; empty when the run is complete.
	Stopped string
	// Checkpoint is the last checkpoint written or kept, empty if none.
	Checkpoint string
}

// sums accumulates per-step losses over a window of steps.
type sums struct {
	Total float64            `json:"total"`
	Terms map[string]float64 `json:"terms"`
	Steps int                `json:"steps"`
}

func (s *sums) add(total float64, terms map[string]float64) {
	s.Total += total
	if s.Terms == nil {
		s.Terms = map[string]float64{}
	}
	for k, v := range terms {
		s.Terms[k] += v
	}
	s.Steps++
}

func (s *sums) mean() (Float, map[string]Float) {
	if s.Steps == 0 {
		return 0, nil
	}
	n := float64(s.Steps)
	terms := make(map[string]Float, len(s.Terms))
	for k, v := range s.Terms {
		terms[k] = Float(v / n)
	}
	return Float(s.Total / n), terms
}

// position is the part of a run's state that is neither weights nor
// optimiser state: where it is and its running sums, stored as JSON in
// checkpoints so that an epoch can resume part-way.
type position struct {
	Epoch   int     `json:"epoch"` // epochs completed
	Batch   int     `json:"batch"` // batches of the next epoch done
	Step    int     `json:"step"`
	Seconds float64 `json:"seconds"`
	Samples int     `json:"samples"` // samples of the next epoch done
	// LR is the learning rate of the last step, for the next train record.
	LR     float64 `json:"lr"`
	EpochS sums    `json:"epoch_sums"`
	Window sums    `json:"window_sums"`
}

// Trainer is a run: a task, its optimiser and the position reached.
type Trainer[B any] struct {
	Config Config
	Task   Task[B]
	Opt    optim.Optimizer
	// History holds every metrics record of the run, all sessions.
	History []Record
	pos     position
	ema     *ema
	params  []*autograd.Var
	lastRec map[string]Float
}

// New starts a run of t under cfg.
func New[B any](cfg Config, t Task[B]) (*Trainer[B], error) {
	cfg.Fill()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if t.Module == nil || t.Data == nil || t.Loss == nil || t.RNG == nil {
		return nil, fmt.Errorf("train: a task needs a module, a generator, data and a loss")
	}
	tr := &Trainer[B]{Config: cfg, Task: t, Opt: NewOptimizer(cfg, t.Module)}
	for _, p := range nn.Parameters(t.Module) {
		tr.params = append(tr.params, p.Var)
	}
	if cfg.EMA > 0 {
		tr.ema = newEMA(t.Module, cfg.EMA)
	}
	return tr, nil
}

// Epoch returns the number of epochs completed, Step the optimiser steps
// taken.
func (tr *Trainer[B]) Epoch() int { return tr.pos.Epoch }

// Step returns the number of optimiser steps taken.
func (tr *Trainer[B]) Step() int { return tr.pos.Step }

// Seconds returns the training time accumulated over all sessions.
func (tr *Trainer[B]) Seconds() float64 { return tr.pos.Seconds }

// Run trains the remaining epochs. Cancelling ctx stops it after the step
// in progress with a resumable checkpoint and ErrInterrupted; so does the
// time budget (Config.MaxMinutes), with a nil error and Result.Stopped
// "max-minutes". A non-finite loss stops it with a *NonFiniteError before
// the step is applied, keeping the last checkpoint. A new run that fails
// before its first checkpoint removes the run files it wrote, so that its
// folder holds nothing half-written.
func (tr *Trainer[B]) Run(ctx context.Context, opt Options) (Result, error) {
	fresh := tr.pos.Step == 0
	res, err := tr.run(ctx, opt)
	if err != nil && fresh && res.Checkpoint == "" && opt.Out != "" && (opt.Sync == nil || opt.Sync.Rank() == 0) {
		for _, name := range runFiles {
			os.Remove(filepath.Join(opt.Out, name))
		}
		os.Remove(opt.Out) // only if nothing else is in it
	}
	return res, err
}

func (tr *Trainer[B]) run(ctx context.Context, opt Options) (Result, error) {
	start := time.Now()
	res := Result{}
	if opt.Sync != nil && opt.Sync.Rank() != 0 {
		opt.Out, opt.Progress = "", nil
	}
	if tr.pos.Epoch >= tr.Config.Epochs {
		return res, fmt.Errorf("run already has %d of %d epochs: nothing to do (raise epochs)", tr.pos.Epoch, tr.Config.Epochs)
	}
	if opt.Out != "" {
		if err := os.MkdirAll(opt.Out, 0o755); err != nil {
			return res, fmt.Errorf("create run folder: %w", err)
		}
		if tr.Task.Config != nil {
			b, err := EncodeConfig(tr.Task.Config)
			if err != nil {
				return res, err
			}
			if err := atomicfile.WriteFile(filepath.Join(opt.Out, ConfigName), b); err != nil {
				return res, err
			}
		}
		// A resumed run's checkpoint in Out is its last good state; a fresh
		// run has none until its first save.
		if _, err := os.Stat(filepath.Join(opt.Out, CheckpointName)); err == nil && tr.pos.Step > 0 {
			res.Checkpoint = filepath.Join(opt.Out, CheckpointName)
		}
	}
	budget := time.Duration(tr.Config.MaxMinutes * float64(time.Minute))
	if tr.Config.MaxMinutes > 0 {
		budget = max(budget, 1) // a budget too small to count still ends the session
	}
	local := func() string {
		switch {
		case ctx.Err() != nil:
			return "interrupt"
		case budget > 0 && time.Since(start) >= budget:
			return "max-minutes"
		}
		return ""
	}
	// In a data-parallel run the processes agree after every step: one
	// that stopped alone would leave the others waiting in the next
	// step's reduction, so all stop when any does.
	stopReason := func() (string, error) {
		reason := local()
		if opt.Sync == nil {
			return reason, nil
		}
		v := []float64{0, 0}
		switch reason {
		case "interrupt":
			v[0] = 1
		case "max-minutes":
			v[1] = 1
		}
		if err := opt.Sync.Average(v); err != nil {
			return "", fmt.Errorf("agree on stopping: %w", err)
		}
		switch {
		case v[0] > 0:
			return "interrupt", nil
		case v[1] > 0:
			return "max-minutes", nil
		}
		return "", nil
	}
	finish := func(reason string) (Result, error) {
		res.Epoch, res.Step, res.Seconds = tr.pos.Epoch, tr.pos.Step, tr.pos.Seconds
		res.Metrics = tr.lastRec
		res.Stopped = reason
		if reason == "interrupt" {
			return res, ErrInterrupted
		}
		return res, nil
	}
	for tr.pos.Epoch < tr.Config.Epochs {
		reason, err := tr.epoch(ctx, opt, &res, stopReason)
		if err != nil {
			res.Epoch, res.Step, res.Seconds = tr.pos.Epoch, tr.pos.Step, tr.pos.Seconds
			res.Metrics = tr.lastRec
			var nf *NonFiniteError
			if errors.As(err, &nf) {
				res.Stopped = "non-finite"
			}
			return res, err
		}
		if opt.Out != "" {
			res.Checkpoint = filepath.Join(opt.Out, CheckpointName)
		}
		if reason != "" {
			return finish(reason)
		}
	}
	return finish("")
}

// epoch trains the rest of the current epoch and, when it completes,
// evaluates and checkpoints it. It returns a stop reason when the session
// must end, after saving a resumable checkpoint.
func (tr *Trainer[B]) epoch(ctx context.Context, opt Options, res *Result, stop func() (string, error)) (string, error) {
	cfg, t := tr.Config, tr.Task
	e := tr.pos.Epoch
	// The loader gets its own context: a signal must let the step in
	// progress finish, not cancel its data.
	lctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	it, err := t.Data.EpochFrom(lctx, e, tr.pos.Batch)
	if err != nil {
		return "", fmt.Errorf("epoch %d: %w", e+1, err)
	}
	defer it.Close()
	nb := tr.pos.Batch + it.Len()
	k := cfg.Accumulate
	sched := NewSchedule(cfg, (nb+k-1)/k)
	total := nb
	if t.Count != nil && t.EpochSize > 0 {
		total = t.EpochSize
	}
	nn.Train(t.Module, true)
	if opt.Progress != nil {
		opt.Progress.Start(e+1, cfg.Epochs, tr.pos.Samples, total)
	}
	t0 := time.Now()
	endProgress := func() {
		if opt.Progress != nil {
			opt.Progress.Finish()
		}
	}
	for tr.pos.Batch < nb {
		size := min(k, nb-tr.pos.Batch)
		info, err := tr.step(it, sched, size, opt.Sync)
		res.SessionSeconds += time.Since(t0).Seconds()
		tr.pos.Seconds += time.Since(t0).Seconds()
		t0 = time.Now()
		if err != nil {
			endProgress()
			tr.failed(opt, res, err)
			return "", err
		}
		res.Samples += info.samples
		res.TrainLoss, res.Terms = tr.pos.EpochS.mean()
		if opt.OnStep != nil {
			opt.OnStep(info.StepInfo)
		}
		if opt.Progress != nil {
			opt.Progress.Update(tr.pos.Samples, float64(res.TrainLoss))
		}
		reason, err := stop()
		if err != nil {
			endProgress()
			return "", err
		}
		if reason != "" {
			endProgress()
			if err := tr.checkWeights(); err != nil {
				return "", err
			}
			return reason, tr.save(opt.Out)
		}
	}
	endProgress()
	tr.flushWindow()
	tr.pos.Epoch++
	tr.pos.Batch, tr.pos.Samples = 0, 0
	loss, terms := tr.pos.EpochS.mean()
	tr.pos.EpochS = sums{}
	res.TrainLoss, res.Terms = loss, terms
	rec := Record{Kind: "eval", Epoch: tr.pos.Epoch, Step: tr.pos.Step, Loss: loss, Terms: terms, Seconds: Float(tr.pos.Seconds)}
	if err := tr.checkWeights(); err != nil {
		return "", err
	}
	if t.Eval != nil && (tr.pos.Epoch%cfg.EvalEvery == 0 || tr.pos.Epoch == cfg.Epochs) {
		m, err := tr.evaluate()
		if err != nil {
			return "", fmt.Errorf("epoch %d: evaluate: %w", tr.pos.Epoch, err)
		}
		rec.Metrics = m
		tr.lastRec = m
	}
	tr.History = append(tr.History, rec)
	if err := tr.save(opt.Out); err != nil {
		return "", err
	}
	if opt.OnEpoch != nil {
		opt.OnEpoch(rec)
	}
	return stop()
}

type stepResult struct {
	StepInfo
	samples int
}

// step takes one optimiser step over the next size batches, their
// gradients averaged, and over the processes of sync when not nil.
func (tr *Trainer[B]) step(it *loader.Iter[B], sched optim.Schedule, size int, sync Sync) (stepResult, error) {
	cfg, t := tr.Config, tr.Task
	optim.SetSchedule(tr.Opt, sched, tr.pos.Step)
	optim.ZeroGrad(tr.Opt)
	r := stepResult{StepInfo: StepInfo{Epoch: tr.pos.Epoch + 1, Step: tr.pos.Step + 1, LR: tr.Opt.Groups()[0].LR,
		Terms: map[string]float64{}, GradNorm: math.NaN()}}
	bad := func(term string, v float64) error {
		return &NonFiniteError{Step: tr.pos.Step + 1, Epoch: tr.pos.Epoch + 1, Term: term, Value: v}
	}
	// The seed of each backward pass is 1/size, so the accumulated gradient
	// is the mean of the batches' gradients: for a loss that is a mean over
	// equal batches, the gradient of one batch size times larger.
	for i := range size {
		b, err := it.Next()
		if err != nil {
			return r, fmt.Errorf("epoch %d, batch %d: %w", tr.pos.Epoch+1, tr.pos.Batch+1, err)
		}
		terms, err := t.Loss(b.Data)
		if err != nil {
			return r, fmt.Errorf("epoch %d, batch %d: loss: %w", tr.pos.Epoch+1, tr.pos.Batch+1, err)
		}
		if len(terms) == 0 {
			return r, fmt.Errorf("epoch %d, batch %d: the loss has no terms", tr.pos.Epoch+1, tr.pos.Batch+1)
		}
		var total *autograd.Var
		for _, term := range terms {
			if term.Loss.Value().Len() != 1 {
				return r, fmt.Errorf("loss term %s has shape %v, want a scalar", term.Name, term.Loss.Shape())
			}
			v := float64(term.Loss.Value().Item())
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return r, bad(term.Name, v)
			}
			if total == nil {
				total = term.Loss
			} else {
				total = autograd.Add(total, term.Loss)
			}
		}
		tv := float64(total.Value().Item())
		if math.IsNaN(tv) || math.IsInf(tv, 0) {
			return r, bad("total", tv)
		}
		var opts []autograd.BackwardOption
		if size > 1 {
			// Shaped as the total, which may be (1) rather than ().
			seed := tensor.Zeros(total.Shape()...)
			seed.Data()[0] = 1 / float32(size)
			opts = append(opts, autograd.WithGrad(seed))
		}
		if sync != nil && i == size-1 {
			opts = append(opts, autograd.OnLeafGrad(sync.Ready))
		}
		total.Backward(opts...)
		for _, term := range terms {
			r.Terms[term.Name] += float64(term.Loss.Value().Item()) / float64(size)
		}
		r.Loss += tv / float64(size)
		tr.pos.Batch++
		if t.Count != nil {
			n := t.Count(b.Data)
			r.samples += n
			tr.pos.Samples += n
		} else {
			r.samples++
			tr.pos.Samples++
		}
	}
	if sync != nil {
		if err := tr.synchronise(sync, &r); err != nil {
			return r, fmt.Errorf("step %d: %w", tr.pos.Step+1, err)
		}
	}
	if cfg.ClipNorm > 0 {
		r.GradNorm = optim.ClipGradNorm(tr.params, cfg.ClipNorm)
		if math.IsNaN(r.GradNorm) || math.IsInf(r.GradNorm, 0) {
			return r, bad("gradient norm", r.GradNorm)
		}
	}
	tr.Opt.Step()
	tr.pos.Step++
	if tr.ema != nil {
		tr.ema.update(tr.Task.Module)
	}
	r.Batch = tr.pos.Batch
	tr.pos.EpochS.add(r.Loss, r.Terms)
	tr.pos.Window.add(r.Loss, r.Terms)
	tr.pos.LR = r.LR
	if tr.pos.Step%cfg.LogEvery == 0 {
		tr.flushWindow()
	}
	return r, nil
}

// synchronise waits for the mean gradients of a data-parallel step and
// replaces r's losses with their means over the processes.
func (tr *Trainer[B]) synchronise(sync Sync, r *stepResult) error {
	if err := sync.Wait(); err != nil {
		return fmt.Errorf("synchronise gradients: %w", err)
	}
	names := slices.Sorted(maps.Keys(r.Terms))
	v := []float64{r.Loss}
	for _, name := range names {
		v = append(v, r.Terms[name])
	}
	if err := sync.Average(v); err != nil {
		return fmt.Errorf("synchronise losses: %w", err)
	}
	r.Loss = v[0]
	for i, name := range names {
		r.Terms[name] = v[i+1]
	}
	return nil
}

// flushWindow records the mean of the steps since the last train record.
func (tr *Trainer[B]) flushWindow() {
	if tr.pos.Window.Steps == 0 {
		return
	}
	loss, terms := tr.pos.Window.mean()
	tr.History = append(tr.History, Record{Kind: "train", Epoch: tr.pos.Epoch + 1, Step: tr.pos.Step, LR: Float(tr.pos.LR), Loss: loss, Terms: terms})
	tr.pos.Window = sums{}
}

// failed records a non-finite step in the metrics (not in the checkpoint,
// which keeps the last good state) so that the divergence can be seen.
func (tr *Trainer[B]) failed(opt Options, res *Result, err error) {
	var nf *NonFiniteError
	if !errors.As(err, &nf) {
		return
	}
	res.TrainLoss = Float(math.NaN())
	if nf.Term != "weights" && nf.Term != "gradient norm" {
		res.Terms = map[string]Float{nf.Term: Float(nf.Value)}
	}
	if opt.Out == "" {
		return
	}
	hist := append(tr.History[:len(tr.History):len(tr.History)], Record{Kind: "train", Epoch: nf.Epoch, Step: nf.Step,
		Loss: Float(math.NaN()), Terms: res.Terms})
	// The metrics are a report; the error that stopped the run matters
	// more than one that writing them might add.
	_ = WriteMetrics(filepath.Join(opt.Out, MetricsName), hist)
	_ = Plot(filepath.Join(opt.Out, PlotName), hist)
}

// checkWeights refuses to checkpoint weights that an update made
// non-finite.
func (tr *Trainer[B]) checkWeights() error {
	for _, p := range tr.params {
		for _, v := range p.Value().Data() {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return &NonFiniteError{Step: tr.pos.Step, Epoch: tr.pos.Epoch + 1, Term: "weights", Value: float64(v)}
			}
		}
	}
	return nil
}

// evaluate runs the task's evaluation in evaluation mode without
// gradients, on the moving average of the weights when there is one.
func (tr *Trainer[B]) evaluate() (map[string]Float, error) {
	m := tr.Task.Module
	if tr.ema != nil {
		restore := tr.ema.swapIn(m)
		defer restore()
	}
	nn.Train(m, false)
	defer nn.Train(m, true)
	var out map[string]float64
	var err error
	nn.NoGrad(m, func() { out, err = tr.Task.Eval() })
	if err != nil {
		return nil, err
	}
	res := make(map[string]Float, len(out))
	for k, v := range out {
		res[k] = Float(v)
	}
	return res, nil
}

// save writes the checkpoint, metrics and plot into out.
func (tr *Trainer[B]) save(out string) error {
	if out == "" {
		return nil
	}
	if err := tr.Save(filepath.Join(out, CheckpointName)); err != nil {
		return err
	}
	if err := WriteMetrics(filepath.Join(out, MetricsName), tr.History); err != nil {
		return err
	}
	return Plot(filepath.Join(out, PlotName), tr.History)
}
