package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"argus/checkpoint"
	"argus/data/dataset"
	"argus/models"
	"argus/tasks/classify"
	"argus/tasks/finegrained"
	"argus/tensor"
	"argus/train"
)

// finegrainedTrainReport is the JSON printed by `argus train finegrained
// --json`. Non-finite numbers (a diverged run, one stopped before its
// first evaluation, top1_glca without GLCA) print as null.
type finegrainedTrainReport struct {
	Task            string                  `json:"task"`
	Model           string                  `json:"model"`
	DCAL            string                  `json:"dcal"`
	GLCARatio       float64                 `json:"glca_ratio"`
	Classes         int                     `json:"classes"`
	TrainImages     int                     `json:"train_images"`
	ValImages       int                     `json:"val_images"`
	Size            int                     `json:"size"`
	Epochs          int                     `json:"epochs"`
	Steps           int                     `json:"steps"`
	Top1            train.Float             `json:"top1"`
	Top5            train.Float             `json:"top5"`
	Top1SA          train.Float             `json:"top1_sa"`
	Top1GLCA        train.Float             `json:"top1_glca"`
	ValLoss         train.Float             `json:"val_loss"`
	TrainLoss       train.Float             `json:"train_loss"`
	Terms           map[string]train.Float  `json:"terms"`
	Seconds         train.Float             `json:"seconds"`
	ImagesPerSecond train.Float             `json:"images_per_second"`
	Init            *finegrained.InitReport `json:"init,omitempty"`
	SkippedImages   int                     `json:"skipped_images"`
	Seed            uint64                  `json:"seed"`
	Checkpoint      string                  `json:"checkpoint"`
	Metrics         string                  `json:"metrics"`
	Plot            string                  `json:"plot"`
	Config          string                  `json:"config"`
	Stopped         string                  `json:"stopped,omitempty"`
}

func newTrainFinegrainedCmd() *cobra.Command {
	cfg := finegrained.Default()
	var tf trainFlags
	var dataDir string
	cmd := &cobra.Command{
		Use:   "finegrained --data DIR --model deit-tiny [--dcal glca,pwca]",
		Short: "Train a fine-grained ViT classifier with DCAL (global-local and pair-wise cross-attention)",
		Long: `Trains a ViT of the registry (deit-tiny, deit-small, vit-base) with Dual
Cross-Attention Learning on DIR: image folders (DIR/train/CLASS/,
DIR/val/CLASS/, as argus data synth finegrained writes) or the
CUB-200-2011 layout (images.txt, train_test_split.txt,
image_class_labels.txt, classes.txt and images/).

--dcal glca adds global-local cross-attention: one block of its own weights
after the self-attention blocks whose queries are the class token and the
--glca-ratio share of the patches of highest attention rollout, with its
own classifier. --dcal pwca adds pair-wise cross-attention in training only:
each block's queries also attend over the keys and values of a partner
image of the batch. The branches' losses are summed with learnable
uncertainty weights. Evaluation (top1, top5) adds the SA and GLCA class
probabilities; top1_sa and top1_glca score each branch alone.

--init W.safetensors starts the ViT from a state dict in timm's names (a
classifier of other classes is skipped, the position embedding resampled
to the --size grid, GLCA copied from the last block); missing, extra or
mis-shaped tensors are an error naming them unless --init-lenient (or
--init-strict=false), which loads what fits and lists the rest.

Settings come from the defaults (the paper's recipe, see --print-config),
then --config FILE, then the flags given. --resume continues a run exactly.
SIGINT or SIGTERM stops after the current step with a resumable checkpoint
(exit status 130); so does --max-minutes (exit status 0).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			flags := cmd.Flags()
			out, f, err := resolve(&tf, flags, &cfg, finegrained.Default())
			if err != nil {
				return err
			}
			if flags.Changed("data") || cfg.Data == "" {
				cfg.Data = dataDir
			}
			if cfg.Data != "" {
				abs, err := filepath.Abs(cfg.Data)
				if err != nil {
					return fmt.Errorf("--data: %w", err)
				}
				cfg.Data = abs
			}
			if tf.printConfig {
				return printConfig(cmd, cfg)
			}
			check := cfg
			check.Fill()
			if err := check.Validate(); err != nil {
				return err
			}
			if err := tf.prepareOut(out); err != nil {
				return err
			}
			trainSet, val, err := finegrained.ReadData(cfg.Data)
			if err != nil {
				return err
			}
			if f != nil {
				if err := checkClassNames(tf.resume, f, trainSet, cfg.Data); err != nil {
					return err
				}
				cfg.Init = "" // the checkpoint holds the weights
			}
			run, err := finegrained.NewTrainer(cfg, trainSet, val)
			if err != nil {
				return err
			}
			tr := run.Trainer
			if f != nil {
				if err := tr.Restore(f); err != nil {
					return fmt.Errorf("resume %s: %w", tf.resume, err)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "resuming %s at epoch %d of %d, step %d\n", tf.resume, tr.Epoch(), cfg.Epochs, tr.Step())
			}
			if run.Init != nil {
				reportInit(cmd, cfg.Init, run.Init)
			}
			rep := finegrainedTrainReport{Task: "finegrained", Model: cfg.Model, DCAL: run.Model.Options.String(), GLCARatio: cfg.GLCARatio,
				Classes: len(trainSet.Classes), TrainImages: min(len(trainSet.Items), limitOr(cfg.Limit, len(trainSet.Items))),
				ValImages: min(len(val.Items), limitOr(cfg.Limit, len(val.Items))), Size: cfg.Size, Init: run.Init, Seed: cfg.Seed}
			return runFinegrained(cmd, run, out, tf.json, rep)
		},
	}
	f := cmd.Flags()
	addClassifyFlags(f, &cfg.Config)
	f.StringVar(&cfg.Model, "model", cfg.Model, "ViT: deit-tiny, deit-small or vit-base")
	f.StringVar(&cfg.DCAL, "dcal", cfg.DCAL, "DCAL branches: none, glca, pwca or glca,pwca")
	floatRangeFlag(f, &floatRange{p: &cfg.GLCARatio, min: 0, max: 1, minOpen: true}, "glca-ratio", cfg.GLCARatio, "share of the patch tokens whose queries GLCA keeps")
	fractionFlag(f, &cfg.DropPath, "drop-path", cfg.DropPath, "stochastic-depth rate of the last block")
	intFlag(f, &cfg.Size, "size", cfg.Size, 16, 4096, "side of the training and evaluation crops, a multiple of the patch")
	floatRangeFlag(f, &floatRange{p: &cfg.CropFraction, min: 0, max: 1, minOpen: true}, "crop-fraction", cfg.CropFraction, "crop's share of the resized image's shorter side")
	fractionFlag(f, &cfg.Flip, "flip", cfg.Flip, "probability of a horizontal flip in training")
	f.StringVar(&cfg.Init, "init", "", "safetensors state dict (timm's names) the ViT starts from")
	initStrictFlags(f, &cfg.InitStrict)
	f.BoolVar(&cfg.SkipBad, "skip-bad", cfg.SkipBad, "drop images that fail to decode from their batch (counted in skipped_images) instead of stopping")
	f.StringVar(&dataDir, "data", "", "dataset root: train/CLASS/ and val/CLASS/ image folders, or CUB-200-2011")
	tf.add(f, "runs/finegrained")
	cmd.MarkFlagRequired("data")
	return cmd
}

// initStrictFlags binds --init-lenient (load what fits of --init, list
// the rest) and its inverse --init-strict, which is on by default and so
// kept out of the help (a default-true boolean could only be given as
// --init-strict=false), to strict.
func initStrictFlags(f *pflag.FlagSet, strict *bool) {
	f.Var((*invertedBool)(strict), "init-lenient", "load what fits of --init and list the missing, extra and mis-shaped tensors (the same as --init-strict=false)")
	f.Lookup("init-lenient").NoOptDefVal = "true"
	f.BoolVar(strict, "init-strict", *strict, "refuse an --init file with missing, extra or mis-shaped tensors (the default)")
	f.MarkHidden("init-strict")
}

// reportInit tells stderr what an --init file left out.
func reportInit(cmd *cobra.Command, path string, r *finegrained.InitReport) {
	w := cmd.ErrOrStderr()
	fmt.Fprintf(w, "init %s: %d tensors loaded", path, r.Loaded)
	if len(r.Skipped) > 0 {
		fmt.Fprintf(w, "; skipped (classifier of other classes): %v", r.Skipped)
	}
	if r.GLCAFrom != "" {
		fmt.Fprintf(w, "; GLCA from %s", r.GLCAFrom)
	}
	fmt.Fprintln(w)
	for _, l := range []struct {
		what  string
		names []string
	}{{"missing", r.Missing}, {"unexpected", r.Unexpected}, {"wrong shape", r.Shapes}} {
		if len(l.names) > 0 {
			fmt.Fprintf(w, "init %s: not loaded, %s: %v\n", path, l.what, l.names)
		}
	}
}

// runFinegrained trains tr to the end of its epochs, or until a signal,
// the time budget or the non-finite guard stops it, and reports the
// session.
func runFinegrained(cmd *cobra.Command, run *finegrained.Run, out string, asJSON bool, rep finegrainedTrainReport) error {
	tr := run.Trainer
	stderr := cmd.ErrOrStderr()
	ctx, stop := signalContext(cmd)
	defer stop()
	epochs := tr.Config.Epochs
	res, err := tr.Run(ctx, epochOptions(stderr, out, epochs, func(m map[string]train.Float) string {
		line := fmt.Sprintf(", top-1 %.2f%% (SA %.2f%%", 100*m["top1"], 100*m["top1_sa"])
		if g, ok := m["top1_glca"]; ok {
			line += fmt.Sprintf(", GLCA %.2f%%", 100*g)
		}
		return line + fmt.Sprintf("), top-5 %.2f%%", 100*m["top5"])
	}))
	metric := orNaN(res.Metrics)
	rep.Epochs, rep.Steps = res.Epoch, res.Step
	rep.Top1, rep.Top5, rep.Top1SA, rep.Top1GLCA = metric("top1"), metric("top5"), metric("top1_sa"), metric("top1_glca")
	rep.ValLoss, rep.TrainLoss, rep.Terms = metric("val_loss"), res.TrainLoss, res.Terms
	rep.Seconds = train.Float(res.Seconds)
	rep.Checkpoint = res.Checkpoint
	rep.Metrics = filepath.Join(out, train.MetricsName)
	rep.Plot = filepath.Join(out, train.PlotName)
	rep.Config = filepath.Join(out, train.ConfigName)
	rep.Stopped = res.Stopped
	rep.SkippedImages = run.Skipped()
	if rep.SkippedImages > 0 {
		fmt.Fprintf(stderr, "skipped %d image reads that failed to decode (--skip-bad)\n", rep.SkippedImages)
	}
	if res.SessionSeconds > 0 {
		rep.ImagesPerSecond = train.Float(float64(res.Samples) / res.SessionSeconds)
	}
	return reportTrain(cmd, res, err, asJSON, rep, func(w io.Writer) {
		if res.Metrics == nil {
			fmt.Fprintf(w, "%d steps, %d epochs, not yet evaluated; checkpoint %s\n", rep.Steps, rep.Epochs, rep.Checkpoint)
			return
		}
		fmt.Fprintf(w, "top-1 %.2f%%, top-5 %.2f%% after %d epochs (%.0f s, %.1f images/s); checkpoint %s\n",
			100*rep.Top1, 100*rep.Top5, rep.Epochs, rep.Seconds, rep.ImagesPerSecond, rep.Checkpoint)
	})
}

// loadFinegrained reads a checkpoint of argus train finegrained and builds
// its model with the stored weights, in evaluation mode.
func loadFinegrained(path string) (*models.DCAL, finegrained.Config, *checkpoint.File, error) {
	f, err := checkpoint.ReadFile(path)
	if err != nil {
		return nil, finegrained.Default(), nil, err
	}
	return finegrainedModel(path, f)
}

// finegrainedModel builds the model of the checkpoint f (read from path)
// of argus train finegrained with its weights, and returns its config.
func finegrainedModel(path string, f *checkpoint.File) (*models.DCAL, finegrained.Config, *checkpoint.File, error) {
	cfg := finegrained.Default()
	if _, ok := f.Metadata[finegrained.MetaDCAL]; !ok {
		return nil, cfg, nil, fmt.Errorf("%s is not a checkpoint of argus train finegrained (no %q metadata)", path, finegrained.MetaDCAL)
	}
	if err := train.StoredConfig(f, &cfg); err != nil {
		return nil, cfg, nil, fmt.Errorf("%s: %w", path, err)
	}
	spec, err := models.FromMetadata(f.Metadata)
	if err != nil {
		return nil, cfg, nil, fmt.Errorf("%s: %w", path, err)
	}
	m, err := cfg.NewModel(tensor.NewRNG(0), spec.Classes)
	if err != nil {
		return nil, cfg, nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := checkpoint.LoadModel(f, m); err != nil {
		return nil, cfg, nil, fmt.Errorf("load %s: %w", path, err)
	}
	return m, cfg, f, nil
}

// finegrainedEvalReport is the JSON printed by `argus eval finegrained
// --json`.
type finegrainedEvalReport struct {
	Task       string      `json:"task"`
	Checkpoint string      `json:"checkpoint"`
	Data       string      `json:"data"`
	Model      string      `json:"model"`
	DCAL       string      `json:"dcal"`
	Images     int         `json:"images"`
	Classes    int         `json:"classes"`
	Size       int         `json:"size"`
	Top1       train.Float `json:"top1"`
	Top5       train.Float `json:"top5"`
	Top1SA     train.Float `json:"top1_sa"`
	Top1GLCA   train.Float `json:"top1_glca"`
	Loss       train.Float `json:"loss"`
	Epochs     int         `json:"epochs"`
	Seconds    float64     `json:"seconds"`
	// SkippedImages counts the images left out with --skip-bad.
	SkippedImages int `json:"skipped_images"`
}

func newEvalFinegrainedCmd() *cobra.Command {
	var ckpt, dataDir string
	var batch, limit, workers int
	var asJSON, skipBad bool
	cmd := &cobra.Command{
		Use:   "finegrained --checkpoint C --data DIR",
		Short: "Evaluate a fine-grained DCAL classifier (top-1, top-5, each branch's top-1)",
		Long: `Evaluates a checkpoint of argus train finegrained on the val split of DIR
(image folders or CUB-200-2011's test images) at its training size: the
shorter side resized to size/crop_fraction, the centre crop. top1 and top5
score the mean of the SA and GLCA class probabilities, top1_sa and
top1_glca each branch alone (null without GLCA). PWCA never runs at
inference.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, cfg, f, err := loadFinegrained(ckpt)
			if err != nil {
				return err
			}
			_, val, err := finegrained.ReadData(dataDir)
			if err != nil {
				return err
			}
			if err := checkClassNames(ckpt, f, val, dataDir); err != nil {
				return err
			}
			if limit > 0 && limit < len(val.Items) {
				items := make([]dataset.Item, limit)
				for i := range items {
					items[i] = val.Items[i*len(val.Items)/limit]
				}
				val.Items = items
			}
			val.Transform = cfg.EvalTransform()
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			start := time.Now()
			skipping := &finegrained.Skipping{Dataset: val}
			s, err := finegrained.Evaluate(ctx, m, skipping, batch, workers, skipBad)
			if err != nil {
				return err
			}
			rep := finegrainedEvalReport{Task: "finegrained", Checkpoint: ckpt, Data: dataDir, Model: cfg.Model, DCAL: m.Options.String(),
				Images: s.Images, Classes: len(val.Classes), Size: cfg.Size, Top1: train.Float(s.Top1), Top5: train.Float(s.Top5),
				Top1SA: train.Float(s.Top1SA), Top1GLCA: train.Float(s.Top1GLCA), Loss: train.Float(s.Loss),
				Epochs: epochsOf(f), Seconds: time.Since(start).Seconds(), SkippedImages: skipping.Count()}
			if asJSON {
				return printJSON(cmd, rep)
			}
			line := fmt.Sprintf("%s on %d images: top-1 %.2f%%, top-5 %.2f%% (SA %.2f%%", ckpt, rep.Images, 100*s.Top1, 100*s.Top5, 100*s.Top1SA)
			if !math.IsNaN(s.Top1GLCA) {
				line += fmt.Sprintf(", GLCA %.2f%%", 100*s.Top1GLCA)
			}
			fmt.Fprintln(cmd.OutOrStdout(), line+")")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&ckpt, "checkpoint", "", "checkpoint of argus train finegrained")
	f.StringVar(&dataDir, "data", "", "dataset root whose val split is evaluated (image folders or CUB-200-2011)")
	intFlag(f, &batch, "batch", 32, 1, classify.MaxBatch, "evaluation batch size")
	intFlag(f, &limit, "limit", 0, 0, noLimit, "use only N val images spread over the classes (0: all)")
	intFlag(f, &workers, "workers", 0, 0, classify.MaxWorkers, "goroutines decoding images (0: one per CPU)")
	f.BoolVar(&skipBad, "skip-bad", false, "leave out images that fail to decode (counted in skipped_images) instead of stopping")
	f.BoolVar(&asJSON, "json", false, "print one JSON object with the results")
	cmd.MarkFlagRequired("checkpoint")
	cmd.MarkFlagRequired("data")
	return cmd
}

// epochsOf returns the epochs a training checkpoint completed, 0 when it
// does not say.
func epochsOf(f *checkpoint.File) int {
	n, _ := strconv.Atoi(f.Metadata[checkpoint.MetaEpoch])
	return n
}
