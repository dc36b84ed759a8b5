package classify

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"

	"argus/autograd"
	"argus/checkpoint"
	"argus/data/dataset"
	"argus/data/imageio"
	"argus/data/loader"
	"argus/data/transform"
	"argus/models"
	"argus/tensor"
	"argus/train"
)

// MetaClassNames is the checkpoint metadata key holding the class names of
// a run on image folders as a JSON array, in label order, so that an
// evaluation can check that its dataset numbers the classes the same way.
const MetaClassNames = "class_names"

// DeepImage holds the parameters of Deep Image's augmentations (arXiv
// 1501.02876) that `aug: deepimage` adds to the random crop and
// the flip of the standard recipe. Each is applied to the crop, in the
// order rotation, lens distortion, colour casting, vignetting; a zero
// probability or magnitude turns one off.
type DeepImage struct {
	// RotateP is the probability of a rotation by an angle drawn uniformly
	// from [−RotateDegrees, RotateDegrees].
	RotateP       float64 `yaml:"rotate_p" json:"rotate_p"`
	RotateDegrees float64 `yaml:"rotate_degrees" json:"rotate_degrees"`
	// LensP is the probability of radial lens distortion with a
	// coefficient drawn from [−LensK, LensK] (below 1/3; positive is
	// barrel distortion).
	LensP float64 `yaml:"lens_p" json:"lens_p"`
	LensK float64 `yaml:"lens_k" json:"lens_k"`
	// ColorCastP is the probability of shifting each of R, G and B by its
	// own amount drawn from [−ColorCastShift, ColorCastShift] (pixel values
	// in [0, 1]: the paper's ±20 of 255 is 0.078).
	ColorCastP     float64 `yaml:"color_cast_p" json:"color_cast_p"`
	ColorCastShift float64 `yaml:"color_cast_shift" json:"color_cast_shift"`
	// VignetteP is the probability of darkening the periphery by
	// 1 − a·(r/R)², a drawn from [0, VignetteStrength].
	VignetteP        float64 `yaml:"vignette_p" json:"vignette_p"`
	VignetteStrength float64 `yaml:"vignette_strength" json:"vignette_strength"`
}

// DefaultDeepImage returns the paper's augmentation strengths: colour
// casts of up to ±20 of 255, vignetting, lens distortion and small
// rotations, each on half the images.
func DefaultDeepImage() DeepImage {
	return DeepImage{RotateP: 0.5, RotateDegrees: 10, LensP: 0.5, LensK: 0.2,
		ColorCastP: 0.5, ColorCastShift: 20.0 / 255, VignetteP: 0.5, VignetteStrength: 0.5}
}

// Validate reports the first parameter outside its range.
func (d DeepImage) Validate() error {
	prob := func(name string, p float64) error {
		if !(p >= 0 && p <= 1) {
			return fmt.Errorf("deepimage %s must be in [0, 1], got %g", name, p)
		}
		return nil
	}
	for _, c := range []struct {
		name string
		p    float64
	}{{"rotate_p", d.RotateP}, {"lens_p", d.LensP}, {"color_cast_p", d.ColorCastP}, {"vignette_p", d.VignetteP}} {
		if err := prob(c.name, c.p); err != nil {
			return err
		}
	}
	switch {
	case !(d.RotateDegrees >= 0 && d.RotateDegrees <= 180):
		return fmt.Errorf("deepimage rotate_degrees must be in [0, 180], got %g", d.RotateDegrees)
	case !(d.LensK >= 0 && d.LensK < 1.0/3):
		return fmt.Errorf("deepimage lens_k must be in [0, 1/3), got %g", d.LensK)
	case !(d.ColorCastShift >= 0 && d.ColorCastShift <= 1):
		return fmt.Errorf("deepimage color_cast_shift must be in [0, 1], got %g", d.ColorCastShift)
	case !(d.VignetteStrength >= 0 && d.VignetteStrength <= 1):
		return fmt.Errorf("deepimage vignette_strength must be in [0, 1], got %g", d.VignetteStrength)
	}
	return nil
}

// Transforms returns the augmentations d adds, in the order they apply.
func (d DeepImage) Transforms() transform.Compose {
	rotate := transform.Rotate{MaxDegrees: d.RotateDegrees}
	return transform.Compose{
		transform.Func(func(s *transform.Sample, st *transform.State) error {
			if st.Rand.Float64() >= d.RotateP {
				return nil
			}
			return rotate.Apply(s, st)
		}),
		transform.LensDistortion{P: d.LensP, MaxK: d.LensK},
		transform.ColorCast{P: d.ColorCastP, MaxShift: float32(d.ColorCastShift)},
		transform.Vignette{P: d.VignetteP, MaxStrength: d.VignetteStrength},
	}
}

// FolderConfig is the settings of a classifier trained on image folders
// in the ImageNet layout: the loop's and the task's (Config, inline), then
// the images'.
type FolderConfig struct {
	Config `yaml:",inline"`
	// Aug is the training augmentation: "standard" (torchvision's ImageNet
	// recipe: a random crop of CropMinArea to all of the image's area,
	// resized to the training size, and a flip with probability Flip) or
	// "deepimage" (the same, then Deep Image's augmentations).
	Aug         string  `yaml:"aug" json:"aug"`
	CropMinArea float64 `yaml:"crop_min_area" json:"crop_min_area"`
	Flip        float64 `yaml:"flip" json:"flip"`
	// DeepImage holds the parameters of the deepimage augmentations.
	DeepImage DeepImage `yaml:"deepimage" json:"deepimage"`
	// Size is the side of the square training crops and of the evaluation
	// crops.
	Size int `yaml:"size" json:"size"`
	// Scales, when not empty, is multi-scale training: each batch is
	// trained at a side drawn from Scales, the same for the same seed,
	// epoch and batch (transform.MultiScale); Size is then the evaluation
	// size only.
	Scales []int `yaml:"scales" json:"scales"`
	// CropFraction is the share of the shorter side that the evaluation's
	// centre crop keeps: images are resized so that the shorter side is
	// Size/CropFraction, then cropped to Size×Size (0.875: resize 256,
	// crop 224).
	CropFraction float64 `yaml:"crop_fraction" json:"crop_fraction"`
}

// ImageNet is the recipe of `argus train classify`: torchvision's ResNet
// recipe (SGD with momentum 0.9 and weight decay 1e-4, batch 256, 224×224
// crops, 90 epochs) with a cosine schedule after a short warm-up.
func ImageNet() FolderConfig {
	return FolderConfig{
		Config: Config{
			Model: "resnet18",
			Config: train.Config{Epochs: 90, Optimizer: "sgd", LR: 0.1, WeightDecay: 1e-4, Momentum: 0.9,
				Schedule: "cosine", Gamma: 0.7, Warmup: 500, Accumulate: 1, EvalEvery: 1, LogEvery: 50, Seed: 1},
			Batch: 256, EvalBatch: 100,
		},
		Aug: "standard", CropMinArea: 0.08, Flip: 0.5, DeepImage: DefaultDeepImage(),
		Size: 224, CropFraction: 0.875,
	}
}

// Validate reports the first setting that cannot train.
func (c *FolderConfig) Validate() error {
	if err := c.Config.Validate(); err != nil {
		return err
	}
	switch c.Aug {
	case "standard", "deepimage":
	default:
		return fmt.Errorf("unknown aug %q (have standard, deepimage)", c.Aug)
	}
	switch {
	case !(c.CropMinArea > 0 && c.CropMinArea <= 1):
		return fmt.Errorf("crop_min_area must be in (0, 1], got %g", c.CropMinArea)
	case !(c.Flip >= 0 && c.Flip <= 1):
		return fmt.Errorf("flip must be in [0, 1], got %g", c.Flip)
	case c.Size < 1:
		return fmt.Errorf("size must be positive, got %d", c.Size)
	case !(c.CropFraction > 0 && c.CropFraction <= 1):
		return fmt.Errorf("crop_fraction must be in (0, 1], got %g", c.CropFraction)
	}
	for _, s := range c.Scales {
		if s < 1 {
			return fmt.Errorf("scales must be positive, got %d", s)
		}
	}
	return c.DeepImage.Validate()
}

// TrainTransform returns the training augmentation c names. With Scales
// the crops take the batch's size (State.Size), else Size.
func (c *FolderConfig) TrainTransform() transform.Transform {
	crop := transform.RandomResizedCrop{W: c.Size, H: c.Size, Scale: [2]float64{c.CropMinArea, 1}}
	if len(c.Scales) > 0 {
		crop.W, crop.H = 0, 0
	}
	t := transform.Compose{crop, transform.HFlip{P: c.Flip}}
	if c.Aug == "deepimage" {
		t = append(t, c.DeepImage.Transforms()...)
	}
	return t
}

// EvalTransform returns the evaluation view at side size: the shorter side
// resized to size/CropFraction, then the centre size×size crop.
func (c *FolderConfig) EvalTransform(size int) transform.Transform {
	return transform.Compose{
		transform.ResizeShorter{Size: int(math.Round(float64(size) / c.CropFraction))},
		transform.CenterCrop{W: size, H: size},
	}
}

// ModelSpec returns the registry's spec of the named model with the given
// number of classes (0: the model's own, to check a name before the data
// is read).
func ModelSpec(name string, classes int) (models.Spec, error) {
	s, err := models.Lookup(name)
	if err != nil {
		return models.Spec{}, err
	}
	if s.Task != models.TaskClassify {
		return models.Spec{}, fmt.Errorf("model %s is a %s model, not a classifier", name, s.Task)
	}
	if classes == 0 {
		return s, nil
	}
	return s.WithClasses(classes)
}

// spread returns n items of s spread evenly over it (every class keeps its
// share), or s itself when n is not positive or not smaller than its
// length.
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

// NewFolderTrainer builds a fresh run of cfg on the train and val splits of
// an image-folder dataset (dataset.ReadImageNet): the registry's model with
// one output per class, batches shuffled and augmented from cfg.Seed, the
// loss term "cross_entropy", and an evaluation on val at cfg.Size giving
// "val_loss", "top1" and "top5", on rank 0 alone. In a data-parallel run
// (cfg.Rank, cfg.World) this process trains on its share of every batch,
// cfg.Batch/cfg.World images, as NewTrainer shards them. The checkpoints
// record the number of classes (checkpoint.MetaClasses) and their names
// (MetaClassNames).
func NewFolderTrainer(cfg FolderConfig, trainSet, val *dataset.Set) (*Trainer, error) {
	cfg.Fill()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := cfg.checkShard(); err != nil {
		return nil, err
	}
	if !slices.Equal(trainSet.Classes, val.Classes) {
		return nil, fmt.Errorf("the train and val splits name different classes")
	}
	classes := len(trainSet.Classes)
	spec, err := ModelSpec(cfg.Model, classes)
	if err != nil {
		return nil, err
	}
	for _, s := range append([]int{cfg.Size}, cfg.Scales...) {
		if err := spec.CheckSize(s, s); err != nil {
			return nil, err
		}
	}
	tr, ev := *spread(trainSet, cfg.Limit), *spread(val, cfg.Limit)
	if len(tr.Items) == 0 || len(ev.Items) == 0 {
		return nil, fmt.Errorf("no training or no validation images")
	}
	tr.Transform = cfg.TrainTransform()
	ev.Transform = cfg.EvalTransform(cfg.Size)
	rng := tensor.NewRNG(cfg.Seed)
	mod, err := spec.New(rng)
	if err != nil {
		return nil, err
	}
	world := cfg.world()
	data := loader.New([]loader.Dataset{&tr},
		loader.Indices{N: len(tr.Items), BatchSize: cfg.Batch / world, Shuffle: true, Seed: cfg.Seed, Rank: cfg.Rank, World: world},
		loader.Stack(imageio.ImageNetMean, imageio.ImageNetStd),
		loader.Options{Workers: cfg.Workers, Seed: cfg.Seed, Scales: transform.MultiScale{Sizes: cfg.Scales, Seed: cfg.Seed}})
	names, err := json.Marshal(trainSet.Classes)
	if err != nil {
		return nil, fmt.Errorf("encode class names: %w", err)
	}
	smoothing := autograd.CrossEntropyOptions{LabelSmoothing: float32(cfg.LabelSmoothing)}
	task := train.Task[*loader.Images]{
		Model: cfg.Model, Module: mod, RNG: rng, Data: data,
		EpochSize: (len(tr.Items) + world - 1) / world,
		Count:     func(b *loader.Images) int { return len(b.Labels) },
		Loss: func(b *loader.Images) ([]train.Term, error) {
			loss := autograd.CrossEntropy(mod.Forward(autograd.Const(b.X)), b.Labels, smoothing)
			return []train.Term{{Name: "cross_entropy", Loss: loss}}, nil
		},
		Eval: func() (map[string]float64, error) {
			p, err := Probabilities(context.Background(), &ev, cfg.EvalBatch, cfg.Workers, false, func(x *tensor.Tensor) ([]float32, error) {
				return mod.Forward(autograd.Const(x)).Value().Data(), nil
			})
			if err != nil {
				return nil, err
			}
			s := p.Score()
			return map[string]float64{"val_loss": s.Loss, "top1": s.Top1, "top5": s.Top5}, nil
		},
		Config:    cfg,
		Resumable: []string{"eval_batch", "workers"},
		Metadata:  map[string]string{checkpoint.MetaClasses: strconv.Itoa(classes), MetaClassNames: string(names)},
	}
	if cfg.Rank != 0 {
		// Rank 0 writes the metrics; the others need not evaluate.
		task.Eval = nil
	}
	return train.New(cfg.Config.Config, task)
}

// Probs holds class probabilities of a dataset's images: row i of P (of
// Classes values) is image i's, Labels[i] its true class.
type Probs struct {
	P       []float64
	Classes int
	Labels  []int
	// LogTrue, when not nil, holds the natural log of each image's
	// true-class probability, which Probabilities computes from the
	// logits: a confident mistake's probability in P rounds to 0 (or
	// below any floor), its log does not, so the loss stays the
	// cross-entropy of the logits. Probs filled by hand may leave it nil.
	LogTrue []float64
}

// Add adds q's probabilities to p's, for averaging views and models; p may
// be the zero Probs. LogTrue is kept only when both have it.
func (p *Probs) Add(q *Probs) error {
	if p.P == nil {
		p.P, p.Classes, p.Labels = make([]float64, len(q.P)), q.Classes, q.Labels
		if q.LogTrue != nil {
			p.LogTrue = make([]float64, len(q.LogTrue))
			for i := range p.LogTrue {
				p.LogTrue[i] = math.Inf(-1)
			}
		}
	}
	if p.Classes != q.Classes || !slices.Equal(p.Labels, q.Labels) {
		return fmt.Errorf("probabilities of %d classes over %d images cannot be averaged with %d classes over %d images",
			q.Classes, len(q.Labels), p.Classes, len(p.Labels))
	}
	for i, v := range q.P {
		p.P[i] += v
	}
	if len(q.LogTrue) != len(p.LogTrue) {
		p.LogTrue = nil
	}
	for i, v := range q.LogTrue {
		p.LogTrue[i] = logAddExp(p.LogTrue[i], v)
	}
	return nil
}

// Scale multiplies every probability by f (1/n after n Adds).
func (p *Probs) Scale(f float64) {
	for i := range p.P {
		p.P[i] *= f
	}
	for i := range p.LogTrue {
		p.LogTrue[i] += math.Log(f)
	}
}

// logAddExp returns log(e^a + e^b) without overflow or underflow.
func logAddExp(a, b float64) float64 {
	if a < b {
		a, b = b, a
	}
	if math.IsInf(b, -1) {
		return a
	}
	return a + math.Log1p(math.Exp(b-a))
}

// Score is the accuracy of a set of probabilities.
type Score struct {
	// Top1 and Top5 are the shares of images whose class is the most
	// probable, or among the five most probable (all, with five classes or
	// fewer). Loss is the mean negative log probability of the true class.
	Top1, Top5, Loss float64
}

// Score returns p's top-1 and top-5 accuracy and loss. Ties rank the lower
// class first. The loss is from LogTrue when p has it, else from P with
// each probability floored at 1e-12.
func (p *Probs) Score() Score {
	var s Score
	n := len(p.Labels)
	if n == 0 {
		return s
	}
	for i, y := range p.Labels {
		row := p.P[i*p.Classes : (i+1)*p.Classes]
		// The rank of the true class: the classes ranked above it.
		above := 0
		for j, v := range row {
			if v > row[y] || v == row[y] && j < y {
				above++
			}
		}
		if above == 0 {
			s.Top1++
		}
		if above < 5 {
			s.Top5++
		}
		if p.LogTrue != nil {
			s.Loss -= p.LogTrue[i]
		} else {
			s.Loss -= math.Log(max(row[y], 1e-12))
		}
	}
	return Score{Top1: s.Top1 / float64(n), Top5: s.Top5 / float64(n), Loss: s.Loss / float64(n)}
}

// Probabilities runs logits (which maps a normalised (N, 3, H, W) batch to
// N rows of class logits) over set in order, in batches of batch built by
// workers goroutines through set's transform, and returns the softmax of
// each image's logits; with flip, the mean of the image's and its mirror
// image's.
func Probabilities(ctx context.Context, set *dataset.Set, batch, workers int, flip bool, logits func(*tensor.Tensor) ([]float32, error)) (*Probs, error) {
	l := loader.New([]loader.Dataset{set}, loader.Indices{N: len(set.Items), BatchSize: max(batch, 1)},
		loader.Stack(imageio.ImageNetMean, imageio.ImageNetStd), loader.Options{Workers: workers})
	it, err := l.Epoch(ctx, 0)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	p := &Probs{Labels: make([]int, 0, len(set.Items)), LogTrue: make([]float64, 0, len(set.Items))}
	for {
		b, err := it.Next()
		if err == loader.ErrDone {
			break
		}
		if err != nil {
			return nil, err
		}
		x := b.Data.X
		views := []*tensor.Tensor{x}
		if flip {
			views = append(views, mirror(x))
		}
		n := len(b.Data.Labels)
		for _, v := range views {
			out, err := logits(v)
			if err != nil {
				return nil, err
			}
			if p.Classes == 0 {
				p.Classes = len(out) / n
			}
			if p.Classes == 0 || len(out) != n*p.Classes {
				return nil, fmt.Errorf("the model gave %d logits for %d images", len(out), n)
			}
			for _, y := range b.Data.Labels {
				if y < 0 || y >= p.Classes {
					return nil, fmt.Errorf("label %d outside the model's %d classes", y, p.Classes)
				}
			}
			if v == x {
				p.P = append(p.P, make([]float64, len(out))...)
				for range n {
					p.LogTrue = append(p.LogTrue, math.Inf(-1))
				}
			}
			softmaxInto(p.P[len(p.P)-len(out):], p.LogTrue[len(p.LogTrue)-n:], out, b.Data.Labels, p.Classes, 1/float64(len(views)))
		}
		p.Labels = append(p.Labels, b.Data.Labels...)
	}
	return p, nil
}

// softmaxInto adds w·softmax of each row of logits to dst, and w times the
// probability of row i's class labels[i] to logTrue[i], in the log domain.
func softmaxInto(dst, logTrue []float64, logits []float32, labels []int, classes int, w float64) {
	for i, r := 0, 0; r < len(logits); i, r = i+1, r+classes {
		row := logits[r : r+classes]
		hi := float64(slices.Max(row))
		var sum float64
		for _, v := range row {
			sum += math.Exp(float64(v) - hi)
		}
		for j, v := range row {
			dst[r+j] += w * math.Exp(float64(v)-hi) / sum
		}
		logTrue[i] = logAddExp(logTrue[i], math.Log(w)+float64(row[labels[i]])-hi-math.Log(sum))
	}
}

// mirror returns x (N, C, H, W) flipped left to right.
func mirror(x *tensor.Tensor) *tensor.Tensor {
	sh := x.Shape()
	w := sh[3]
	src := x.Data()
	out := make([]float32, len(src))
	for r := 0; r < len(src); r += w {
		for j := range w {
			out[r+j] = src[r+w-1-j]
		}
	}
	return tensor.FromSlice(out, sh...)
}
