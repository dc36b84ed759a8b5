// Package finegrained trains and evaluates fine-grained classifiers on
// Vision Transformers with Dual Cross-Attention Learning (DCAL, arXiv
// 2205.02151) on the training loop of package train: its config, the
// datasets it reads (image folders and CUB-200-2011), the DCAL model of a
// registered ViT, initialisation from timm weights, the loss of the
// branches and the evaluation that adds the SA and GLCA class
// probabilities.
package finegrained

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync/atomic"

	"argus/autograd"
	"argus/checkpoint"
	"argus/data/dataset"
	"argus/data/imageio"
	"argus/data/loader"
	"argus/data/transform"
	"argus/dcal"
	"argus/models"
	"argus/nn"
	"argus/tasks/classify"
	"argus/tensor"
	"argus/train"
)

// Metadata keys of a fine-grained checkpoint, beside the loop's.
const (
	// MetaClassNames holds the class names as a JSON array in label
	// order (the key of tasks/classify).
	MetaClassNames = classify.MetaClassNames
	// MetaDCAL holds the branches, as --dcal spells them.
	MetaDCAL = "dcal"
)

// Config is a fine-grained run's settings: the loop's and the
// classification task's (classify.Config, inline), then DCAL's and the
// images'. It is written to the run folder as config.yaml and stored in
// every checkpoint.
type Config struct {
	classify.Config `yaml:",inline"`
	// DCAL names the branches: none, glca, pwca or glca,pwca.
	DCAL string `yaml:"dcal" json:"dcal"`
	// GLCARatio is the share of the patch tokens whose queries GLCA keeps
	// (0.1, the paper's for fine-grained recognition).
	GLCARatio float64 `yaml:"glca_ratio" json:"glca_ratio"`
	// DropPath is the stochastic-depth rate of the last block (DeiT's 0.1).
	DropPath float64 `yaml:"drop_path" json:"drop_path"`
	// Size is the side of the square training and evaluation crops, a
	// multiple of the ViT's patch; the position embedding is built (or
	// resampled from --init) for its grid.
	Size int `yaml:"size" json:"size"`
	// CropFraction is the crop's share of the resized image: images are
	// resized so that their shorter side is Size/CropFraction, then
	// cropped to Size×Size, at random in training and in the centre in
	// evaluation (448/550: the paper's resize 550, crop 448).
	CropFraction float64 `yaml:"crop_fraction" json:"crop_fraction"`
	// Flip is the probability of a horizontal flip in training.
	Flip float64 `yaml:"flip" json:"flip"`
	// Init, when not empty, is a safetensors state dict the ViT starts
	// from (timm's names; see Init); InitStrict refuses one with tensors
	// missing, extra or of the wrong shape.
	Init       string `yaml:"init,omitempty" json:"init,omitempty"`
	InitStrict bool   `yaml:"init_strict" json:"init_strict"`
	// SkipBad drops images that fail to decode from their batch (counted,
	// see Run.Skipped) instead of stopping at the first.
	SkipBad bool `yaml:"skip_bad" json:"skip_bad"`
}

// Default is the paper's recipe for fine-grained recognition on DeiT-tiny:
// 448×448 crops of images resized to 550, AdamW with weight decay 0.05 at
// lr 5e-4·batch/512 on a cosine schedule, batch 16, 100 epochs, drop path
// 0.1, both branches with R = 10% of the patches.
func Default() Config {
	return Config{
		Config: classify.Config{
			Model: "deit-tiny",
			Config: train.Config{Epochs: 100, Optimizer: "adamw", LR: 5e-4 * 16 / 512, WeightDecay: 0.05, Momentum: 0.9,
				Schedule: "cosine", Gamma: 0.7, Warmup: 0, Accumulate: 1, EvalEvery: 1, LogEvery: 50, Seed: 1},
			Batch: 16, EvalBatch: 32,
		},
		DCAL: "glca,pwca", GLCARatio: 0.1, DropPath: 0.1, Size: 448, CropFraction: 448.0 / 550, Flip: 0.5, InitStrict: true,
	}
}

// Validate reports the first setting that cannot train.
func (c *Config) Validate() error {
	if err := c.Config.Validate(); err != nil {
		return err
	}
	if _, _, err := models.ParseDCAL(c.DCAL); err != nil {
		return err
	}
	vc, ok := models.ViTPreset(c.Model)
	switch {
	case !ok:
		return fmt.Errorf("model %q is not a ViT (want deit-tiny, deit-small or vit-base)", c.Model)
	case !(c.GLCARatio > 0 && c.GLCARatio <= 1):
		return fmt.Errorf("glca_ratio must be in (0, 1], got %g", c.GLCARatio)
	case !(c.DropPath >= 0 && c.DropPath < 1):
		return fmt.Errorf("drop_path must be in [0, 1), got %g", c.DropPath)
	case c.Size < vc.Patch || c.Size%vc.Patch != 0 || c.Size > 4096:
		return fmt.Errorf("size must be a multiple of %s's patch of %d up to 4096, got %d", c.Model, vc.Patch, c.Size)
	case !(c.CropFraction > 0 && c.CropFraction <= 1):
		return fmt.Errorf("crop_fraction must be in (0, 1], got %g", c.CropFraction)
	case !(c.Flip >= 0 && c.Flip <= 1):
		return fmt.Errorf("flip must be in [0, 1], got %g", c.Flip)
	}
	return nil
}

// Options returns the DCAL branches of c.
func (c *Config) Options() models.DCALOptions {
	g, p, _ := models.ParseDCAL(c.DCAL)
	return models.DCALOptions{GLCA: g, PWCA: p, GLCARatio: c.GLCARatio}
}

// ViTConfig returns the ViT of c for classes classes: the registry's
// preset with c's grid and drop path.
func (c *Config) ViTConfig(classes int) models.ViTConfig {
	vc, _ := models.ViTPreset(c.Model)
	vc.Classes = classes
	vc.GridH, vc.GridW = c.Size/vc.Patch, c.Size/vc.Patch
	vc.DropPath = float32(c.DropPath)
	return vc
}

// NewModel builds the DCAL model of c for classes classes, its weights
// drawn from rng.
func (c *Config) NewModel(rng *tensor.RNG, classes int) (*models.DCAL, error) {
	return models.NewDCAL(rng, c.ViTConfig(classes), c.Options())
}

// TrainTransform returns the training augmentation: the shorter side
// resized to Size/CropFraction, a random Size×Size crop, a flip.
func (c *Config) TrainTransform() transform.Transform {
	return transform.Compose{
		transform.ResizeShorter{Size: c.resized()},
		transform.RandomCrop{W: c.Size, H: c.Size},
		transform.HFlip{P: c.Flip},
	}
}

// EvalTransform returns the evaluation view: the shorter side resized to
// Size/CropFraction, the centre Size×Size crop.
func (c *Config) EvalTransform() transform.Transform {
	return transform.Compose{transform.ResizeShorter{Size: c.resized()}, transform.CenterCrop{W: c.Size, H: c.Size}}
}

func (c *Config) resized() int { return max(int(math.Round(float64(c.Size)/c.CropFraction)), c.Size) }

// ReadData reads a fine-grained dataset: the CUB-200-2011 layout when root
// holds images.txt, else image folders (root/train/CLASS/, root/val/CLASS/,
// as dataset.ReadImageNet reads them and argus data synth finegrained
// writes them).
func ReadData(root string) (trainSet, val *dataset.Set, err error) {
	if root == "" {
		return nil, nil, fmt.Errorf("--data is required")
	}
	if dataset.IsCUB(root) {
		return dataset.ReadCUB(root)
	}
	return dataset.ReadImageNet(root, "")
}

// Trainer is a fine-grained run on the training loop.
type Trainer = train.Trainer[*loader.Images]

// Run is a fine-grained run and its model.
type Run struct {
	Trainer *Trainer
	Model   *models.DCAL
	// Init reports what an --init file left out (nil without one).
	Init *InitReport
	// skipped counts the images dropped with SkipBad.
	skipped *Skipping
}

// Skipped returns the number of image reads that failed and were dropped
// with SkipBad in this session (an image bad in every epoch counts once an
// epoch).
func (r *Run) Skipped() int { return r.skipped.Count() }

// Skipping wraps a dataset of a loader with SkipErrors: it counts the
// samples that fail to load, and reports each on Log when not nil.
type Skipping struct {
	loader.Dataset
	n   atomic.Int64
	Log func(error)
}

// Get implements loader.Dataset.
func (s *Skipping) Get(i int, st *transform.State) (*transform.Sample, error) {
	smp, err := s.Dataset.Get(i, st)
	if err != nil {
		s.n.Add(1)
		if s.Log != nil {
			s.Log(err)
		}
	}
	return smp, err
}

// Count returns the failures so far (0 for a nil Skipping).
func (s *Skipping) Count() int {
	if s == nil {
		return 0
	}
	return int(s.n.Load())
}

// NewTrainer builds a fresh run of cfg on the train and val splits: the
// DCAL model with one output per class (from cfg.Init when set), batches
// shuffled and augmented from cfg.Seed, PWCA's partners drawn from the
// run's generator, the loss terms of models.DCAL.Losses ("sa", "glca",
// "pwca": uncertainty-weighted with more than one), and an evaluation on
// val giving "val_loss", "top1", "top5", "top1_sa" and "top1_glca".
func NewTrainer(cfg Config, trainSet, val *dataset.Set) (*Run, error) {
	cfg.Fill()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if !slices.Equal(trainSet.Classes, val.Classes) {
		return nil, fmt.Errorf("the train and val splits name different classes")
	}
	classes := len(trainSet.Classes)
	tr, ev := *spread(trainSet, cfg.Limit), *spread(val, cfg.Limit)
	if len(tr.Items) == 0 || len(ev.Items) == 0 {
		return nil, fmt.Errorf("no training or no validation images")
	}
	tr.Transform = cfg.TrainTransform()
	ev.Transform = cfg.EvalTransform()
	rng := tensor.NewRNG(cfg.Seed)
	m, err := cfg.NewModel(rng, classes)
	if err != nil {
		return nil, err
	}
	run := &Run{Model: m}
	if cfg.Init != "" {
		f, err := checkpoint.ReadFile(cfg.Init)
		if err != nil {
			return nil, fmt.Errorf("--init: %w", err)
		}
		if run.Init, err = Init(f, m, cfg.InitStrict); err != nil {
			return nil, fmt.Errorf("--init %s: %w", cfg.Init, err)
		}
	}
	var trainDS loader.Dataset = &tr
	var evalDS loader.Dataset = &ev
	if cfg.SkipBad {
		run.skipped = &Skipping{Dataset: &tr}
		trainDS, evalDS = run.skipped, &Skipping{Dataset: &ev}
	}
	data := loader.New([]loader.Dataset{trainDS},
		loader.Indices{N: len(tr.Items), BatchSize: cfg.Batch, Shuffle: true, Seed: cfg.Seed},
		loader.Stack(imageio.ImageNetMean, imageio.ImageNetStd), loader.Options{Workers: cfg.Workers, Seed: cfg.Seed, SkipErrors: cfg.SkipBad})
	names, err := json.Marshal(trainSet.Classes)
	if err != nil {
		return nil, fmt.Errorf("encode class names: %w", err)
	}
	smoothing := autograd.CrossEntropyOptions{LabelSmoothing: float32(cfg.LabelSmoothing)}
	branches := m.Branches()
	task := train.Task[*loader.Images]{
		Model: cfg.Model, Module: m, RNG: rng, Data: data,
		EpochSize: len(tr.Items),
		Count:     func(b *loader.Images) int { return len(b.Labels) },
		Loss: func(b *loader.Images) ([]train.Term, error) {
			var partners []int
			if m.Options.PWCA {
				partners = dcal.Partners(rng, len(b.Labels))
			}
			terms, _ := m.Losses(autograd.Const(b.X), b.Labels, partners, smoothing)
			out := make([]train.Term, len(terms))
			for i, t := range terms {
				out[i] = train.Term{Name: branches[i], Loss: t}
			}
			return out, nil
		},
		Eval: func() (map[string]float64, error) {
			s, err := Evaluate(context.Background(), m, evalDS, cfg.EvalBatch, cfg.Workers, cfg.SkipBad)
			if err != nil {
				return nil, err
			}
			return s.Metrics(), nil
		},
		Config: cfg,
		// The weights of a resumed run come from its checkpoint, not --init;
		// skip_bad changes no step of a run whose images all decode, and
		// lets one that stopped at a bad image go on.
		Resumable: []string{"eval_batch", "workers", "init", "init_strict", "skip_bad"},
		Metadata: map[string]string{checkpoint.MetaClasses: strconv.Itoa(classes), MetaClassNames: string(names),
			MetaDCAL: m.Options.String()},
	}
	run.Trainer, err = train.New(cfg.Config.Config, task)
	return run, err
}

// spread returns n items of s spread evenly over it, or s itself when n
// is not positive or not smaller than its length.
func spread(s *dataset.Set, n int) *dataset.Set {
	if n <= 0 || n >= len(s.Items) {
		return s
	}
	c := *s
	c.Items = make([]dataset.Item, n)
	for i := range c.Items {
		c.Items[i] = s.Items[i*len(s.Items)/n]
	}
	return &c
}

// Scores are a fine-grained evaluation.
type Scores struct {
	// Top1, Top5 and Loss score the model's prediction: the mean of the SA
	// and GLCA class probabilities (the SA branch's alone without GLCA).
	Top1, Top5, Loss float64
	// Top1SA and Top1GLCA are each branch's own top-1 (Top1GLCA NaN
	// without GLCA).
	Top1SA, Top1GLCA float64
	// Images is the number of images evaluated.
	Images int
}

// Metrics returns s as the loop's metrics (top1_glca only with GLCA).
func (s Scores) Metrics() map[string]float64 {
	m := map[string]float64{"val_loss": s.Loss, "top1": s.Top1, "top5": s.Top5, "top1_sa": s.Top1SA}
	if !math.IsNaN(s.Top1GLCA) {
		m["top1_glca"] = s.Top1GLCA
	}
	return m
}

// Evaluate scores m on set (with the evaluation view as its transform) in
// evaluation mode without gradients, in batches of batch built by workers
// goroutines; with skip, images that fail to load are left out.
func Evaluate(ctx context.Context, m *models.DCAL, set loader.Dataset, batch, workers int, skip bool) (Scores, error) {
	nn.Train(m, false)
	defer nn.Train(m, true)
	var sa, gl, both classify.Probs
	err := Predict(ctx, m, set, batch, workers, skip, func(b *loader.Images, p Prediction) error {
		sa.P, sa.Classes = append(sa.P, p.SA...), p.Classes
		sa.Labels = append(sa.Labels, b.Labels...)
		if p.GLCA != nil {
			gl.P, gl.Classes = append(gl.P, p.GLCA...), p.Classes
			gl.Labels = append(gl.Labels, b.Labels...)
		}
		both.P, both.Classes = append(both.P, p.P...), p.Classes
		both.Labels = append(both.Labels, b.Labels...)
		return nil
	})
	if err != nil {
		return Scores{}, err
	}
	s := both.Score()
	out := Scores{Top1: s.Top1, Top5: s.Top5, Loss: s.Loss, Top1SA: sa.Score().Top1, Top1GLCA: math.NaN(), Images: len(both.Labels)}
	if gl.P != nil {
		out.Top1GLCA = gl.Score().Top1
	}
	return out, nil
}

// Prediction is the class probabilities of a batch: rows of Classes
// values for each image, the SA branch's, the GLCA branch's (nil without
// it) and the model's, their mean. Rollout is the class row of the
// attention rollout over the patches (N rows) and Queries GLCA's query
// tokens (nil without GLCA).
type Prediction struct {
	Classes     int
	SA, GLCA, P []float64
	Rollout     *tensor.Tensor
	Queries     [][]int
}

// Infer runs m on a normalised batch x (N, 3, Size, Size) without
// gradients (the caller sets evaluation mode) and returns its
// prediction.
func Infer(m *models.DCAL, x *tensor.Tensor) Prediction {
	var o models.DCALOutputs
	nn.NoGrad(m, func() { o = m.Run(autograd.Const(x), nil) })
	k := o.SA.Shape()[1]
	p := Prediction{Classes: k, SA: softmax(o.SA.Value().Data(), k), Queries: o.Queries, Rollout: o.Rollout}
	if o.Rollout == nil {
		p.Rollout = dcal.Rollout(o.Attn)
	}
	p.P = p.SA
	if o.GLCA != nil {
		p.GLCA = softmax(o.GLCA.Value().Data(), k)
		p.P = make([]float64, len(p.SA))
		for i := range p.P {
			p.P[i] = 0.5 * (p.SA[i] + p.GLCA[i])
		}
	}
	return p
}

// Predict runs m over set in order (batches of batch, workers goroutines
// decoding; with skip, images that fail to load are left out) and calls
// fn with each batch and its prediction.
func Predict(ctx context.Context, m *models.DCAL, set loader.Dataset, batch, workers int, skip bool, fn func(*loader.Images, Prediction) error) error {
	l := loader.New([]loader.Dataset{set}, loader.Indices{N: set.Len(), BatchSize: max(batch, 1)},
		loader.Stack(imageio.ImageNetMean, imageio.ImageNetStd), loader.Options{Workers: workers, SkipErrors: skip})
	it, err := l.Epoch(ctx, 0)
	if err != nil {
		return err
	}
	defer it.Close()
	for {
		b, err := it.Next()
		if err == loader.ErrDone {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(b.Data, Infer(m, b.Data.X)); err != nil {
			return err
		}
	}
}

// softmax returns the softmax of each row of logits, in float64.
func softmax(logits []float32, classes int) []float64 {
	out := make([]float64, len(logits))
	for r := 0; r < len(logits); r += classes {
		row := logits[r : r+classes]
		hi := float64(slices.Max(row))
		var sum float64
		for j, v := range row {
			out[r+j] = math.Exp(float64(v) - hi)
			sum += out[r+j]
		}
		for j := range row {
			out[r+j] /= sum
		}
	}
	return out
}
