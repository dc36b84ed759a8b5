package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"argus/coco"
	"argus/data/cocofile"
	"argus/data/imageio"
	"argus/internal/atomicfile"
	"argus/tasks/detect"
	"argus/train"
)

// detectTrainReport is the JSON printed by `argus train detect --json`.
type detectTrainReport struct {
	coco.Summary
	Task        string      `json:"task"`
	Model       string      `json:"model"`
	Assign      string      `json:"assign"`
	K           int         `json:"k,omitempty"`
	HPSK        []int       `json:"hps_k,omitempty"`
	Proposals   string      `json:"proposals"`
	NumProposal int         `json:"num_proposals"`
	Classes     int         `json:"classes"`
	TrainImages int         `json:"train_images"`
	ValImages   int         `json:"val_images"`
	Size        int         `json:"size"`
	Batch       int         `json:"batch"`
	Epochs      int         `json:"epochs"`
	Steps       int         `json:"steps"`
	TrainLoss   train.Float `json:"train_loss"`
	Seconds     train.Float `json:"seconds"`
	Checkpoint  string      `json:"checkpoint"`
	Metrics     string      `json:"metrics"`
	Stopped     string      `json:"stopped,omitempty"`
	// Skipped counts what --skip-bad left out of both splits.
	Skipped *detect.Skipped `json:"skipped,omitempty"`
}

// readDetectSplit reads a split, with skipBad leaving out (and counting,
// on w and in the returned counts) the images that do not decode and the
// boxes outside their images.
func readDetectSplit(w io.Writer, dir, split string, skipBad bool) (*detect.Split, detect.Skipped, error) {
	if !skipBad {
		s, err := detect.ReadSplit(dir, split)
		return s, detect.Skipped{}, err
	}
	s, sk, err := detect.ReadSplitSkipBad(dir, split)
	if err != nil {
		return nil, sk, err
	}
	if sk.Images > 0 || sk.Boxes > 0 {
		fmt.Fprintf(w, "%s: skipped %d images that do not decode and %d boxes empty or outside their image (--skip-bad)\n", split, sk.Images, sk.Boxes)
	}
	return s, sk, nil
}

// addDetectFlags binds the flags of a detection run's settings to c.
func addDetectFlags(f *pflag.FlagSet, c *detect.Config) {
	f.StringVar(&c.Model, "model", c.Model, "detector: "+strings.Join(detect.Models(), ", "))
	f.StringVar(&c.Assign, "assign", c.Assign, "label assignment: hungarian or dla (Dynamic Sparse R-CNN's optimal transport)")
	f.StringVar(&c.ProposalMode, "proposals", c.ProposalMode, "initial proposals: static (learned) or dpg (dynamic proposal generation)")
	intFlag(f, &c.Proposals, "num-proposals", c.Proposals, 1, detect.MaxProposals, "learnable proposals, and detections per image")
	intFlag(f, &c.Width, "width", c.Width, 8, 4096, "channels of the pyramid and of the head's proposal features (a multiple of 8; 256 in Sparse R-CNN)")
	intFlag(f, &c.Stages, "stages", c.Stages, 1, 64, "iterative head stages")
	intFlag(f, &c.Experts, "experts", c.Experts, 1, 64, "DPG's proposal experts")
	intFlag(f, &c.Epochs, "epochs", c.Epochs, 1, detect.MaxEpochs, "number of epochs")
	intFlag(f, &c.Batch, "batch", c.Batch, 1, detect.MaxBatch, "training batch size")
	intFlag(f, &c.EvalBatch, "eval-batch", c.EvalBatch, 1, detect.MaxBatch, "evaluation batch size")
	intFlag(f, &c.Size, "size", c.Size, 32, detect.MaxSize, "shorter side of the training and evaluation images")
	positiveFloatFlag(f, &c.LR, "lr", c.LR, "peak learning rate")
	floatFlag(f, &c.WeightDecay, "weight-decay", c.WeightDecay, 0, math.Inf(1), "weight decay")
	f.StringVar(&c.Schedule, "schedule", c.Schedule, "learning-rate schedule: cosine, step or constant")
	intFlag(f, &c.Warmup, "warmup", c.Warmup, 0, noLimit, "linear warm-up steps")
	floatFlag(f, &c.ClipNorm, "clip-norm", c.ClipNorm, 0, math.Inf(1), "clip the gradients' global L2 norm to this (0: off)")
	fractionFlag(f, &c.Flip, "flip", c.Flip, "probability of a horizontal flip in training")
	intFlag(f, &c.EvalEvery, "eval-every", c.EvalEvery, 1, noLimit, "epochs between evaluations (the last epoch is always evaluated)")
	intFlag(f, &c.LogEvery, "log-every", c.LogEvery, 1, noLimit, "steps between training-loss records in metrics.jsonl")
	floatFlag(f, &c.MaxMinutes, "max-minutes", c.MaxMinutes, 0, math.Inf(1), "stop this session after so many minutes with a resumable checkpoint (0: no limit)")
	f.Uint64Var(&c.Seed, "seed", c.Seed, "random seed for initialisation, shuffling and augmentation")
	intFlag(f, &c.Workers, "workers", c.Workers, 0, detect.MaxWorkers, "goroutines building batches (0: one per CPU)")
}

func newTrainDetectCmd() *cobra.Command {
	cfg := detect.Recipe()
	var tf trainFlags
	var dataDir, hpsFile string
	var skipBad bool
	cmd := &cobra.Command{
		Use:   "detect --data DIR --model sparse-rcnn-r18|sparse-rcnn-r50|atss-r18|atss-r50",
		Short: "Train an object detector (Sparse R-CNN) on a COCO-layout folder",
		Long: `Trains a detector on DIR/annotations/instances_train2017.json with the images
in DIR/train2017, and evaluates COCO AP on val2017 after every --eval-every
epochs. This is the layout of COCO and of argus data synth detection.
Category ids may be non-contiguous (labels follow ascending ids), images
without annotations are kept, and crowd boxes are left out of training.
Images are resized so that their shorter side is --size, and flipped
horizontally with probability --flip.

Sparse R-CNN (sparse-rcnn-r18, -r34, -r50: a ResNet-FPN backbone from
random weights) has --num-proposals learnable proposals and six stages
trained with deep supervision; --assign dla replaces Hungarian matching by
Dynamic Sparse R-CNN's optimal-transport assignment, and --proposals dpg the
learned proposals by its mixture of --experts proposal sets weighted per
image.

ATSS (atss-r18, atss-r50: a ResNet-FPN P3–P7 backbone from random weights,
--width channels, a multiple of 32) assigns positives with --assign atss
(adaptive IoU threshold; the default for these models), topk (--k positives
per ground truth), simota (dynamic k) or hps (the numbers of positives per
object-size band that argus hps search wrote to --hps FILE, scaled each
iteration by the quality of each ground truth's candidates).

Settings come from the defaults (see --print-config), then --config FILE,
then the flags given. --resume continues a run from its checkpoint exactly.
SIGINT or SIGTERM stops after the current step with a resumable checkpoint
(exit status 130); so does --max-minutes (exit status 0).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			flags := cmd.Flags()
			out, f, err := resolve(&tf, flags, &cfg, detect.Recipe())
			if err != nil {
				return err
			}
			if f != nil && !flags.Changed("data") && cfg.Data != "" {
				dataDir = cfg.Data
			}
			if err := atssFlags(flags, &cfg, hpsFile); err != nil {
				return err
			}
			if tf.printConfig {
				return printConfig(cmd, cfg)
			}
			if dataDir == "" {
				return fmt.Errorf("--data is required")
			}
			abs, err := filepath.Abs(dataDir)
			if err != nil {
				return err
			}
			cfg.Data = abs
			cfg.Fill()
			if err := cfg.Validate(); err != nil {
				return err
			}
			trainSplit, skTrain, err := readDetectSplit(cmd.ErrOrStderr(), dataDir, "train2017", skipBad)
			if err != nil {
				return err
			}
			val, skVal, err := readDetectSplit(cmd.ErrOrStderr(), dataDir, "val2017", skipBad)
			if err != nil {
				return err
			}
			if err := tf.prepareOut(out); err != nil {
				return err
			}
			tr, _, err := detect.NewTrainer(cfg, trainSplit, val)
			if err != nil {
				return err
			}
			if f != nil {
				if err := tr.Restore(f); err != nil {
					return fmt.Errorf("resume %s: %w", tf.resume, err)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "resuming %s at epoch %d of %d, step %d\n", tf.resume, tr.Epoch(), cfg.Epochs, tr.Step())
			}
			rep := detectTrainReport{Task: "detect", Model: cfg.Model, Assign: cfg.Assign, K: cfg.K, HPSK: cfg.HPSK, Proposals: cfg.ProposalMode,
				NumProposal: cfg.Proposals, Classes: len(trainSplit.CategoryIDs), TrainImages: trainSplit.Set.Len(),
				ValImages: val.Set.Len(), Size: cfg.Size, Batch: cfg.Batch}
			if skipBad {
				rep.Skipped = &detect.Skipped{Images: skTrain.Images + skVal.Images, Boxes: skTrain.Boxes + skVal.Boxes}
			}
			return runDetect(cmd, tr, out, tf.json, rep)
		},
	}
	f := cmd.Flags()
	addDetectFlags(f, &cfg)
	intFlag(f, &cfg.K, "k", cfg.K, 0, 1<<10, "ATSS's --assign topk: positives per ground truth (0: none given)")
	f.StringVar(&hpsFile, "hps", "", "ATSS's --assign hps: the searched values (argus hps search --out)")
	f.StringVar(&dataDir, "data", "", "COCO-layout root: annotations/instances_{train,val}2017.json, train2017/, val2017/")
	f.BoolVar(&skipBad, "skip-bad", false, "decode every image first and leave out (counted in skipped) the images that do not decode and the boxes outside their image, instead of stopping")
	tf.add(f, "runs/detect")
	return cmd
}

func runDetect(cmd *cobra.Command, tr *detect.Trainer, out string, asJSON bool, rep detectTrainReport) error {
	stderr := cmd.ErrOrStderr()
	ctx, stop := signalContext(cmd)
	defer stop()
	epochs := tr.Config.Epochs
	res, err := tr.Run(ctx, epochOptions(stderr, out, epochs, func(m map[string]train.Float) string {
		return fmt.Sprintf(", AP %.4f, AP50 %.4f", m["AP"], m["AP50"])
	}))
	m := func(name string) float64 {
		if v, ok := res.Metrics[name]; ok {
			return float64(v)
		}
		return -1
	}
	rep.Summary = coco.Summary{AP: m("AP"), AP50: m("AP50"), AP75: m("AP75"), APs: m("APs"), APm: m("APm"), APl: m("APl"),
		AR1: m("AR1"), AR10: m("AR10"), AR100: m("AR100"), ARs: m("ARs"), ARm: m("ARm"), ARl: m("ARl")}
	rep.Epochs, rep.Steps, rep.TrainLoss = res.Epoch, res.Step, res.TrainLoss
	rep.Seconds = train.Float(res.Seconds)
	rep.Checkpoint = res.Checkpoint
	rep.Metrics = filepath.Join(out, train.MetricsName)
	rep.Stopped = res.Stopped
	return reportTrain(cmd, res, err, asJSON, rep, func(w io.Writer) {
		fmt.Fprintf(w, "AP %.4f, AP50 %.4f after %d epochs (%.0f s); checkpoint %s\n",
			rep.AP, rep.AP50, rep.Epochs, float64(rep.Seconds), rep.Checkpoint)
	})
}

func newEvalDetectCmd() *cobra.Command {
	var ckpt, dataDir, split, results string
	var asJSON, skipBad bool
	var batch, workers int
	cmd := &cobra.Command{
		Use:   "detect --checkpoint C --data DIR",
		Short: "COCO AP of a trained detector on a split of a COCO-layout folder",
		Long: `Runs the detector of a checkpoint of argus train detect on every image of
DIR/SPLIT (annotations in DIR/annotations/instances_SPLIT.json), resized as
in training, and prints the 12 COCO numbers with the keys of argus eval
coco. --results also writes the detections as a COCO results file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if results != "" {
				if err := notAnInput("results", results, ckpt); err != nil {
					return err
				}
			}
			m, err := detect.Load(ckpt)
			if err != nil {
				return err
			}
			s, sk, err := readDetectSplit(cmd.ErrOrStderr(), dataDir, split, skipBad)
			if err != nil {
				return err
			}
			if !slices.Equal(s.CategoryIDs, m.CategoryIDs) {
				return fmt.Errorf("%s has the category ids %v, the checkpoint's detector was trained on %v", split, s.CategoryIDs, m.CategoryIDs)
			}
			cfg := m.Config
			if cmd.Flags().Changed("batch") {
				cfg.EvalBatch = batch
			}
			cfg.Workers = workers
			sum, rs, err := detect.Evaluate(m.Detector, cfg, s)
			if err != nil {
				return err
			}
			if results != "" {
				if err := cocofile.WriteResultsFile(results, rs); err != nil {
					return err
				}
			}
			if asJSON && skipBad {
				return printJSON(cmd, struct {
					coco.Summary
					Skipped detect.Skipped `json:"skipped"`
				}{sum, sk})
			}
			if asJSON {
				return printJSON(cmd, sum)
			}
			v := sum.Values()
			fmt.Fprintf(cmd.OutOrStdout(), "AP %.4f  AP50 %.4f  AP75 %.4f  APs %.4f  APm %.4f  APl %.4f\n", v[0], v[1], v[2], v[3], v[4], v[5])
			fmt.Fprintf(cmd.OutOrStdout(), "AR1 %.4f  AR10 %.4f  AR100 %.4f  ARs %.4f  ARm %.4f  ARl %.4f\n", v[6], v[7], v[8], v[9], v[10], v[11])
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&ckpt, "checkpoint", "", "checkpoint of argus train detect")
	f.StringVar(&dataDir, "data", "", "COCO-layout root")
	f.StringVar(&split, "split", "val2017", "split to evaluate")
	f.StringVar(&results, "results", "", "also write the detections as a COCO results file")
	f.BoolVar(&skipBad, "skip-bad", false, "decode every image first and leave out (counted in skipped) the images that do not decode and the boxes outside their image, instead of stopping")
	intFlag(f, &batch, "batch", 4, 1, detect.MaxBatch, "evaluation batch size")
	intFlag(f, &workers, "workers", 0, 0, detect.MaxWorkers, "goroutines building batches (0: one per CPU)")
	f.BoolVar(&asJSON, "json", false, "print one JSON object")
	cmd.MarkFlagRequired("checkpoint")
	cmd.MarkFlagRequired("data")
	return cmd
}

// detectPrediction is one image's entry in `argus predict detect --json`.
type detectPrediction struct {
	Image      string            `json:"image"`
	Output     string            `json:"output"`
	Detections []detectDetection `json:"detections"`
}

type detectDetection struct {
	Box        [4]float32 `json:"box"`
	Class      string     `json:"class"`
	CategoryID int64      `json:"category_id"`
	Score      float32    `json:"score"`
}

func newPredictDetectCmd() *cobra.Command {
	var ckpt, out string
	var score float64
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "detect --checkpoint C --out DIR IMAGE...",
		Short: "Detect objects in images and draw the boxes, class names and scores (PNG)",
		Long: `Runs the detector of a checkpoint of argus train detect on each IMAGE (JPEG or
PNG), resized as in training, and writes DIR/NAME.png with the detections
of score at least --score outlined in their class's colour, labelled with
the class name and score. Boxes are xyxy in the image's pixels.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := detect.Load(ckpt)
			if err != nil {
				return err
			}
			imgs := make([]*imageio.Image, len(args))
			for i, a := range args {
				if imgs[i], err = imageio.ReadFile(a, imageio.Limits{}); err != nil {
					return err
				}
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			var preds []detectPrediction
			for i, a := range args {
				dets, err := m.PredictImage(imgs[i], float32(score))
				if err != nil {
					return fmt.Errorf("%s: %w", a, err)
				}
				name := filepath.Join(out, strings.TrimSuffix(filepath.Base(a), filepath.Ext(a))+".png")
				if err := atomicfile.Write(name, func(w io.Writer) error {
					return imageio.Encode(w, ".png", detect.Draw(imgs[i], dets, m.Names))
				}); err != nil {
					return err
				}
				p := detectPrediction{Image: a, Output: name, Detections: []detectDetection{}}
				for _, d := range dets {
					p.Detections = append(p.Detections, detectDetection{Box: d.Box, Class: m.Names[d.Label], CategoryID: m.CategoryIDs[d.Label], Score: d.Score})
				}
				preds = append(preds, p)
				if !asJSON {
					fmt.Fprintf(cmd.OutOrStdout(), "%s: %d detections → %s\n", a, len(dets), name)
				}
			}
			if asJSON {
				return printJSON(cmd, map[string]any{"images": preds})
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&ckpt, "checkpoint", "", "checkpoint of argus train detect")
	f.StringVar(&out, "out", "predictions", "folder for the drawn PNGs")
	fractionFlag(f, &score, "score", 0.3, "draw and list detections of at least this score")
	f.BoolVar(&asJSON, "json", false, "print one JSON object with the detections")
	cmd.MarkFlagRequired("checkpoint")
	return cmd
}
