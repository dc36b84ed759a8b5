package main

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"argus/data/mnist"
	"argus/models"
	"argus/tasks/classify"
	"argus/tensor"
	"argus/train"
)

// mnistModel names the MNIST network in checkpoints.
const mnistModel = "mnist-cnn"

func buildMNIST(rng *tensor.RNG) classify.Model { return models.NewMNISTNet(rng) }

// mnistTrainReport is the JSON printed by `argus train mnist --json`.
// Non-finite numbers (a diverged run) print as null.
type mnistTrainReport struct {
	Task            string      `json:"task"`
	Model           string      `json:"model"`
	Epochs          int         `json:"epochs"`
	Steps           int         `json:"steps"`
	TestAccuracy    train.Float `json:"test_accuracy"`
	TestLoss        train.Float `json:"test_loss"`
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
	// Stopped says why the session ended early ("interrupt",
	// "max-minutes", "non-finite"); absent when the run is complete.
	Stopped string `json:"stopped,omitempty"`
	// Dist describes a data-parallel run; absent in a run of one process.
	Dist *distReport `json:"dist,omitempty"`
}

// mnistEvalReport is the JSON printed by `argus eval mnist --json`.
// Non-finite numbers (a checkpoint of non-finite weights) print as null.
type mnistEvalReport struct {
	Task         string      `json:"task"`
	Checkpoint   string      `json:"checkpoint"`
	Images       int         `json:"images"`
	TestAccuracy train.Float `json:"test_accuracy"`
	TestLoss     train.Float `json:"test_loss"`
	Seconds      float64     `json:"seconds"`
}

func loadMNIST(dir string) (train, test classify.Dataset, err error) {
	if dir == "" {
		if dir, err = mnist.DefaultDir(); err != nil {
			return nil, nil, err
		}
	}
	tr, te, err := mnist.Load(dir)
	if err != nil {
		return nil, nil, err
	}
	return tr, te, nil
}

func newTrainMNISTCmd() *cobra.Command {
	var df distFlags
	cfg := classify.MNIST()
	var tf trainFlags
	cmd := &cobra.Command{
		Use:   "mnist",
		Short: "Train the PyTorch-example CNN on the real MNIST digits",
		Long: `Trains the convolutional network of PyTorch's MNIST example on the 60,000
MNIST training digits read from the GoMNIST Go module, evaluates it on the
10,000 test digits after every epoch, and writes to --out the resolved
settings (config.yaml), a checkpoint (safetensors) after every epoch,
metrics.jsonl and metrics.png.

Settings come from the defaults (see --print-config), then --config FILE,
then the flags given. --resume continues a run from its checkpoint exactly
as if it had not stopped. SIGINT or SIGTERM stops after the current step
with a resumable checkpoint (exit status 130); so does --max-minutes (exit
status 0). A loss that is not finite stops the run with an error naming the
step and the loss term and keeps the last good checkpoint.

Under mpirun (argus built with -tags mpi) every process is one rank of a
data-parallel run: --batch stays the global batch, each of N ranks trains
on batch/N images of it, the gradients are averaged in buckets while the
backward pass runs (--allreduce, --first-bucket, --bucket), and rank 0 alone
writes the run folder and the report. A run resumes with any number of
ranks. A rank that fails stops them all.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			p, err := df.open(cmd)
			if err != nil {
				return err
			}
			defer func() { err = p.finish(cmd, err) }()
			var tr *classify.Trainer
			out := tf.out
			flags := cmd.Flags()
			if tf.resume != "" {
				var stored classify.Config
				f, err := storedConfig(tf.resume, mnistModel, &stored)
				if err != nil {
					return err
				}
				if err := resolveConfig(flags, &cfg, stored, tf.config); err != nil {
					return err
				}
				if err := absData(&cfg); err != nil {
					return err
				}
				if tf.printConfig {
					return printConfig(cmd, cfg)
				}
				if !flags.Changed("out") {
					out = filepath.Dir(tf.resume)
				}
				if err := tf.prepareOut(out); err != nil {
					return err
				}
				trainSet, testSet, err := loadMNIST(cfg.Data)
				if err != nil {
					return err
				}
				if tr, err = classify.NewTrainer(p.place(cfg), buildMNIST, trainSet, testSet); err != nil {
					return err
				}
				if err := tr.Restore(f); err != nil {
					return fmt.Errorf("resume %s: %w", tf.resume, err)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "resuming %s at epoch %d of %d, step %d\n", tf.resume, tr.Epoch(), cfg.Epochs, tr.Step())
			} else {
				if err := resolveConfig(flags, &cfg, classify.MNIST(), tf.config); err != nil {
					return err
				}
				if err := absData(&cfg); err != nil {
					return err
				}
				if tf.printConfig {
					return printConfig(cmd, cfg)
				}
				if cfg.Model != mnistModel {
					return fmt.Errorf("model must be %q, got %q", mnistModel, cfg.Model)
				}
				check := cfg
				check.Fill()
				if err := check.Validate(); err != nil {
					return err
				}
				if err := tf.prepareOut(out); err != nil {
					return err
				}
				trainSet, testSet, err := loadMNIST(cfg.Data)
				if err != nil {
					return err
				}
				if tr, err = classify.NewTrainer(p.place(cfg), buildMNIST, trainSet, testSet); err != nil {
					return err
				}
			}
			return runMNIST(cmd, tr, out, tf.json, p)
		},
	}
	f := cmd.Flags()
	addClassifyFlags(f, &cfg)
	f.StringVar(&cfg.Data, "data", "", "directory with the MNIST IDX files (default: the GoMNIST module)")
	tf.add(f, "runs/mnist")
	df.add(f)
	return cmd
}

// absData makes the data folder of cfg absolute, so that the checkpoint
// names it whatever folder a resumed run starts in.
func absData(cfg *classify.Config) error {
	if cfg.Data == "" {
		return nil
	}
	abs, err := filepath.Abs(cfg.Data)
	if err != nil {
		return fmt.Errorf("--data %s: %w", cfg.Data, err)
	}
	cfg.Data = abs
	return nil
}

// runMNIST trains tr to the end of its epochs, or until a signal, the time
// budget or the non-finite guard stops it, and reports the session.
func runMNIST(cmd *cobra.Command, tr *classify.Trainer, out string, asJSON bool, p *parallel) error {
	stderr := cmd.ErrOrStderr()
	ctx, stop := signalContext(cmd)
	defer stop()
	epochs := tr.Config.Epochs
	sync, err := p.sync(tr.Task.Module, tr.Task.Config)
	if err != nil {
		return err
	}
	opts := epochOptions(stderr, out, epochs, func(m map[string]train.Float) string {
		return fmt.Sprintf(", test loss %.4f, test accuracy %.2f%%", m["test_loss"], 100*m["test_accuracy"])
	})
	opts.Sync = sync
	res, err := tr.Run(ctx, opts)
	metric := orNaN(res.Metrics)
	rep := mnistTrainReport{
		Task: "mnist", Model: mnistModel, Epochs: res.Epoch, Steps: res.Step,
		TestAccuracy: metric("test_accuracy"), TestLoss: metric("test_loss"), TrainLoss: res.TrainLoss,
		Seconds: train.Float(res.Seconds), Optimizer: tr.Config.Optimizer, LR: tr.Config.LR,
		Batch: tr.Task.Config.(classify.Config).Batch, Seed: tr.Config.Seed,
		Checkpoint: res.Checkpoint,
		Metrics:    filepath.Join(out, train.MetricsName),
		Plot:       filepath.Join(out, train.PlotName),
		Config:     filepath.Join(out, train.ConfigName),
		Stopped:    res.Stopped,
		Dist:       p.report(),
	}
	if res.SessionSeconds > 0 {
		// Every rank trains on as many images as rank 0.
		rep.ImagesPerSecond = train.Float(float64(res.Samples*p.Size()) / res.SessionSeconds)
	}
	return reportTrain(cmd, res, err, asJSON, rep, func(w io.Writer) {
		if res.Metrics == nil {
			fmt.Fprintf(w, "%d steps, %d epochs, not yet evaluated (%.0f s, %.0f images/s); checkpoint %s\n",
				rep.Steps, rep.Epochs, rep.Seconds, rep.ImagesPerSecond, rep.Checkpoint)
			return
		}
		fmt.Fprintf(w, "test accuracy %.2f%% after %d epochs (%.0f s, %.0f images/s); checkpoint %s\n",
			100*rep.TestAccuracy, rep.Epochs, rep.Seconds, rep.ImagesPerSecond, rep.Checkpoint)
	})
}

func newEvalMNISTCmd() *cobra.Command {
	var ckpt, dataDir string
	var asJSON, ema bool
	var batch, limit int
	cmd := &cobra.Command{
		Use:   "mnist --checkpoint FILE",
		Short: "Evaluate an MNIST checkpoint on the 10,000 test digits",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m := models.NewMNISTNet(tensor.NewRNG(0))
			if _, err := train.LoadWeights(ckpt, mnistModel, m, ema); err != nil {
				return err
			}
			_, testSet, err := loadMNIST(dataDir)
			if err != nil {
				return err
			}
			testSet = classify.First(testSet, limit)
			start := time.Now()
			loss, acc := classify.Evaluate(m, testSet, batch)
			rep := mnistEvalReport{Task: "mnist", Checkpoint: ckpt, Images: testSet.Len(),
				TestAccuracy: train.Float(acc), TestLoss: train.Float(loss), Seconds: time.Since(start).Seconds()}
			// The report comes out, then a loss that is not finite fails
			// the command.
			var bad error
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				bad = fmt.Errorf("test loss is %v: the checkpoint %s gives non-finite scores", loss, ckpt)
			}
			if asJSON {
				if err := printJSON(cmd, rep); err != nil {
					return err
				}
				return bad
			}
			fmt.Fprintf(cmd.OutOrStdout(), "test accuracy %.2f%% (%d images), test loss %.4f\n", 100*acc, rep.Images, loss)
			return bad
		},
	}
	f := cmd.Flags()
	f.StringVar(&ckpt, "checkpoint", "", "checkpoint written by argus train mnist")
	f.StringVar(&dataDir, "data", "", "directory with the MNIST IDX files (default: the GoMNIST module)")
	intFlag(f, &batch, "batch", 100, 1, classify.MaxBatch, "evaluation batch size")
	intFlag(f, &limit, "limit", 0, 0, noLimit, "use only the first N test images (0: all)")
	f.BoolVar(&ema, "ema", false, "evaluate the moving average of the weights kept by a run trained with --ema")
	f.BoolVar(&asJSON, "json", false, "print one JSON object with the results")
	cmd.MarkFlagRequired("checkpoint")
	return cmd
}
