package main

import (
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"argus/data/mnist"
	"argus/models"
	"argus/tasks/classify"
	"argus/tensor"
)

// mnistModel names the MNIST network in checkpoints.
const mnistModel = "mnist-cnn"

func buildMNIST(rng *tensor.RNG) classify.Model { return models.NewMNISTNet(rng) }

// mnistTrainReport is the JSON printed by `argus train mnist --json`.
type mnistTrainReport struct {
	Task            string  `json:"task"`
	Model           string  `json:"model"`
	Epochs          int     `json:"epochs"`
	Steps           int     `json:"steps"`
	TestAccuracy    float64 `json:"test_accuracy"`
	TestLoss        float64 `json:"test_loss"`
	TrainLoss       float64 `json:"train_loss"`
	Seconds         float64 `json:"seconds"`
	ImagesPerSecond float64 `json:"images_per_second"`
	Optimizer       string  `json:"optimizer"`
	LR              float64 `json:"lr"`
	Batch           int     `json:"batch"`
	Seed            uint64  `json:"seed"`
	Checkpoint      string  `json:"checkpoint"`
	Metrics         string  `json:"metrics"`
	Plot            string  `json:"plot"`
}

// mnistEvalReport is the JSON printed by `argus eval mnist --json`.
type mnistEvalReport struct {
	Task         string  `json:"task"`
	Checkpoint   string  `json:"checkpoint"`
	Images       int     `json:"images"`
	TestAccuracy float64 `json:"test_accuracy"`
	TestLoss     float64 `json:"test_loss"`
	Seconds      float64 `json:"seconds"`
}

// limited is the first n images of a set, for quick runs.
type limited struct {
	*mnist.Set
	n int
}

func (l limited) Len() int { return min(l.n, l.Set.Len()) }

func loadMNIST(dir string, limit int) (train, test classify.Dataset, err error) {
	if dir == "" {
		if dir, err = mnist.DefaultDir(); err != nil {
			return nil, nil, err
		}
	}
	tr, te, err := mnist.Load(dir)
	if err != nil {
		return nil, nil, err
	}
	if limit > 0 {
		return limited{tr, limit}, limited{te, limit}, nil
	}
	return tr, te, nil
}

// bar shows training progress on stderr: loss, images per second and ETA.
type bar struct {
	w     io.Writer
	batch int
	n     int
	b     *progressbar.ProgressBar
	epoch int
	of    int
	done  int
}

func (p *bar) Start(epoch, epochs, steps int) {
	p.epoch, p.of, p.done = epoch, epochs, 0
	p.b = progressbar.NewOptions(p.n,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription(fmt.Sprintf("epoch %d/%d", epoch, epochs)),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("img"),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetWidth(24),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionSetRenderBlankState(true),
	)
}

func (p *bar) Update(done int, loss float64) {
	n := min(done*p.batch, p.n)
	p.b.Describe(fmt.Sprintf("epoch %d/%d loss %.4f", p.epoch, p.of, loss))
	p.b.Add(n - p.done)
	p.done = n
}

func (p *bar) Finish() {
	p.b.Finish()
	fmt.Fprintln(p.w)
}

// newTrainMNISTCmd builds argus train mnist.
func newTrainMNISTCmd() *cobra.Command {
	var (
		cfg                  classify.Config
		out, resume, dataDir string
		asJSON               bool
		limit                int
	)
	train := &cobra.Command{
		Use:   "mnist",
		Short: "Train the PyTorch-example CNN on the real MNIST digits",
		Long: `Trains the convolutional network of PyTorch's MNIST example on the 60,000
MNIST training digits read from the GoMNIST Go module, evaluates it on the
10,000 test digits after every epoch, and writes to --out a checkpoint
(safetensors), metrics.jsonl and metrics.png. --resume continues a run from its
checkpoint exactly as if it had not stopped.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			stderr := cmd.ErrOrStderr()
			epochsSet := cmd.Flags().Changed("epochs")
			var run *classify.Run
			var err error
			if resume != "" {
				for _, name := range []string{"batch", "lr", "optimizer", "weight-decay", "schedule", "warmup", "label-smoothing", "seed"} {
					if cmd.Flags().Changed(name) {
						return fmt.Errorf("train mnist: --%s cannot be changed when resuming: the run keeps the settings stored in its checkpoint", name)
					}
				}
				epochs := 0
				if epochsSet {
					epochs = cfg.Epochs
				}
				run, err = classify.Resume(resume, mnistModel, epochs, buildMNIST)
				if err != nil {
					return err
				}
				if !cmd.Flags().Changed("out") {
					out = filepath.Dir(resume)
				}
				fmt.Fprintf(stderr, "resuming %s at epoch %d of %d, step %d\n", resume, run.Epoch, run.Config.Epochs, run.Step)
			} else {
				cfg.Model = mnistModel
				if run, err = classify.NewRun(cfg, buildMNIST); err != nil {
					return fmt.Errorf("train mnist: %w", err)
				}
			}
			trainSet, testSet, err := loadMNIST(dataDir, limit)
			if err != nil {
				return err
			}
			pb := &bar{w: stderr, batch: run.Config.Batch, n: trainSet.Len()}
			startSeconds, startEpoch := run.Seconds, run.Epoch
			rec, err := run.Train(trainSet, testSet, out, classify.Hooks{
				Progress: pb,
				Epoch: func(r *classify.Run, rec classify.Record) {
					fmt.Fprintf(stderr, "epoch %d/%d: train loss %.4f, test loss %.4f, test accuracy %.2f%%\n",
						rec.Epoch, r.Config.Epochs, rec.TrainLoss, rec.TestLoss, 100*rec.TestAccuracy)
				},
			})
			if err != nil {
				return fmt.Errorf("train mnist: %w", err)
			}
			secs := run.Seconds - startSeconds
			rep := mnistTrainReport{
				Task: "mnist", Model: mnistModel, Epochs: run.Epoch, Steps: run.Step,
				TestAccuracy: rec.TestAccuracy, TestLoss: rec.TestLoss, TrainLoss: rec.TrainLoss,
				Seconds: run.Seconds, Optimizer: run.Config.Optimizer, LR: run.Config.LR,
				Batch: run.Config.Batch, Seed: run.Config.Seed,
				Checkpoint: filepath.Join(out, classify.CheckpointName),
				Metrics:    filepath.Join(out, "metrics.jsonl"),
				Plot:       filepath.Join(out, "metrics.png"),
			}
			if secs > 0 {
				rep.ImagesPerSecond = float64((run.Epoch-startEpoch)*trainSet.Len()) / secs
			}
			if asJSON {
				return printJSON(cmd, rep)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "test accuracy %.2f%% after %d epochs (%.0f s, %.0f images/s); checkpoint %s\n",
				100*rep.TestAccuracy, rep.Epochs, rep.Seconds, rep.ImagesPerSecond, rep.Checkpoint)
			return nil
		},
	}
	f := train.Flags()
	f.IntVar(&cfg.Epochs, "epochs", 2, "number of epochs")
	f.IntVar(&cfg.Batch, "batch", 16, "training batch size")
	f.Float64Var(&cfg.LR, "lr", 2e-3, "peak learning rate")
	f.StringVar(&cfg.Optimizer, "optimizer", "adamw", "adamw, adam, sgd or adadelta")
	f.Float64Var(&cfg.WeightDecay, "weight-decay", 0.01, "weight decay")
	f.StringVar(&cfg.Schedule, "schedule", "cosine", "learning-rate schedule: cosine, step or constant")
	f.IntVar(&cfg.Warmup, "warmup", 300, "linear warm-up steps")
	f.Float64Var(&cfg.LabelSmoothing, "label-smoothing", 0.1, "label smoothing of the training loss")
	f.Uint64Var(&cfg.Seed, "seed", 1, "random seed for initialisation, shuffling and dropout")
	f.StringVar(&out, "out", "runs/mnist", "output directory for the checkpoint, metrics.jsonl and metrics.png")
	f.StringVar(&resume, "resume", "", "continue the run saved in this checkpoint")
	f.StringVar(&dataDir, "data", "", "directory with the MNIST IDX files (default: the GoMNIST module)")
	f.IntVar(&limit, "limit", 0, "use only the first N training and test images (0: all)")
	f.BoolVar(&asJSON, "json", false, "print one JSON object with the results")
	return train
}

// newEvalMNISTCmd builds argus eval mnist.
func newEvalMNISTCmd() *cobra.Command {
	var ckpt, evalData string
	var evalJSON bool
	var evalBatch, evalLimit int
	eval := &cobra.Command{
		Use:   "mnist --checkpoint FILE",
		Short: "Evaluate an MNIST checkpoint on the 10,000 test digits",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if ckpt == "" {
				return fmt.Errorf("eval mnist: --checkpoint is required")
			}
			m := models.NewMNISTNet(tensor.NewRNG(0))
			if _, err := classify.LoadWeights(ckpt, mnistModel, m); err != nil {
				return err
			}
			_, testSet, err := loadMNIST(evalData, evalLimit)
			if err != nil {
				return err
			}
			start := time.Now()
			loss, acc := classify.Evaluate(m, testSet, evalBatch)
			rep := mnistEvalReport{Task: "mnist", Checkpoint: ckpt, Images: testSet.Len(),
				TestAccuracy: acc, TestLoss: loss, Seconds: time.Since(start).Seconds()}
			if evalJSON {
				return printJSON(cmd, rep)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "test accuracy %.2f%% (%d images), test loss %.4f\n", 100*acc, rep.Images, loss)
			return nil
		},
	}
	ef := eval.Flags()
	ef.StringVar(&ckpt, "checkpoint", "", "checkpoint written by argus train mnist")
	ef.StringVar(&evalData, "data", "", "directory with the MNIST IDX files (default: the GoMNIST module)")
	ef.IntVar(&evalBatch, "batch", 100, "evaluation batch size")
	ef.IntVar(&evalLimit, "limit", 0, "use only the first N test images (0: all)")
	ef.BoolVar(&evalJSON, "json", false, "print one JSON object with the results")
	return eval
}
