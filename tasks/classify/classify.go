// Package classify trains and evaluates image classifiers on the training
// loop of package train: its config, its cross-entropy loss and its
// evaluation (test loss and accuracy).
package classify

import (
	"fmt"

	"argus/autograd"
	"argus/data/imageio"
	"argus/data/loader"
	"argus/data/transform"
	"argus/nn"
	"argus/tensor"
	"argus/train"
)

// Dataset is a list of labelled images.
type Dataset interface {
	Len() int
	// Batch returns the images at idx as one (len(idx), C, H, W) tensor and
	// their class labels.
	Batch(idx []int) (*tensor.Tensor, []int)
}

// Model maps a batch of images to class logits.
type Model interface {
	nn.Module
	Forward(x *autograd.Var) *autograd.Var
}

// Config is a classification run's settings: the loop's, inline, then the
// task's. It is written to the run folder as config.yaml and stored in
// every checkpoint, so a resumed run uses the settings it started with.
type Config struct {
	// Model names the architecture; checkpoints of another model are
	// refused.
	Model        string `yaml:"model" json:"model"`
	train.Config `yaml:",inline"`
	// Batch is the training batch size.
	Batch int `yaml:"batch" json:"batch"`
	// Rank and World place this process in a data-parallel run of World
	// processes (dist.Comm's rank and size; World 0 means 1): Batch stays
	// the global batch and this process trains on its share, Batch/World
	// samples of every batch, sharded as PyTorch's DistributedSampler
	// shards. They come from the launcher, not the settings, so neither is
	// stored, and a run may resume with another World.
	Rank  int `yaml:"-" json:"-"`
	World int `yaml:"-" json:"-"`
	// EvalBatch is the batch size for evaluation (default 100: larger
	// batches are slower, their activations no longer fit in cache).
	EvalBatch int `yaml:"eval_batch" json:"eval_batch"`
	// LabelSmoothing mixes the one-hot training target with the uniform
	// distribution (evaluation uses plain cross-entropy).
	LabelSmoothing float64 `yaml:"label_smoothing" json:"label_smoothing"`
	// Limit, when positive, uses only the first Limit training and test
	// images, for quick runs.
	Limit int `yaml:"limit" json:"limit"`
	// Workers is the number of goroutines building batches (0: one per
	// CPU); it changes no result.
	Workers int `yaml:"workers" json:"workers"`
	// Data is the absolute path of the dataset's folder, empty for the
	// default copy (MNIST's inside the GoMNIST module). It is stored so
	// that a resumed run reads the data it started with.
	Data string `yaml:"data,omitempty" json:"data,omitempty"`
}

// Bounds of a classification run's settings, refused above: larger
// batches or more workers than these only exhaust memory.
const (
	MaxBatch   = 1 << 16
	MaxEpochs  = 1 << 20
	MaxWorkers = 1 << 10
)

// MNIST is the recipe of `argus train mnist`: PyTorch's MNIST network
// trained with AdamW, a cosine schedule after a short warm-up, and label
// smoothing, which reaches 99.1% test accuracy in two epochs.
func MNIST() Config {
	return Config{
		Model: "mnist-cnn",
		Config: train.Config{Epochs: 2, Optimizer: "adamw", LR: 2e-3, WeightDecay: 0.01, Momentum: 0.9,
			Schedule: "cosine", Gamma: 0.7, Warmup: 300, Accumulate: 1, EvalEvery: 1, LogEvery: 50, Seed: 1},
		Batch: 16, EvalBatch: 100, LabelSmoothing: 0.1,
	}
}

// Fill sets the defaults of settings left at zero.
func (c *Config) Fill() {
	c.Config.Fill()
	if c.EvalBatch == 0 {
		c.EvalBatch = 100
	}
}

// Validate reports the first setting that cannot train.
func (c *Config) Validate() error {
	if err := c.Config.Validate(); err != nil {
		return err
	}
	switch {
	case c.Epochs > MaxEpochs:
		return fmt.Errorf("epochs must be at most %d, got %d", MaxEpochs, c.Epochs)
	case c.Batch < 1 || c.Batch > MaxBatch:
		return fmt.Errorf("batch must be 1 to %d, got %d", MaxBatch, c.Batch)
	case c.EvalBatch < 1 || c.EvalBatch > MaxBatch:
		return fmt.Errorf("eval batch must be 1 to %d, got %d", MaxBatch, c.EvalBatch)
	case c.Accumulate > MaxBatch:
		return fmt.Errorf("accumulate must be at most %d, got %d", MaxBatch, c.Accumulate)
	case !(c.LabelSmoothing >= 0 && c.LabelSmoothing < 1):
		return fmt.Errorf("label smoothing must be in [0, 1), got %g", c.LabelSmoothing)
	case c.Limit < 0:
		return fmt.Errorf("limit must not be negative, got %d", c.Limit)
	case c.Workers < 0 || c.Workers > MaxWorkers:
		return fmt.Errorf("workers must be 0 to %d, got %d", MaxWorkers, c.Workers)
	}
	return nil
}

// Trainer is a classification run on the training loop.
type Trainer = train.Trainer[*loader.Images]

// world returns the number of processes of the run, at least 1.
func (c *Config) world() int { return max(c.World, 1) }

// checkShard reports a Rank and World that cannot shard the batches.
func (c *Config) checkShard() error {
	switch {
	case c.World < 0 || c.Rank < 0 || c.Rank >= c.world():
		return fmt.Errorf("rank %d outside a run of %d processes", c.Rank, c.world())
	case c.Batch%c.world() != 0:
		return fmt.Errorf("the batch of %d does not split over %d processes: make it a multiple of %d", c.Batch, c.world(), c.world())
	}
	return nil
}

// NewTrainer builds a fresh run of cfg: the model from build with a
// generator seeded by cfg.Seed, which then also drives dropout; batches
// shuffled by a sampler seeded by cfg.Seed and the epoch (this process's
// share of them in a data-parallel run); the loss term "cross_entropy";
// and an evaluation on test giving "test_loss" and "test_accuracy", on
// rank 0 alone.
func NewTrainer(cfg Config, build func(*tensor.RNG) Model, trainSet, test Dataset) (*Trainer, error) {
	cfg.Fill()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := cfg.checkShard(); err != nil {
		return nil, err
	}
	trainSet, test = First(trainSet, cfg.Limit), First(test, cfg.Limit)
	if trainSet.Len() == 0 {
		return nil, fmt.Errorf("no training images")
	}
	rng := tensor.NewRNG(cfg.Seed)
	m := build(rng)
	world := cfg.world()
	data := loader.New([]loader.Dataset{samples{trainSet}},
		loader.Indices{N: trainSet.Len(), BatchSize: cfg.Batch / world, Shuffle: true, Seed: cfg.Seed, Rank: cfg.Rank, World: world},
		loader.Stack(nil, nil), loader.Options{Workers: cfg.Workers, Seed: cfg.Seed})
	smoothing := autograd.CrossEntropyOptions{LabelSmoothing: float32(cfg.LabelSmoothing)}
	task := train.Task[*loader.Images]{
		Model: cfg.Model, Module: m, RNG: rng, Data: data,
		EpochSize: (trainSet.Len() + world - 1) / world,
		Count:     func(b *loader.Images) int { return len(b.Labels) },
		Loss: func(b *loader.Images) ([]train.Term, error) {
			loss := autograd.CrossEntropy(m.Forward(autograd.Const(b.X)), b.Labels, smoothing)
			return []train.Term{{Name: "cross_entropy", Loss: loss}}, nil
		},
		Eval: func() (map[string]float64, error) {
			loss, acc := Evaluate(m, test, cfg.EvalBatch)
			return map[string]float64{"test_loss": loss, "test_accuracy": acc}, nil
		},
		Config: cfg,
		// Neither changes a training step: evaluation is outside the
		// steps, and the batches are the same for any number of workers.
		Resumable: []string{"eval_batch", "workers"},
	}
	if cfg.Rank != 0 {
		// Rank 0 writes the metrics; the others need not evaluate.
		task.Eval = nil
	}
	return train.New(cfg.Config, task)
}

// First returns the first n images of ds, or ds itself when n is not
// positive or not smaller than its length.
func First(ds Dataset, n int) Dataset {
	if n <= 0 || n >= ds.Len() {
		return ds
	}
	return first{ds, n}
}

type first struct {
	Dataset
	n int
}

func (f first) Len() int { return f.n }

// samples presents a Dataset to the loader one image at a time. The images
// are already normalised, so the loader's collation copies them unchanged.
type samples struct{ ds Dataset }

func (s samples) Len() int { return s.ds.Len() }

func (s samples) Get(i int, _ *transform.State) (*transform.Sample, error) {
	x, y := s.ds.Batch([]int{i})
	sh := x.Shape()
	return &transform.Sample{Image: &imageio.Image{C: sh[1], H: sh[2], W: sh[3], Pix: x.Data()}, Label: y[0]}, nil
}

// Evaluate returns the mean cross-entropy and the accuracy of m on ds, in
// evaluation mode and without recording gradients.
func Evaluate(m Model, ds Dataset, batch int) (loss, accuracy float64) {
	if batch < 1 {
		batch = 100
	}
	n := ds.Len()
	batch = min(batch, max(n, 1))
	nn.Train(m, false)
	defer nn.Train(m, true)
	correct := 0
	nn.NoGrad(m, func() {
		idx := make([]int, 0, batch)
		for lo := 0; lo < n; lo += batch {
			idx = idx[:0]
			for i := lo; i < min(lo+batch, n); i++ {
				idx = append(idx, i)
			}
			x, y := ds.Batch(idx)
			logits := m.Forward(autograd.Const(x))
			l := autograd.CrossEntropy(logits, y, autograd.CrossEntropyOptions{})
			loss += float64(l.Value().Item()) * float64(len(idx))
			c := logits.Shape()[1]
			d := logits.Value().Data()
			for i, want := range y {
				row := d[i*c : (i+1)*c]
				best := 0
				for j, v := range row {
					if v > row[best] {
						best = j
					}
				}
				if best == want {
					correct++
				}
			}
		}
	})
	if n == 0 {
		return 0, 0
	}
	return loss / float64(n), float64(correct) / float64(n)
}
