// Package segment trains and evaluates semantic segmentation networks on
// the training loop of package train: PSPNet on one dataset, on several
// with shared batch norms and one classifier per label set (joint), or
// with CDCL's Dataset-Aware Blocks and Dataset Alternation Training
// (arXiv 2103.11351); mmsegmentation's training pipeline, losses and
// evaluation (whole-image or sliding-window inference, mIoU by
// segmetric).
package segment

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"

	"argus/autograd"
	"argus/data/dataset"
	"argus/data/imageio"
	"argus/data/loader"
	"argus/data/transform"
	"argus/models"
	"argus/nn"
	"argus/tensor"
	"argus/train"
)

// Methods lists the training methods.
var Methods = []string{"single", "joint", "cdcl"}

// Config is a segmentation run's settings: the loop's, inline, then the
// task's. It is written to the run folder as config.yaml and stored in
// every checkpoint.
type Config struct {
	// Model is pspnet-r18 or pspnet-r50.
	Model        string `yaml:"model" json:"model"`
	train.Config `yaml:",inline"`
	// Width, when positive, narrows (or widens) the network: the stem and
	// first stage get Width channels instead of 64 and the heads scale
	// with it, for runs on small budgets; 0 is mmsegmentation's network.
	Width int `yaml:"width,omitempty" json:"width,omitempty"`
	// Method is "single" (one dataset), "joint" (several, batch norms
	// shared, one classifier per label set) or "cdcl" (several, one batch
	// norm per dataset in every block, one classifier per label set).
	Method string `yaml:"method" json:"method"`
	// Datasets names the folders under Data trained on, in order.
	Datasets []string `yaml:"datasets" json:"datasets"`
	// Alt is the number of batches of the first dataset per batch of each
	// other in a round (Dataset Alternation Training's t, 1 by default).
	Alt int `yaml:"alt" json:"alt"`
	// Iters is the number of training iterations (rounds, one optimiser
	// step each); the loop's epochs are blocks of EpochIters of them.
	Iters int `yaml:"iters" json:"iters"`
	// Batch is the number of crops of each dataset in a batch (at least 2:
	// the batch norm of the 1×1 pyramid bin needs two values per channel).
	Batch int `yaml:"batch" json:"batch"`
	// Crop is the side of the square training crops.
	Crop int `yaml:"crop" json:"crop"`
	// Ratio is the range of the random rescaling of each image, relative
	// to its own size (mmsegmentation's ratio_range with img_scale at the
	// dataset's resolution).
	Ratio [2]float64 `yaml:"ratio" json:"ratio"`
	// CatMaxRatio is the crop's category-max-ratio rule (1: off).
	CatMaxRatio float64 `yaml:"cat_max_ratio" json:"cat_max_ratio"`
	// Flip is the probability of a horizontal flip.
	Flip float64 `yaml:"flip" json:"flip"`
	// Photometric turns on mmsegmentation's photometric distortion.
	Photometric bool `yaml:"photometric" json:"photometric"`
	// Inference is "whole" (the whole image at once) or "slide" (crops of
	// Crop×Crop at a stride of SlideStride, logits averaged where they
	// overlap), for evaluation.
	Inference   string `yaml:"inference" json:"inference"`
	SlideStride int    `yaml:"slide_stride" json:"slide_stride"`
	// EvalScale, when positive, is the longer side evaluation images are
	// resized to (keeping their aspect ratio; predictions are scored at
	// the labels' size); 0 evaluates at the images' own size.
	EvalScale int `yaml:"eval_scale" json:"eval_scale"`
	// Limit, when positive, uses only the first Limit images of each
	// split, for quick runs.
	Limit int `yaml:"limit" json:"limit"`
	// Workers is the number of goroutines building batches (0: one per
	// CPU); it changes no result.
	Workers int `yaml:"workers" json:"workers"`
	// Data is the absolute path of the folder holding the datasets.
	Data string `yaml:"data" json:"data"`
}

// Bounds of a run's settings.
const (
	MaxBatch = 1 << 10
	MaxIters = 1 << 24
	MaxCrop  = 1 << 13
	MaxAlt   = 64
)

// CDCL is the recipe of `argus train segment`: the CDCL paper's (PSPNet
// ResNet-18, SGD with momentum 0.9 and weight decay 1e-4, lr 0.01 with the
// poly schedule of power 0.9 and mmsegmentation's floor of 1e-4, batch 8)
// with mmsegmentation's pipeline (ratio 0.5–2, category max ratio 0.75,
// flip 0.5, photometric distortion) at 256×256 crops.
func CDCL() Config {
	return Config{
		Model: "pspnet-r18",
		Config: train.Config{Epochs: 1, Optimizer: "sgd", LR: 0.01, WeightDecay: 1e-4, Momentum: 0.9,
			Schedule: "poly", Power: 0.9, MinLR: 1e-4, Accumulate: 1, EvalEvery: 1, LogEvery: 10, Seed: 1},
		Method: "cdcl", Alt: 1, Iters: 1000, Batch: 8, Crop: 256, Ratio: [2]float64{0.5, 2}, CatMaxRatio: 0.75,
		Flip: 0.5, Photometric: true, Inference: "whole",
	}
}

// Fill sets the defaults of settings left at zero and the loop's epochs
// from Iters (EpochIters).
func (c *Config) Fill() {
	c.Config.Fill()
	if c.Alt == 0 {
		c.Alt = 1
	}
	if c.Inference == "" {
		c.Inference = "whole"
	}
	if c.SlideStride == 0 {
		c.SlideStride = max(c.Crop*2/3, 1)
	}
	if c.Iters > 0 {
		c.Epochs = c.Iters / EpochIters(c.Iters)
	}
}

// EpochIters returns the iterations of each of the loop's epochs for a run
// of iters: the largest divisor of iters up to 500, so that the epochs
// (each ending with a checkpoint) cover the run exactly; iters itself when
// that divisor would be below 50 (one epoch, interrupts still resumable).
func EpochIters(iters int) int {
	if iters <= 500 {
		return max(iters, 1)
	}
	for d := 500; d >= 50; d-- {
		if iters%d == 0 {
			return d
		}
	}
	return iters
}

// Validate reports the first setting that cannot train.
func (c *Config) Validate() error {
	if !slices.Contains(Methods, c.Method) {
		return fmt.Errorf("unknown method %q (have %s)", c.Method, strings.Join(Methods, ", "))
	}
	switch {
	case len(c.Datasets) == 0:
		return fmt.Errorf("no datasets")
	case c.Method == "single" && len(c.Datasets) != 1:
		return fmt.Errorf("method single trains one dataset, not %d (name one, or use joint or cdcl)", len(c.Datasets))
	case c.Method != "single" && len(c.Datasets) < 2:
		return fmt.Errorf("method %s trains several datasets, got %d (use single for one)", c.Method, len(c.Datasets))
	case c.Iters < 1 || c.Iters > MaxIters:
		return fmt.Errorf("iters must be 1 to %d, got %d", MaxIters, c.Iters)
	case c.Batch < 2 || c.Batch > MaxBatch:
		return fmt.Errorf("batch must be 2 to %d, got %d: the batch norm of the 1×1 pyramid bin needs more than one image per dataset in training", MaxBatch, c.Batch)
	case c.Crop < 16 || c.Crop > MaxCrop:
		return fmt.Errorf("crop must be 16 to %d, got %d", MaxCrop, c.Crop)
	case c.Alt < 1 || c.Alt > MaxAlt:
		return fmt.Errorf("alt must be 1 to %d, got %d", MaxAlt, c.Alt)
	case !(c.Ratio[0] > 0 && c.Ratio[0] <= c.Ratio[1] && c.Ratio[1] <= 16):
		return fmt.Errorf("ratio must be a range within (0, 16], got %v", c.Ratio)
	case !(c.CatMaxRatio > 0 && c.CatMaxRatio <= 1):
		return fmt.Errorf("cat_max_ratio must be in (0, 1], got %g", c.CatMaxRatio)
	case !(c.Flip >= 0 && c.Flip <= 1):
		return fmt.Errorf("flip must be in [0, 1], got %g", c.Flip)
	case c.Inference != "whole" && c.Inference != "slide":
		return fmt.Errorf("unknown inference %q (have whole, slide)", c.Inference)
	case c.SlideStride < 1 || c.SlideStride > c.Crop:
		return fmt.Errorf("slide_stride must be 1 to the crop %d, got %d", c.Crop, c.SlideStride)
	case c.EvalScale < 0 || c.EvalScale > MaxCrop:
		return fmt.Errorf("eval_scale must be 0 to %d, got %d", MaxCrop, c.EvalScale)
	case c.Width < 0 || c.Width > 1024 || c.Width%2 != 0:
		return fmt.Errorf("width must be an even number of channels up to 1024 (0: the model's), got %d", c.Width)
	case c.Limit < 0:
		return fmt.Errorf("limit must not be negative, got %d", c.Limit)
	case c.Workers < 0 || c.Workers > 1024:
		return fmt.Errorf("workers must be 0 to 1024, got %d", c.Workers)
	}
	seen := map[string]bool{}
	for _, d := range c.Datasets {
		if seen[d] {
			return fmt.Errorf("dataset %q named twice", d)
		}
		seen[d] = true
	}
	if _, err := modelConfig(c.Model, []int{1}, 1); err != nil {
		return err
	}
	return c.Config.Validate()
}

// modelConfig returns the PSPNet configuration of the named model.
func modelConfig(name string, classes []int, norms int) (models.PSPNetConfig, error) {
	switch name {
	case "pspnet-r18":
		return models.PSPNetR18(classes, norms), nil
	case "pspnet-r50":
		return models.PSPNetR50(classes, norms), nil
	}
	return models.PSPNetConfig{}, fmt.Errorf("unknown segmentation model %q (have pspnet-r18, pspnet-r50)", name)
}

// Labels describes the label sets of a trained network, in its datasets'
// order; checkpoints hold it as JSON under MetaLabels.
type Labels struct {
	Method string `json:"method"`
	Model  string `json:"model"`
	// Width is Config.Width (0: the model's).
	Width    int        `json:"width,omitempty"`
	Datasets []LabelSet `json:"datasets"`
}

// LabelSet is one dataset's name and class names.
type LabelSet struct {
	Name    string   `json:"name"`
	Classes []string `json:"classes"`
}

// MetaLabels is the checkpoint metadata key holding the Labels.
const MetaLabels = "segment_labels"

// NewModel builds the network for l: one classifier per label set and,
// for cdcl, one batch norm per dataset in every block.
func NewModel(rng *tensor.RNG, l Labels) (*models.PSPNet, error) {
	classes := make([]int, len(l.Datasets))
	for i, d := range l.Datasets {
		classes[i] = len(d.Classes)
	}
	norms := 1
	if l.Method == "cdcl" {
		norms = len(classes)
	}
	cfg, err := modelConfig(l.Model, classes, norms)
	if err != nil {
		return nil, err
	}
	if l.Width > 0 {
		// The heads keep their ratio to the stem: 128 and 64 to 64 for
		// R-18, 512 and 256 for R-50.
		cfg.Channels, cfg.AuxChannels = cfg.Channels*l.Width/cfg.Width, cfg.AuxChannels*l.Width/cfg.Width
		cfg.Width = l.Width
	}
	return models.NewPSPNet(rng, cfg)
}

// ParseLabels decodes the Labels of a checkpoint's metadata.
func ParseLabels(meta map[string]string) (Labels, error) {
	var l Labels
	s, ok := meta[MetaLabels]
	if !ok {
		return l, fmt.Errorf("not a segmentation checkpoint (its metadata has no %s)", MetaLabels)
	}
	if err := json.Unmarshal([]byte(s), &l); err != nil || len(l.Datasets) == 0 {
		return l, fmt.Errorf("the checkpoint's %s is not valid: %v", MetaLabels, err)
	}
	return l, nil
}

// Dataset returns the index of the named dataset in l.
func (l Labels) Dataset(name string) (int, error) {
	var have []string
	for i, d := range l.Datasets {
		if d.Name == name {
			return i, nil
		}
		have = append(have, d.Name)
	}
	return 0, fmt.Errorf("the network was not trained on dataset %q (it knows %s)", name, strings.Join(have, ", "))
}

// EvalInference returns the evaluation's inference settings.
func (c *Config) EvalInference() Inference {
	return Inference{Mode: c.Inference, Crop: c.Crop, Stride: c.SlideStride, Scale: c.EvalScale}
}

// TrainTransform returns the training pipeline: ratio resize, crop with
// the category-max-ratio rule, flip, photometric distortion, padding to
// the crop.
func (c *Config) TrainTransform() transform.Transform {
	t := transform.Compose{
		transform.Func(func(s *transform.Sample, st *transform.State) error {
			return transform.RatioResize{W: s.Image.W, H: s.Image.H, Ratio: c.Ratio}.Apply(s, st)
		}),
		transform.CatMaxCrop{W: c.Crop, H: c.Crop, CatMaxRatio: c.CatMaxRatio},
		transform.HFlip{P: c.Flip},
	}
	if c.Photometric {
		t = append(t, transform.PhotoMetricDistortion{})
	}
	return append(t, transform.PadTo{W: c.Crop, H: c.Crop, Fill: imageio.ImageNetMean})
}

// Trainer is a segmentation run on the training loop.
type Trainer = train.Trainer[*Round]

// Data holds a run's datasets: the training and validation splits, in the
// config's order.
type Data struct {
	Train, Val []*dataset.Set
}

// OpenData reads the train and val splits of cfg's datasets under
// cfg.Data.
func OpenData(cfg Config) (*Data, error) {
	d := &Data{}
	for _, name := range cfg.Datasets {
		tr, err := Open(cfg.Data, name, "train")
		if err != nil {
			return nil, err
		}
		val, err := Open(cfg.Data, name, "val")
		if err != nil {
			return nil, err
		}
		if !slices.Equal(tr.Classes, val.Classes) {
			return nil, fmt.Errorf("dataset %q: the train and val splits name different classes", name)
		}
		d.Train = append(d.Train, firstN(tr, cfg.Limit))
		d.Val = append(d.Val, firstN(val, cfg.Limit))
	}
	return d, nil
}

// Labels returns the label sets of d's datasets for cfg.
func (d *Data) Labels(cfg Config) Labels {
	l := Labels{Method: cfg.Method, Model: cfg.Model, Width: cfg.Width}
	for i, name := range cfg.Datasets {
		l.Datasets = append(l.Datasets, LabelSet{Name: name, Classes: d.Train[i].Classes})
	}
	return l
}

// NewTrainer builds a fresh run of cfg on d: the network from cfg's method
// with a generator seeded by cfg.Seed (which also drives dropout), rounds
// of one batch per dataset (Alt of the first) drawn from cfg.Seed, the
// loss terms "NAME.decode" and "NAME.aux" per dataset (the auxiliary one
// weighted 0.4), and an evaluation on the val splits giving "NAME.mIoU",
// "NAME.aAcc" and "NAME.mAcc".
func NewTrainer(cfg Config, d *Data) (*Trainer, error) {
	cfg.Fill()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	labels := d.Labels(cfg)
	rng := tensor.NewRNG(cfg.Seed)
	m, err := NewModel(rng, labels)
	if err != nil {
		return nil, err
	}
	sets := make([]*dataset.Set, len(d.Train))
	var samplers []loader.Indices
	u := make([]int, 0, len(d.Train))
	n := 0
	for i, s := range d.Train {
		if s.Len() < cfg.Batch {
			return nil, fmt.Errorf("dataset %q has %d training images, fewer than a batch of %d", cfg.Datasets[i], s.Len(), cfg.Batch)
		}
		c := *s
		c.Transform = cfg.TrainTransform()
		sets[i] = &c
		samplers = append(samplers, loader.Indices{N: s.Len(), BatchSize: cfg.Batch, Shuffle: true, Seed: transform.Mix(cfg.Seed, i), DropLast: true})
		u = append(u, n)
		n += s.Len()
	}
	epochIters := EpochIters(cfg.Iters)
	src := loader.New([]loader.Dataset{newUnion(sets)}, rounds{sets: samplers, off: u, alt: cfg.Alt, iters: epochIters},
		collateRound(cfg.Batch), loader.Options{Workers: cfg.Workers, Seed: cfg.Seed})
	meta, err := json.Marshal(labels)
	if err != nil {
		return nil, fmt.Errorf("encode labels: %w", err)
	}
	task := train.Task[*Round]{
		Model: cfg.Model, Module: m, RNG: rng, Data: src,
		EpochSize: epochIters,
		Loss: func(r *Round) ([]train.Term, error) {
			return Losses(m, labels, r)
		},
		Eval: func() (map[string]float64, error) {
			out := map[string]float64{}
			for i, val := range d.Val {
				met, err := Evaluate(m, i, val, cfg.EvalInference(), nil)
				if err != nil {
					return nil, err
				}
				name := cfg.Datasets[i]
				out[name+".mIoU"], out[name+".aAcc"], out[name+".mAcc"] = met.MIoU, met.AAcc, met.MAcc
			}
			return out, nil
		},
		Config:    cfg,
		Resumable: []string{"workers", "inference", "slide_stride", "eval_scale"},
		Metadata:  map[string]string{MetaLabels: string(meta)},
	}
	return train.New(cfg.Config, task)
}

// Losses returns the loss terms of a round: for each part, through its
// dataset's batch norms and classifiers, the decode head's loss and the
// weighted auxiliary loss, summed per dataset over the Alt batches of the
// first.
func Losses(m *models.PSPNet, l Labels, r *Round) ([]train.Term, error) {
	var terms []train.Term
	index := map[string]int{}
	add := func(name string, v *autograd.Var) {
		if v == nil {
			return
		}
		if k, ok := index[name]; ok {
			terms[k].Loss = autograd.Add(terms[k].Loss, v)
			return
		}
		index[name] = len(terms)
		terms = append(terms, train.Term{Name: name, Loss: v})
	}
	for _, p := range r.Parts {
		if p.X.Shape()[0] < 2 {
			return nil, fmt.Errorf("a training batch of one image of dataset %q: the batch norm of the 1×1 pyramid bin needs at least two", l.Datasets[p.Dataset].Name)
		}
		if err := m.SetDataset(p.Dataset); err != nil {
			return nil, err
		}
		dec, aux := m.Losses(autograd.Const(p.X), p.Labels, imageio.Ignore)
		name := l.Datasets[p.Dataset].Name
		add(name+".decode", dec)
		add(name+".aux", aux)
	}
	return terms, nil
}

// Inference says how evaluation and prediction run the network on an
// image.
type Inference struct {
	// Mode is "whole" (the whole image at once) or "slide" (windows of
	// Crop×Crop at a stride of Stride, logits averaged where they overlap).
	Mode         string
	Crop, Stride int
	// Scale, when positive, resizes each image (bilinearly, keeping its
	// aspect ratio) so that its longer side is Scale before the network
	// sees it, and the logits back to the image's size, as
	// mmsegmentation's test pipeline does with a keep-ratio Resize.
	Scale int
}

// Logits returns the network's logits (1, K, H, W) of label set d for one
// normalised image x (1, 3, H, W), in evaluation mode without gradients:
// whole-image, or sliding windows (mmsegmentation's slide_inference: the
// grid covers the image, the last window of each row and column flush
// with the border, logits summed and divided by the number of windows
// covering each pixel), at the image's size or at inf.Scale.
func Logits(m *models.PSPNet, d int, x *tensor.Tensor, inf Inference) (*tensor.Tensor, error) {
	if err := m.SetDataset(d); err != nil {
		return nil, err
	}
	var out *tensor.Tensor
	nn.Train(m, false)
	defer nn.Train(m, true)
	sh := x.Shape()
	H0, W0 := sh[2], sh[3]
	crop, stride := inf.Crop, inf.Stride
	nn.NoGrad(m, func() {
		if inf.Scale > 0 && max(H0, W0) != inf.Scale {
			k := float64(inf.Scale) / float64(max(H0, W0))
			x = autograd.ResizeBilinear(autograd.Const(x), max(int(float64(H0)*k+0.5), 1), max(int(float64(W0)*k+0.5), 1), false).Value()
		}
		H, W := x.Shape()[2], x.Shape()[3]
		defer func() {
			if H != H0 || W != W0 {
				out = autograd.ResizeBilinear(autograd.Const(out), H0, W0, false).Value()
			}
		}()
		if inf.Mode != "slide" || (H <= crop && W <= crop) {
			out = m.Forward(autograd.Const(x)).Value()
			return
		}
		k := m.Config.Classes[d]
		sum := make([]float32, k*H*W)
		count := make([]float32, H*W)
		grid := func(n int) int { return max(n-crop+stride-1, 0)/stride + 1 }
		for gy := range grid(H) {
			for gx := range grid(W) {
				y2, x2 := min(gy*stride+crop, H), min(gx*stride+crop, W)
				y1, x1 := max(y2-crop, 0), max(x2-crop, 0)
				win := window(x, y1, y2, x1, x2)
				lg := m.Forward(autograd.Const(win)).Value().Data()
				h, w := y2-y1, x2-x1
				for c := range k {
					for i := range h {
						row := sum[c*H*W+(y1+i)*W+x1:]
						for j := range w {
							row[j] += lg[c*h*w+i*w+j]
						}
					}
				}
				for i := range h {
					for j := range w {
						count[(y1+i)*W+x1+j]++
					}
				}
			}
		}
		for c := range k {
			for i, n := range count {
				sum[c*H*W+i] /= n
			}
		}
		out = tensor.FromSlice(sum, 1, k, H, W)
	})
	return out, nil
}

// window copies rows y1..y2 and columns x1..x2 of x (1, C, H, W).
func window(x *tensor.Tensor, y1, y2, x1, x2 int) *tensor.Tensor {
	sh := x.Shape()
	C, H, W := sh[1], sh[2], sh[3]
	h, w := y2-y1, x2-x1
	src := x.Data()
	out := make([]float32, C*h*w)
	for c := range C {
		for i := range h {
			copy(out[c*h*w+i*w:c*h*w+(i+1)*w], src[c*H*W+(y1+i)*W+x1:])
		}
	}
	return tensor.FromSlice(out, 1, C, h, w)
}

// Argmax returns the class of each pixel of logits (1, K, H, W), the lower
// class on ties.
func Argmax(logits *tensor.Tensor) []uint8 {
	sh := logits.Shape()
	k, n := sh[1], sh[2]*sh[3]
	d := logits.Data()
	out := make([]uint8, n)
	for i := range n {
		best, bv := 0, float32(math.Inf(-1))
		for c := range k {
			if v := d[c*n+i]; v > bv {
				best, bv = c, v
			}
		}
		out[i] = uint8(best)
	}
	return out
}
