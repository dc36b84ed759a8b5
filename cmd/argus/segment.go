package main

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"argus/checkpoint"
	"argus/models"
	"argus/tasks/segment"
	"argus/tensor"
	"argus/train"
)

// namesValue is a flag of names, "cityscapes,camvid". Setting it replaces
// the list, and its String reads back through Set, as resolveConfig needs.
type namesValue struct{ p *[]string }

func (v namesValue) String() string {
	if v.p == nil {
		return ""
	}
	return strings.Join(*v.p, ",")
}

func (v namesValue) Set(s string) error {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	*v.p = out
	return nil
}

func (v namesValue) Type() string { return "names" }

// segmentScore is one dataset's result.
type segmentScore struct {
	MIoU train.Float `json:"mIoU"`
	AAcc train.Float `json:"aAcc"`
	MAcc train.Float `json:"mAcc"`
}

// segmentTrainReport is the JSON printed by `argus train segment --json`.
// Non-finite numbers print as null.
type segmentTrainReport struct {
	Task       string                  `json:"task"`
	Model      string                  `json:"model"`
	Method     string                  `json:"method"`
	Alt        int                     `json:"alt"`
	Datasets   map[string]segmentScore `json:"datasets"`
	Iters      int                     `json:"iters"`
	Batch      int                     `json:"batch"`
	Crop       int                     `json:"crop"`
	TrainLoss  train.Float             `json:"train_loss"`
	Seconds    train.Float             `json:"seconds"`
	Seed       uint64                  `json:"seed"`
	Checkpoint string                  `json:"checkpoint"`
	Metrics    string                  `json:"metrics"`
	Config     string                  `json:"config"`
	Stopped    string                  `json:"stopped,omitempty"`
}

func newTrainSegmentCmd() *cobra.Command {
	cfg := segment.CDCL()
	var tf trainFlags
	var dataDir string
	cmd := &cobra.Command{
		Use:   "segment --data DIR --datasets cityscapes,camvid --model pspnet-r18",
		Short: "Train a segmentation network on one or several datasets (PSPNet; joint or CDCL training)",
		Long: `Trains PSPNet-D8 (pspnet-r18 or pspnet-r50, mmsegmentation's networks and
parameter names) on the datasets named by --datasets, folders under DIR in
the Cityscapes layout (leftImg8bit/ and gtFine/ labelIds, mapped to the 19
train ids or by DIR/NAME/mapping.txt) or SegNet's CamVid layout (train/,
trainannot/, val/, valannot/), as argus data synth segmentation writes them.

--method single trains one dataset. joint trains several with shared batch
norms and one classifier per label set; cdcl makes every Conv-BN a
Dataset-Aware Block (a shared convolution, one batch norm per dataset) and
trains with Dataset Alternation Training: every iteration forwards a batch
of each dataset (--alt batches of the first) through its own batch norms
and classifier, sums the losses and takes one step. The loss of each
dataset is mmsegmentation's cross-entropy of the decode head plus 0.4 times
the auxiliary head's (255 ignored).

Training crops follow mmsegmentation's pipeline: a resize by a ratio from
0.5 to 2 of the image's own size, a --crop square with the category max
ratio 0.75, a flip and photometric distortion; SGD with the poly schedule.
After the last iteration every dataset's val split is evaluated (mIoU,
aAcc, mAcc), whole images or sliding windows (--inference slide).

Settings come from the defaults (see --print-config), then --config FILE,
then the flags given. --resume continues a run from its checkpoint exactly.
SIGINT or SIGTERM stops after the current step with a resumable checkpoint
(exit status 130); so does --max-minutes (exit status 0).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			flags := cmd.Flags()
			out, f, err := resolve(&tf, flags, &cfg, segment.CDCL())
			if err != nil {
				return err
			}
			if dataDir != "" {
				abs, err := filepath.Abs(dataDir)
				if err != nil {
					return fmt.Errorf("--data: %w", err)
				}
				cfg.Data = abs
			}
			if tf.printConfig {
				return printConfig(cmd, cfg)
			}
			if cfg.Data == "" {
				return fmt.Errorf("--data is required")
			}
			check := cfg
			check.Fill()
			if err := check.Validate(); err != nil {
				return err
			}
			d, err := segment.OpenData(cfg)
			if err != nil {
				return err
			}
			if err := d.CheckLabels(); err != nil {
				return err
			}
			tr, err := segment.NewTrainer(cfg, d)
			if err != nil {
				return err
			}
			if err := tf.prepareOut(out); err != nil {
				return err
			}
			if f != nil {
				if err := tr.Restore(f); err != nil {
					return fmt.Errorf("resume %s: %w", tf.resume, err)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "resuming %s at step %d of %d\n", tf.resume, tr.Step(), cfg.Iters)
			}
			return runSegment(cmd, tr, out, tf.json, cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&dataDir, "data", "", "folder holding the datasets, one folder each (Cityscapes or CamVid layout)")
	f.Var(namesValue{&cfg.Datasets}, "datasets", "datasets to train on, folders under --data, e.g. cityscapes,camvid")
	f.StringVar(&cfg.Model, "model", cfg.Model, "network: pspnet-r18 or pspnet-r50")
	f.StringVar(&cfg.Method, "method", cfg.Method, "single (one dataset), joint (shared batch norms) or cdcl (dataset-aware batch norms, alternation training)")
	intFlag(f, &cfg.Alt, "alt", cfg.Alt, 1, segment.MaxAlt, "batches of the first dataset per batch of each other in an iteration")
	intFlag(f, &cfg.Iters, "iters", cfg.Iters, 1, segment.MaxIters, "training iterations (one optimiser step each)")
	intFlag(f, &cfg.Batch, "batch", cfg.Batch, 2, segment.MaxBatch, "crops of each dataset per iteration")
	intFlag(f, &cfg.Crop, "crop", cfg.Crop, 16, segment.MaxCrop, "side of the square training crops (and of the sliding windows)")
	positiveFloatFlag(f, &cfg.LR, "lr", cfg.LR, "base learning rate")
	floatFlag(f, &cfg.WeightDecay, "weight-decay", cfg.WeightDecay, 0, math.Inf(1), "weight decay")
	f.StringVar(&cfg.Inference, "inference", cfg.Inference, "evaluation: whole or slide")
	intFlag(f, &cfg.EvalScale, "eval-scale", cfg.EvalScale, 0, segment.MaxCrop, "evaluate with images resized so that their longer side is this (0: their own size)")
	floatFlag(f, &cfg.MaxMinutes, "max-minutes", cfg.MaxMinutes, 0, math.Inf(1), "stop this session after so many minutes with a resumable checkpoint (0: no limit)")
	intFlag(f, &cfg.LogEvery, "log-every", cfg.LogEvery, 1, noLimit, "steps between training-loss records in metrics.jsonl")
	f.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed for initialisation, sampling, augmentation and dropout")
	intFlag(f, &cfg.Limit, "limit", cfg.Limit, 0, noLimit, "use only the first N images of each split (0: all)")
	intFlag(f, &cfg.Workers, "workers", cfg.Workers, 0, 1024, "goroutines building batches (0: one per CPU)")
	tf.add(f, "runs/segment")
	return cmd
}

// runSegment trains tr to its last iteration, or until a signal, the time
// budget or the non-finite guard stops it, and reports the session.
func runSegment(cmd *cobra.Command, tr *segment.Trainer, out string, asJSON bool, cfg segment.Config) error {
	stderr := cmd.ErrOrStderr()
	ctx, stop := signalContext(cmd)
	defer stop()
	res, err := tr.Run(ctx, train.Options{Out: out, Progress: train.NewBar(stderr, "it")})
	rep := segmentTrainReport{Task: "segment", Model: cfg.Model, Method: cfg.Method, Alt: cfg.Alt, Datasets: map[string]segmentScore{},
		Iters: res.Step, Batch: cfg.Batch, Crop: cfg.Crop, TrainLoss: res.TrainLoss, Seconds: train.Float(res.Seconds), Seed: cfg.Seed,
		Checkpoint: res.Checkpoint, Metrics: filepath.Join(out, train.MetricsName), Config: filepath.Join(out, train.ConfigName), Stopped: res.Stopped}
	metric := orNaN(res.Metrics)
	for _, name := range cfg.Datasets {
		rep.Datasets[name] = segmentScore{MIoU: metric(name + ".mIoU"), AAcc: metric(name + ".aAcc"), MAcc: metric(name + ".mAcc")}
	}
	return reportTrain(cmd, res, err, asJSON, rep, func(w io.Writer) {
		for _, name := range cfg.Datasets {
			s := rep.Datasets[name]
			fmt.Fprintf(w, "%s: mIoU %.2f%%, aAcc %.2f%%, mAcc %.2f%%\n", name, 100*s.MIoU, 100*s.AAcc, 100*s.MAcc)
		}
		fmt.Fprintf(w, "%d iterations (%.0f s); checkpoint %s\n", rep.Iters, rep.Seconds, rep.Checkpoint)
	})
}

// loadSegmenter reads a checkpoint of argus train segment: the network
// with its weights and its label sets.
func loadSegmenter(path string) (*models.PSPNet, segment.Labels, error) {
	f, err := checkpoint.ReadFile(path)
	if err != nil {
		return nil, segment.Labels{}, err
	}
	l, err := segment.ParseLabels(f.Metadata)
	if err != nil {
		return nil, l, fmt.Errorf("%s: %w", path, err)
	}
	m, err := segment.NewModel(tensor.NewRNG(0), l)
	if err != nil {
		return nil, l, fmt.Errorf("%s: %w", path, err)
	}
	if err := checkpoint.LoadModel(f, m); err != nil {
		return nil, l, fmt.Errorf("%s: %w", path, err)
	}
	return m, l, nil
}
