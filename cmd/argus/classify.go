package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"argus/checkpoint"
	"argus/compiler/trace"
	"argus/compiler/xgraph"
	"argus/data/dataset"
	"argus/models"
	"argus/tasks/classify"
	"argus/tensor"
	"argus/train"
)

// sizesValue is a flag of image sides, "224,256,320". Unlike pflag's int
// slices, setting it replaces the list and its String reads back through
// Set, as resolveConfig needs.
type sizesValue struct{ p *[]int }

func (v sizesValue) String() string {
	if v.p == nil {
		return ""
	}
	parts := make([]string, len(*v.p))
	for i, s := range *v.p {
		parts[i] = strconv.Itoa(s)
	}
	return strings.Join(parts, ",")
}

func (v sizesValue) Set(s string) error {
	var out []int
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		n, err := strconv.Atoi(part)
		if err != nil || n < 1 {
			return fmt.Errorf("%q is not a size in pixels (want a list such as 224,256,320)", part)
		}
		out = append(out, n)
	}
	*v.p = out
	return nil
}

func (v sizesValue) Type() string { return "sizes" }

// classifyTrainReport is the JSON printed by `argus train classify --json`.
// Non-finite numbers (a diverged run, or one stopped before its first
// evaluation) print as null.
type classifyTrainReport struct {
	Task            string      `json:"task"`
	Model           string      `json:"model"`
	Classes         int         `json:"classes"`
	TrainImages     int         `json:"train_images"`
	ValImages       int         `json:"val_images"`
	Aug             string      `json:"aug"`
	Size            int         `json:"size"`
	Scales          []int       `json:"scales"`
	Epochs          int         `json:"epochs"`
	Steps           int         `json:"steps"`
	Top1            train.Float `json:"top1"`
	Top5            train.Float `json:"top5"`
	ValLoss         train.Float `json:"val_loss"`
	TrainLoss       train.Float `json:"train_loss"`
	Seconds         train.Float `json:"seconds"`
	ImagesPerSecond train.Float `json:"images_per_second"`
	Optimizer       string      `json:"optimizer"`
	LR              float64     `json:"lr"`
	Batch           int         `json:"batch"`
	Seed            uint64      `json:"seed"`
	Checkpoint      string      `json:"checkpoint"`
	Metrics         string      `json:"metrics"`
	Plot            string      `json:"plot"`
	Config          string      `json:"config"`
	Stopped         string      `json:"stopped,omitempty"`
	Dist            *distReport `json:"dist,omitempty"`
}

// readClassData reads the ImageNet-layout dataset at dir.
func readClassData(dir, labels string) (trainSet, val *dataset.Set, err error) {
	if dir == "" {
		return nil, nil, fmt.Errorf("--data is required")
	}
	return dataset.ReadImageNet(dir, labels)
}

// checkClassNames returns an error unless the checkpoint f was trained on
// the classes of set, in the same order.
func checkClassNames(path string, f *checkpoint.File, set *dataset.Set, dir string) error {
	s, ok := f.Metadata[classify.MetaClassNames]
	if !ok {
		return fmt.Errorf("%s records no class names (not a checkpoint of argus train classify)", path)
	}
	var names []string
	if err := json.Unmarshal([]byte(s), &names); err != nil {
		return fmt.Errorf("%s: class names in the metadata: %v", path, err)
	}
	if !slices.Equal(names, set.Classes) {
		return fmt.Errorf("%s was trained on %d classes (%s...), %s has %d (%s...)", path, len(names), first3(names), dir, len(set.Classes), first3(set.Classes))
	}
	return nil
}

func first3(s []string) string { return strings.Join(s[:min(3, len(s))], ", ") }

func newTrainClassifyCmd() *cobra.Command {
	cfg := classify.ImageNet()
	var tf trainFlags
	var df distFlags
	var dataDir, labels string
	cmd := &cobra.Command{
		Use:   "classify --data DIR --model resnet18|resnet34|resnet50|deit-tiny",
		Short: "Train an image classifier on ImageNet-layout folders (Deep Image's augmentation and multi-scale training)",
		Long: `Trains a classifier of the model registry, with one output per class, on
DIR/train/CLASS/*.JPEG and evaluates top-1 and top-5 accuracy on DIR/val
after every epoch: DIR/val/CLASS/... with the same class folders, or a flat
DIR/val/ named by a labels file (--val-labels, or DIR/LOC_val_solution.csv
or DIR/val_labels.txt). The real ImageNet and the folders of
argus data synth finegrained both have this layout. Classes are the train/
folders in sorted order; checkpoints record their number and names, which
argus eval classify and argus export read back.

--aug standard is torchvision's recipe: a random crop of crop_min_area to
all of the image, resized to --size, and a horizontal flip. --aug deepimage
adds Deep Image's rotation, lens distortion, colour casting and vignetting,
each with its probability and strength under deepimage: in the config
(see --print-config; argus data show --aug deepimage previews them).
--scales 224,256,320 is multi-scale training: each batch is trained at a
side drawn from the list, the same for the same seed, epoch and batch;
evaluation stays at --size (the shorter side resized to size/crop_fraction,
then the centre crop).

Settings come from the defaults (see --print-config), then --config FILE,
then the flags given. --resume continues a run from its checkpoint exactly
as if it had not stopped. SIGINT or SIGTERM stops after the current step
with a resumable checkpoint (exit status 130); so does --max-minutes (exit
status 0).

Under mpirun (argus built with -tags mpi) every process is one rank of a
data-parallel run: --batch stays the global batch, each of N ranks trains
on batch/N images of it, the gradients are averaged in buckets while the
backward pass runs (--allreduce, --first-bucket, --bucket), and rank 0 alone
evaluates and writes the run folder and the report. A run resumes with any
number of ranks. A rank that fails stops them all. Ctrl-C reaches the
ranks as SIGTERM from mpirun odls_base_sigkill_timeout seconds later (1 by
default; --mca odls_base_sigkill_timeout 10 leaves a step time to end
with its checkpoint), else the last epoch's checkpoint stays. Batch normalisation
keeps each rank's statistics (no synchronised batch norm), so a ResNet's
steps at N ranks are those of N per-rank batches, not of one.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			p, err := df.open(cmd)
			if err != nil {
				return err
			}
			defer func() { err = p.finish(cmd, err) }()
			flags := cmd.Flags()
			out, f, err := resolve(&tf, flags, &cfg, classify.ImageNet())
			if err != nil {
				return err
			}
			if tf.printConfig {
				return printConfig(cmd, cfg)
			}
			check := cfg
			check.Fill()
			if err := check.Validate(); err != nil {
				return err
			}
			if _, err := classify.ModelSpec(cfg.Model, 0); err != nil {
				return err
			}
			trainSet, val, err := readClassData(dataDir, labels)
			if err != nil {
				return err
			}
			if f != nil {
				if err := checkClassNames(tf.resume, f, trainSet, dataDir); err != nil {
					return err
				}
			}
			placed := cfg
			placed.Config = p.place(cfg.Config)
			tr, err := classify.NewFolderTrainer(placed, trainSet, val)
			if err != nil {
				return err
			}
			if f != nil {
				if err := tr.Restore(f); err != nil {
					return fmt.Errorf("resume %s: %w", tf.resume, err)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "resuming %s at epoch %d of %d, step %d\n", tf.resume, tr.Epoch(), cfg.Epochs, tr.Step())
			}
			rep := classifyTrainReport{Task: "classify", Model: cfg.Model, Classes: len(trainSet.Classes),
				TrainImages: min(len(trainSet.Items), limitOr(cfg.Limit, len(trainSet.Items))),
				ValImages:   min(len(val.Items), limitOr(cfg.Limit, len(val.Items))),
				Aug:         cfg.Aug, Size: cfg.Size, Scales: cfg.Scales, Optimizer: cfg.Optimizer, LR: cfg.LR, Batch: cfg.Batch, Seed: cfg.Seed}
			return runClassify(cmd, tr, out, tf.json, rep, p)
		},
	}
	f := cmd.Flags()
	addClassifyFlags(f, &cfg.Config)
	f.StringVar(&cfg.Model, "model", cfg.Model, "network: resnet18, resnet34, resnet50 (any ResNet of the registry), deit-tiny when the registry has it")
	f.StringVar(&cfg.Aug, "aug", cfg.Aug, "training augmentation: standard or deepimage")
	intFlag(f, &cfg.Size, "size", cfg.Size, 8, 4096, "side of the training and evaluation crops")
	f.Var(sizesValue{&cfg.Scales}, "scales", "multi-scale training: each batch at a side drawn from this list, e.g. 224,256,320 (empty: --size)")
	floatRangeFlag(f, &floatRange{p: &cfg.CropFraction, min: 0, max: 1, minOpen: true}, "crop-fraction", cfg.CropFraction, "share of the shorter side the evaluation's centre crop keeps")
	f.StringVar(&dataDir, "data", "", "dataset root: train/CLASS/*.JPEG and val/ (class folders, or flat with a labels file)")
	f.StringVar(&labels, "val-labels", "", "labels file of a flat val/ folder (default: DIR/LOC_val_solution.csv or DIR/val_labels.txt)")
	tf.add(f, "runs/classify")
	df.add(f)
	cmd.MarkFlagRequired("data")
	return cmd
}

func limitOr(limit, n int) int {
	if limit > 0 {
		return limit
	}
	return n
}

// runClassify trains tr to the end of its epochs, or until a signal, the
// time budget or the non-finite guard stops it, and reports the session.
func runClassify(cmd *cobra.Command, tr *classify.Trainer, out string, asJSON bool, rep classifyTrainReport, p *parallel) error {
	stderr := cmd.ErrOrStderr()
	ctx, stop := signalContext(cmd)
	defer stop()
	epochs := tr.Config.Epochs
	sync, err := p.sync(tr.Task.Module, tr.Task.Config)
	if err != nil {
		return err
	}
	opts := epochOptions(stderr, out, epochs, func(m map[string]train.Float) string {
		return fmt.Sprintf(", val loss %.4f, top-1 %.2f%%, top-5 %.2f%%", m["val_loss"], 100*m["top1"], 100*m["top5"])
	})
	opts.Sync = sync
	res, err := tr.Run(ctx, opts)
	metric := orNaN(res.Metrics)
	rep.Epochs, rep.Steps = res.Epoch, res.Step
	rep.Top1, rep.Top5, rep.ValLoss, rep.TrainLoss = metric("top1"), metric("top5"), metric("val_loss"), res.TrainLoss
	rep.Seconds = train.Float(res.Seconds)
	rep.Checkpoint = res.Checkpoint
	rep.Metrics = filepath.Join(out, train.MetricsName)
	rep.Plot = filepath.Join(out, train.PlotName)
	rep.Config = filepath.Join(out, train.ConfigName)
	rep.Stopped = res.Stopped
	rep.Dist = p.report()
	if res.SessionSeconds > 0 {
		// Every rank trains on as many images as rank 0.
		rep.ImagesPerSecond = train.Float(float64(res.Samples*p.Size()) / res.SessionSeconds)
	}
	return reportTrain(cmd, res, err, asJSON, rep, func(w io.Writer) {
		if res.Metrics == nil {
			fmt.Fprintf(w, "%d steps, %d epochs, not yet evaluated (%.0f s, %.1f images/s); checkpoint %s\n",
				rep.Steps, rep.Epochs, rep.Seconds, rep.ImagesPerSecond, rep.Checkpoint)
			return
		}
		fmt.Fprintf(w, "top-1 %.2f%%, top-5 %.2f%% after %d epochs (%.0f s, %.1f images/s); checkpoint %s\n",
			100*rep.Top1, 100*rep.Top5, rep.Epochs, rep.Seconds, rep.ImagesPerSecond, rep.Checkpoint)
	})
}

// classifyScore is a top-1 and top-5 accuracy.
type classifyScore struct {
	Top1 float64 `json:"top1"`
	Top5 float64 `json:"top5"`
	Loss float64 `json:"loss"`
}

// classifyScaleReport is one member's score at one test scale.
type classifyScaleReport struct {
	Size int `json:"size"`
	classifyScore
}

// classifyMemberReport is one checkpoint of an ensemble: its score on the
// mean of its views' probabilities, and each scale's.
type classifyMemberReport struct {
	Checkpoint string `json:"checkpoint"`
	Model      string `json:"model"`
	classifyScore
	Scales []classifyScaleReport `json:"scales"`
	// Engine is how the member ran: "compiled" (infer.Net) or "nodes".
	Engine string `json:"engine"`
}

// classifyEvalReport is the JSON printed by `argus eval classify --json`.
type classifyEvalReport struct {
	Task     string                 `json:"task"`
	Data     string                 `json:"data"`
	Images   int                    `json:"images"`
	Classes  int                    `json:"classes"`
	TTA      string                 `json:"tta"`
	Members  []classifyMemberReport `json:"members"`
	Ensemble classifyScore          `json:"ensemble"`
	Seconds  float64                `json:"seconds"`
}

func newEvalClassifyCmd() *cobra.Command {
	var ckpts, dataDir, labels, tta string
	var scales []int
	var batch, limit, workers int
	var asJSON, ema bool
	cmd := &cobra.Command{
		Use:   "classify --checkpoint C[,C2,...] --data DIR",
		Short: "Evaluate classifiers and their multi-scale, multi-model ensemble (top-1, top-5)",
		Long: `Evaluates checkpoints of argus train classify on DIR/val (the layout argus
train classify reads) and their ensemble. Each member sees every image at
each --scales side (default: its training --size): the shorter side resized
to side/crop_fraction of its run, then the centre crop; with --tta flip
also mirrored. A member's probabilities are the mean of the softmax over
its views, the ensemble's the mean over the members. The report gives
top-1 and top-5 for each member at each scale, for each member, and for
the ensemble. Members run compiled (batch norm folded, fused convolutions).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if tta != "none" && tta != "flip" {
				return fmt.Errorf("unknown --tta %q (want none or flip)", tta)
			}
			if batch < 1 || limit < 0 || workers < 0 {
				return fmt.Errorf("--batch must be positive, --limit and --workers not negative")
			}
			var paths []string
			for _, p := range strings.Split(ckpts, ",") {
				if p = strings.TrimSpace(p); p != "" {
					paths = append(paths, p)
				}
			}
			if len(paths) == 0 {
				return fmt.Errorf("--checkpoint names no file")
			}
			_, val, err := readClassData(dataDir, labels)
			if err != nil {
				return err
			}
			if limit > 0 && limit < len(val.Items) {
				items := make([]dataset.Item, limit)
				for i := range items {
					items[i] = val.Items[i*len(val.Items)/limit]
				}
				val.Items = items
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			start := time.Now()
			rep := classifyEvalReport{Task: "classify", Data: dataDir, Images: len(val.Items), Classes: len(val.Classes), TTA: tta}
			var ens classify.Probs
			for _, path := range paths {
				mr, p, err := evalMember(ctx, path, val, dataDir, scales, batch, workers, tta == "flip", ema)
				if err != nil {
					return err
				}
				rep.Members = append(rep.Members, mr)
				if err := ens.Add(p); err != nil {
					return err
				}
			}
			ens.Scale(1 / float64(len(paths)))
			s := ens.Score()
			rep.Ensemble = classifyScore{Top1: s.Top1, Top5: s.Top5, Loss: s.Loss}
			rep.Seconds = time.Since(start).Seconds()
			if asJSON {
				return printJSON(cmd, rep)
			}
			w := cmd.OutOrStdout()
			for _, m := range rep.Members {
				for _, sc := range m.Scales {
					fmt.Fprintf(w, "%s at %d: top-1 %.2f%%, top-5 %.2f%%\n", m.Checkpoint, sc.Size, 100*sc.Top1, 100*sc.Top5)
				}
				fmt.Fprintf(w, "%s: top-1 %.2f%%, top-5 %.2f%%\n", m.Checkpoint, 100*m.Top1, 100*m.Top5)
			}
			fmt.Fprintf(w, "ensemble of %d (%d images, tta %s): top-1 %.2f%%, top-5 %.2f%%\n", len(rep.Members), rep.Images, tta, 100*s.Top1, 100*s.Top5)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&ckpts, "checkpoint", "", "checkpoints of argus train classify, separated by commas: the ensemble's members")
	f.StringVar(&dataDir, "data", "", "dataset root whose val/ is evaluated (the layout of argus train classify)")
	f.StringVar(&labels, "val-labels", "", "labels file of a flat val/ folder (default: DIR/LOC_val_solution.csv or DIR/val_labels.txt)")
	f.Var(sizesValue{&scales}, "scales", "test sides, e.g. 224,256,320 (default: each member's training size)")
	f.StringVar(&tta, "tta", "none", "test-time augmentation: none or flip (each view also mirrored)")
	intFlag(f, &batch, "batch", 50, 1, classify.MaxBatch, "evaluation batch size")
	intFlag(f, &limit, "limit", 0, 0, noLimit, "use only N val images spread over the classes (0: all)")
	intFlag(f, &workers, "workers", 0, 0, classify.MaxWorkers, "goroutines decoding images (0: one per CPU)")
	f.BoolVar(&ema, "ema", false, "evaluate the moving average of the weights kept by runs trained with --ema")
	f.BoolVar(&asJSON, "json", false, "print one JSON object with the results")
	cmd.MarkFlagRequired("checkpoint")
	cmd.MarkFlagRequired("data")
	return cmd
}

// evalMember evaluates one checkpoint at each scale and returns its report
// and the mean of its views' probabilities.
func evalMember(ctx context.Context, path string, val *dataset.Set, dir string, scales []int, batch, workers int, flip, ema bool) (classifyMemberReport, *classify.Probs, error) {
	mr := classifyMemberReport{Checkpoint: path}
	f, err := checkpoint.ReadFile(path)
	if err != nil {
		return mr, nil, err
	}
	spec, err := models.FromMetadata(f.Metadata)
	if err != nil {
		return mr, nil, fmt.Errorf("%s: %w", path, err)
	}
	mr.Model = spec.Name
	cfg := classify.ImageNet()
	if err := train.StoredConfig(f, &cfg); err != nil {
		return mr, nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := checkClassNames(path, f, val, dir); err != nil {
		return mr, nil, err
	}
	m, err := spec.New(tensor.NewRNG(0))
	if err != nil {
		return mr, nil, err
	}
	if _, err := train.LoadWeights(path, spec.Name, m, ema); err != nil {
		return mr, nil, err
	}
	if len(scales) == 0 {
		scales = []int{cfg.Size}
	}
	var mean classify.Probs
	for _, size := range scales {
		if err := spec.CheckSize(size, size); err != nil {
			return mr, nil, fmt.Errorf("--scales: %w", err)
		}
		e, err := trace.Compile(m, []int{1, spec.Channels, size, size})
		if err != nil {
			return mr, nil, fmt.Errorf("%s: %w", path, err)
		}
		mr.Engine = "compiled"
		if e.Compiled() != nil {
			mr.Engine = "nodes"
		}
		set := *val
		set.Transform = cfg.EvalTransform(size)
		p, err := classify.Probabilities(ctx, &set, batch, workers, flip, func(x *tensor.Tensor) ([]float32, error) {
			out, err := e.Run(map[string]*xgraph.Tensor{"input": xgraph.FromDense(x)})
			if err != nil {
				return nil, err
			}
			return out[0].F, nil
		})
		if err != nil {
			return mr, nil, err
		}
		s := p.Score()
		mr.Scales = append(mr.Scales, classifyScaleReport{Size: size, classifyScore: classifyScore{Top1: s.Top1, Top5: s.Top5, Loss: s.Loss}})
		if err := mean.Add(p); err != nil {
			return mr, nil, err
		}
	}
	mean.Scale(1 / float64(len(scales)))
	s := mean.Score()
	mr.classifyScore = classifyScore{Top1: s.Top1, Top5: s.Top5, Loss: s.Loss}
	return mr, &mean, nil
}
