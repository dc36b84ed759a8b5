package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"argus/checkpoint"
	"argus/tasks/classify"
	"argus/train"
)

// exitInterrupted is the exit status of a training run stopped by SIGINT
// or SIGTERM after saving its checkpoint, as a shell reports a process
// ended by SIGINT.
const exitInterrupted = 130

// exitCode returns the exit status for an error that reached main.
func exitCode(err error) int {
	if errors.Is(err, train.ErrInterrupted) {
		return exitInterrupted
	}
	return 1
}

// trainFlags are the flags every `argus train <task>` command has besides
// its config's.
type trainFlags struct {
	out, resume, config      string
	json, printConfig, force bool
}

func (t *trainFlags) add(f *pflag.FlagSet, defaultOut string) {
	f.StringVar(&t.out, "out", defaultOut, "run folder: checkpoint, config.yaml, metrics.jsonl and metrics.png")
	f.StringVar(&t.resume, "resume", "", "continue the run saved in this checkpoint exactly; only epochs, max-minutes, eval-every, log-every, eval-batch and workers may change")
	f.StringVar(&t.config, "config", "", "YAML file of settings (see --print-config); flags override it")
	f.BoolVar(&t.printConfig, "print-config", false, "print the resolved settings as YAML (the defaults, without --config and flags) and exit")
	f.BoolVar(&t.force, "force", false, "replace the run already in --out (without it such a run is refused: continue it with --resume)")
	f.BoolVar(&t.json, "json", false, "print one JSON object with the results")
}

// prepareOut checks, before any data is read or step taken, that out can
// hold the run: see train.PrepareOut. The run's config.yaml must not be the
// --config file it reads.
func (t *trainFlags) prepareOut(out string) error {
	if err := notAnInput("out", filepath.Join(out, train.ConfigName), t.config); err != nil {
		return err
	}
	err := train.PrepareOut(out, t.resume, t.force)
	var re *train.RunExistsError
	if errors.As(err, &re) {
		if re.File == train.CheckpointName {
			return fmt.Errorf("--out %s holds a run already: continue it with --resume %s, or replace it with --force",
				out, filepath.Join(out, train.CheckpointName))
		}
		return fmt.Errorf("--out %s holds another run's %s: choose another --out, or replace it with --force", out, re.File)
	}
	return err
}

// resolveConfig sets *cfg to a run's settings: base (a task's defaults, or
// the config stored in the checkpoint when resuming), then the --config
// file over it, then the flags given on the command line over both. The
// config's flags are bound to cfg's fields, so they are re-applied after
// the file is read.
func resolveConfig[C any](flags *pflag.FlagSet, cfg *C, base C, file string) error {
	given := map[string]string{}
	// VisitAll and Changed, not Visit: Visit also walks flags that an
	// earlier Execute of the same command set.
	flags.VisitAll(func(f *pflag.Flag) {
		if f.Changed {
			given[f.Name] = f.Value.String()
		}
	})
	*cfg = base
	if file != "" {
		if err := train.ReadConfig(file, cfg); err != nil {
			return err
		}
	}
	for name, v := range given {
		if err := flags.Lookup(name).Value.Set(v); err != nil {
			return fmt.Errorf("--%s: %w", name, err)
		}
	}
	return nil
}

// resolve settles a training command's settings and run folder: base (the
// task's defaults) or, with --resume, the config stored in that checkpoint,
// then --config and the flags given (see resolveConfig). It returns the run
// folder (the resumed checkpoint's own unless --out is given) and the
// checkpoint to resume, nil for a new run.
func resolve[C any](t *trainFlags, flags *pflag.FlagSet, cfg *C, base C) (out string, f *checkpoint.File, err error) {
	out = t.out
	if t.resume != "" {
		if f, err = checkpoint.ReadFile(t.resume); err != nil {
			return "", nil, err
		}
		if err := train.StoredConfig(f, &base); err != nil {
			return "", nil, fmt.Errorf("resume %s: %w", t.resume, err)
		}
		if !flags.Changed("out") {
			out = filepath.Dir(t.resume)
		}
	}
	if err := resolveConfig(flags, cfg, base, t.config); err != nil {
		return "", nil, err
	}
	return out, f, nil
}

// storedConfig reads the checkpoint of a run to resume and the config it
// stores.
func storedConfig[C any](path, model string, cfg *C) (*checkpoint.File, error) {
	f, err := checkpoint.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if err := train.CheckModel(f, model); err != nil {
		return nil, fmt.Errorf("resume %s: %w", path, err)
	}
	if err := train.StoredConfig(f, cfg); err != nil {
		return nil, fmt.Errorf("resume %s: %w", path, err)
	}
	return f, nil
}

// printConfig writes cfg as YAML to the command's stdout.
func printConfig(cmd *cobra.Command, cfg any) error {
	b, err := train.EncodeConfig(cfg)
	if err != nil {
		return err
	}
	_, err = cmd.OutOrStdout().Write(b)
	return err
}

// signalContext returns the context of a training command: the command's
// own (or a background one) cancelled by SIGINT or SIGTERM, so that the
// loop finishes its step and saves a resumable checkpoint.
func signalContext(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	parent := cmd.Context()
	if parent == nil {
		parent = context.Background()
	}
	return train.SignalContext(parent)
}

// trainError turns the error that ended a training session into the
// command's error line, naming the checkpoint to resume from.
func trainError(res train.Result, err error) error {
	var nf *train.NonFiniteError
	switch {
	case errors.Is(err, train.ErrInterrupted):
		return fmt.Errorf("%w after step %d; continue with --resume %s", err, res.Step, res.Checkpoint)
	case errors.As(err, &nf) && res.Checkpoint != "":
		return fmt.Errorf("%w; the last good checkpoint %s is kept", err, res.Checkpoint)
	case errors.As(err, &nf):
		return fmt.Errorf("%w; no checkpoint was written", err)
	}
	return err
}

// epochOptions returns a training session's options: the run folder out, a
// progress bar of images on stderr and a line per epoch there, "epoch e/E:
// train loss L" followed by what evaluated says of the epoch's metrics once
// the epoch has any.
func epochOptions(stderr io.Writer, out string, epochs int, evaluated func(m map[string]train.Float) string) train.Options {
	return train.Options{
		Out:      out,
		Progress: train.NewBar(stderr, "img"),
		OnEpoch: func(rec train.Record) {
			line := fmt.Sprintf("epoch %d/%d: train loss %.4f", rec.Epoch, epochs, rec.Loss)
			if rec.Metrics != nil {
				line += evaluated(rec.Metrics)
			}
			fmt.Fprintln(stderr, line)
		},
	}
}

// orNaN returns a look-up of a session's final metrics that gives NaN
// (null in the JSON report) for a metric the session never computed, as in
// a run stopped before its first evaluation.
func orNaN(m map[string]train.Float) func(name string) train.Float {
	return func(name string) train.Float {
		if v, ok := m[name]; ok {
			return v
		}
		return train.Float(math.NaN())
	}
}

// reportTrain ends a training command. With --json it prints rep whenever
// the session trained, however it ended, so that the output is never lost;
// otherwise summary writes the human lines of a session that ended well.
// Then it returns the session's error line, or notes on stderr why the
// session stopped early.
func reportTrain(cmd *cobra.Command, res train.Result, err error, asJSON bool, rep any, summary func(w io.Writer)) error {
	if asJSON && (err == nil || res.Stopped != "") {
		if perr := printJSON(cmd, rep); perr != nil && err == nil {
			return perr
		}
	} else if err == nil {
		summary(cmd.OutOrStdout())
	}
	if err != nil {
		return trainError(res, err)
	}
	if res.Stopped == "max-minutes" {
		fmt.Fprintf(cmd.ErrOrStderr(), "stopped by --max-minutes after step %d; continue with --resume %s\n", res.Step, res.Checkpoint)
	}
	return nil
}

// addClassifyFlags binds the flags of the settings every classification
// run has (the loop's and classify.Config's) to c.
func addClassifyFlags(f *pflag.FlagSet, c *classify.Config) {
	intFlag(f, &c.Epochs, "epochs", c.Epochs, 1, classify.MaxEpochs, "number of epochs")
	intFlag(f, &c.Batch, "batch", c.Batch, 1, classify.MaxBatch, "training batch size")
	intFlag(f, &c.EvalBatch, "eval-batch", c.EvalBatch, 1, classify.MaxBatch, "evaluation batch size")
	positiveFloatFlag(f, &c.LR, "lr", c.LR, "peak learning rate")
	f.StringVar(&c.Optimizer, "optimizer", c.Optimizer, "adamw, adam, sgd or adadelta")
	fractionFlag(f, &c.Momentum, "momentum", c.Momentum, "momentum of sgd")
	floatFlag(f, &c.WeightDecay, "weight-decay", c.WeightDecay, 0, math.Inf(1), "weight decay")
	f.StringVar(&c.Schedule, "schedule", c.Schedule, "learning-rate schedule: cosine, step or constant")
	positiveFloatFlag(f, &c.Gamma, "gamma", c.Gamma, "factor per epoch of the step schedule")
	intFlag(f, &c.Warmup, "warmup", c.Warmup, 0, noLimit, "linear warm-up steps")
	fractionFlag(f, &c.LabelSmoothing, "label-smoothing", c.LabelSmoothing, "label smoothing of the training loss")
	intFlag(f, &c.Accumulate, "accumulate", c.Accumulate, 1, classify.MaxBatch, "batches whose gradients are averaged into one step")
	floatFlag(f, &c.ClipNorm, "clip-norm", c.ClipNorm, 0, math.Inf(1), "clip the gradients' global L2 norm to this (0: off)")
	fractionFlag(f, &c.EMA, "ema", c.EMA, "decay of a moving average of the weights, used for evaluation (0: off)")
	intFlag(f, &c.EvalEvery, "eval-every", c.EvalEvery, 1, noLimit, "epochs between evaluations (the last epoch is always evaluated)")
	intFlag(f, &c.LogEvery, "log-every", c.LogEvery, 1, noLimit, "steps between training-loss records in metrics.jsonl")
	floatFlag(f, &c.MaxMinutes, "max-minutes", c.MaxMinutes, 0, math.Inf(1), "stop this session after so many minutes with a resumable checkpoint (0: no limit)")
	f.Uint64Var(&c.Seed, "seed", c.Seed, "random seed for initialisation, shuffling and dropout")
	intFlag(f, &c.Limit, "limit", c.Limit, 0, noLimit, "use only N training and N test images (0: all; image folders take them spread over the classes)")
	intFlag(f, &c.Workers, "workers", c.Workers, 0, classify.MaxWorkers, "goroutines building batches (0: one per CPU)")
}
