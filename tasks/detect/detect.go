// Package detect trains and evaluates object detectors on the training
// loop of package train: a registry of detector families by model name
// (Sparse R-CNN's here; others register their own), the COCO-layout data
// with its augmentation (resize of the shorter side, horizontal flip),
// the loss terms a detector returns, and COCO evaluation of its
// detections mapped back to the original images.
package detect

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"argus/coco"
	"argus/data/cocofile"
	"argus/data/dataset"
	"argus/data/imageio"
	"argus/data/loader"
	"argus/data/transform"
	"argus/internal/par"
	"argus/nn"
	"argus/tensor"
	"argus/train"
)

// Detection is one detected object: an xyxy box in pixels, its class
// index (0 to classes-1) and its score.
type Detection struct {
	Box   [4]float32
	Label int
	Score float32
}

// Detector is what a detector family gives the task: a network that scores
// a training batch and predicts on an evaluation batch.
type Detector interface {
	nn.Module
	// Loss returns the named loss terms of a training batch (the loop
	// optimises their sum).
	Loss(b *loader.Detection) ([]train.Term, error)
	// Predict returns each image's detections, boxes in the pixels of the
	// batch's (unpadded) image, by decreasing score.
	Predict(b *loader.Detection) ([][]Detection, error)
}

// Builder makes a detector of a family for cfg and the dataset's number of
// classes, drawing its initial weights from rng.
type Builder func(rng *tensor.RNG, cfg Config, classes int) (Detector, error)

// registry maps model names to builders; families add theirs in init.
var registry = map[string]Builder{}

// Register adds a model name; it panics on a name taken, a programmer
// error.
func Register(name string, b Builder) {
	if _, ok := registry[name]; ok {
		panic("detect: model " + name + " registered twice")
	}
	registry[name] = b
}

// Models returns the registered model names, sorted.
func Models() []string { return slices.Sorted(maps.Keys(registry)) }

// Build returns the detector named by cfg.Model.
func Build(rng *tensor.RNG, cfg Config, classes int) (Detector, error) {
	b, ok := registry[cfg.Model]
	if !ok {
		return nil, fmt.Errorf("unknown detection model %q (have %s)", cfg.Model, strings.Join(Models(), ", "))
	}
	return b(rng, cfg, classes)
}

// Config is a detection run's settings: the loop's, inline, then the
// task's. It is written to config.yaml and into every checkpoint.
type Config struct {
	Model        string `yaml:"model" json:"model"`
	train.Config `yaml:",inline"`
	// Batch is the training batch size, EvalBatch the evaluation's.
	Batch     int `yaml:"batch" json:"batch"`
	EvalBatch int `yaml:"eval_batch" json:"eval_batch"`
	// Size is the shorter side images are resized to (training and
	// evaluation), MaxSize the bound on the longer side (0: none).
	Size    int `yaml:"size" json:"size"`
	MaxSize int `yaml:"max_size" json:"max_size"`
	// Flip is the probability of a horizontal flip in training.
	Flip float64 `yaml:"flip" json:"flip"`
	// Proposals is Sparse R-CNN's number of learnable proposals, and the
	// number of detections per image.
	Proposals int `yaml:"num_proposals" json:"num_proposals"`
	// Assign is the label assignment: hungarian or dla for Sparse R-CNN;
	// atss, topk, simota or hps for ATSS (atss.AssignerNames).
	Assign string `yaml:"assign" json:"assign"`
	// K is the topk assigner's number of positives per ground truth
	// (ATSS only; 0 otherwise).
	K int `yaml:"k,omitempty" json:"k,omitempty"`
	// HPSBands and HPSK are the hps assigner's searched values
	// (atss.Searched: the object-scale bands and the number of positives
	// of each; ATSS only), read from argus hps search's --out file.
	HPSBands []float64 `yaml:"hps_bands,omitempty" json:"hps_bands,omitempty"`
	HPSK     []int     `yaml:"hps_k,omitempty" json:"hps_k,omitempty"`
	// ProposalMode is static (learned proposals) or dpg (Dynamic Sparse
	// R-CNN's proposal experts).
	ProposalMode string `yaml:"proposals" json:"proposals"`
	// Width is the channels of the pyramid and the head's proposal
	// features (256 in Sparse R-CNN; a multiple of 8), Stages the head's
	// iterative stages (6). The feed-forward width is 8·Width and the
	// dynamic width Width/4, as 2048 and 64 are for 256.
	Width  int `yaml:"width" json:"width"`
	Stages int `yaml:"stages" json:"stages"`
	// Experts is DPG's number of proposal experts (4).
	Experts int `yaml:"experts" json:"experts"`
	// Workers is the number of goroutines building batches (0: one per
	// CPU); it changes no result.
	Workers int `yaml:"workers" json:"workers"`
	// Data is the absolute path of the dataset root, stored so that a
	// resumed run reads the data it started with.
	Data string `yaml:"data,omitempty" json:"data,omitempty"`
}

// Bounds of a detection run's settings.
const (
	MaxBatch     = 1 << 12
	MaxEpochs    = 1 << 20
	MaxSize      = 4096
	MaxProposals = 1 << 12
	MaxWorkers   = 1 << 10
)

// Recipe is the recipe of `argus train detect`: AdamW with weight
// decay 1e-4 and the gradients clipped at L2 norm 1, as the official
// Sparse R-CNN; the learning rate (1e-4), the warm-up (100 steps) and
// the cosine schedule are ours, for short runs from random weights.
func Recipe() Config {
	return Config{
		Model: "sparse-rcnn-r18",
		Config: train.Config{Epochs: 12, Optimizer: "adamw", LR: 1e-4, WeightDecay: 1e-4, Momentum: 0.9,
			Schedule: "cosine", Gamma: 0.1, Warmup: 100, Accumulate: 1, ClipNorm: 1, EvalEvery: 1, LogEvery: 20, Seed: 1},
		Batch: 4, EvalBatch: 4, Size: 256, Flip: 0.5, Proposals: 100, Assign: "hungarian", ProposalMode: "static", Experts: 4, Width: 256, Stages: 6,
	}
}

// Fill sets the defaults of settings left at zero.
func (c *Config) Fill() {
	c.Config.Fill()
	if c.EvalBatch == 0 {
		c.EvalBatch = max(c.Batch, 1)
	}
	if c.Assign == "" {
		c.Assign = "hungarian"
	}
	if c.ProposalMode == "" {
		c.ProposalMode = "static"
	}
	if c.Experts == 0 {
		c.Experts = 4
	}
	if c.Width == 0 {
		c.Width = 256
	}
	if c.Stages == 0 {
		c.Stages = 6
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
	case c.Size < 32 || c.Size > MaxSize:
		return fmt.Errorf("size must be 32 to %d, got %d", MaxSize, c.Size)
	case c.MaxSize != 0 && (c.MaxSize < c.Size || c.MaxSize > MaxSize):
		return fmt.Errorf("max size must be 0 or %d to %d, got %d", c.Size, MaxSize, c.MaxSize)
	case !(c.Flip >= 0 && c.Flip <= 1):
		return fmt.Errorf("flip must be a probability, got %g", c.Flip)
	case c.Proposals < 1 || c.Proposals > MaxProposals:
		return fmt.Errorf("num proposals must be 1 to %d, got %d", MaxProposals, c.Proposals)
	case !isATSS(c.Model) && c.Assign != "hungarian" && c.Assign != "dla":
		return fmt.Errorf("assign must be hungarian or dla, got %q", c.Assign)
	case !isATSS(c.Model) && (c.K != 0 || c.HPSK != nil || c.HPSBands != nil):
		return fmt.Errorf("k and hps are ATSS's assignment settings, not %s's", c.Model)
	case c.ProposalMode != "static" && c.ProposalMode != "dpg":
		return fmt.Errorf("proposals must be static or dpg, got %q", c.ProposalMode)
	case c.Width < 8 || c.Width > 4096 || c.Width%8 != 0:
		return fmt.Errorf("width must be a multiple of 8 from 8 to 4096, got %d", c.Width)
	case c.Stages < 1 || c.Stages > 64:
		return fmt.Errorf("stages must be 1 to 64, got %d", c.Stages)
	case c.Experts < 1 || c.Experts > 64:
		return fmt.Errorf("experts must be 1 to 64, got %d", c.Experts)
	case c.Workers < 0 || c.Workers > MaxWorkers:
		return fmt.Errorf("workers must be 0 to %d, got %d", MaxWorkers, c.Workers)
	}
	if _, ok := registry[c.Model]; !ok {
		return fmt.Errorf("unknown detection model %q (have %s)", c.Model, strings.Join(Models(), ", "))
	}
	if isATSS(c.Model) {
		return c.validateATSS()
	}
	return nil
}

// Split is one COCO split: the instances file, its images as a dataset
// (labels 0..K-1 by ascending category id, crowd boxes left out) and the
// category id of each label.
type Split struct {
	GT          *cocofile.Dataset
	Set         *dataset.Set
	CategoryIDs []int64
}

// ReadTrainVal reads the train2017 and val2017 splits of the COCO-layout
// folder dir with ReadSplit.
func ReadTrainVal(dir string) (train, val *Split, err error) {
	if train, err = ReadSplit(dir, "train2017"); err != nil {
		return nil, nil, err
	}
	if val, err = ReadSplit(dir, "val2017"); err != nil {
		return nil, nil, err
	}
	return train, val, nil
}

// ReadSplit reads split (train2017, val2017) of the COCO-layout folder
// dir: dir/annotations/instances_SPLIT.json and the images under
// dir/SPLIT. A box that is empty or outside its image is an error; an
// image that does not decode is one when the loader reaches it.
func ReadSplit(dir, split string) (*Split, error) {
	s, _, err := readSplit(dir, split, false)
	return s, err
}

// Skipped counts what ReadSplitSkipBad left out.
type Skipped struct {
	// Images that do not decode, with their annotations.
	Images int `json:"images"`
	// Boxes empty or outside their image (their annotations).
	Boxes int `json:"boxes"`
}

// ReadSplitSkipBad reads a split as ReadSplit, but decodes every image
// first and leaves out, from the training items and the ground truth
// alike, the images that do not decode and the boxes that are empty or
// outside their image, and counts them.
func ReadSplitSkipBad(dir, split string) (*Split, Skipped, error) {
	return readSplit(dir, split, true)
}

// badBox reports whether an xyxy box is empty or outside a w×h image (half
// a pixel of slack; a zero size is unknown and not checked).
func badBox(b [4]float32, w, h int) bool {
	return !(b[2] > b[0] && b[3] > b[1]) || b[0] < 0 || b[1] < 0 || (w > 0 && b[2] > float32(w)+0.5) || (h > 0 && b[3] > float32(h)+0.5)
}

func readSplit(dir, split string, skipBad bool) (*Split, Skipped, error) {
	var sk Skipped
	ann := filepath.Join(dir, "annotations", "instances_"+split+".json")
	gt, err := cocofile.ReadDatasetFile(ann)
	if err != nil {
		return nil, sk, err
	}
	set, ids, err := dataset.ReadCOCO(ann, filepath.Join(dir, split))
	if err != nil {
		return nil, sk, err
	}
	if len(set.Items) != len(gt.Images) {
		return nil, sk, fmt.Errorf("read %s: %d images listed but %d read", ann, len(gt.Images), len(set.Items))
	}
	if !skipBad {
		for i, it := range set.Items {
			for _, b := range it.Boxes {
				if badBox(b, it.Width, it.Height) {
					return nil, sk, fmt.Errorf("read %s: image %d (%s): box %v is empty or outside its %dx%d image (--skip-bad leaves such boxes out)", ann, gt.Images[i].ID, it.Path, b, it.Width, it.Height)
				}
			}
		}
		return &Split{GT: gt, Set: set, CategoryIDs: ids}, sk, nil
	}
	// Decode every image (in parallel) to find the corrupt ones.
	bad := make([]bool, len(set.Items))
	par.For(len(set.Items), 1, func(i int) {
		_, err := imageio.ReadFile(set.Items[i].Path, imageio.Limits{})
		bad[i] = err != nil
	})
	keepImage := map[int64]bool{}
	items := set.Items[:0:0]
	images := gt.Images[:0:0]
	size := map[int64][2]int{}
	for i, it := range set.Items {
		im := gt.Images[i]
		if bad[i] {
			sk.Images++
			continue
		}
		keepImage[im.ID] = true
		size[im.ID] = [2]int{im.Width, im.Height}
		boxes, labels := it.Boxes[:0:0], it.BoxLabels[:0:0]
		for k, b := range it.Boxes {
			if badBox(b, it.Width, it.Height) {
				continue
			}
			boxes = append(boxes, b)
			if it.BoxLabels != nil {
				labels = append(labels, it.BoxLabels[k])
			}
		}
		it.Boxes = boxes
		if it.BoxLabels != nil {
			it.BoxLabels = labels
		}
		items = append(items, it)
		images = append(images, im)
	}
	anns := gt.Annotations[:0:0]
	for _, a := range gt.Annotations {
		if !keepImage[a.ImageID] {
			continue
		}
		b := a.BBox
		wh := size[a.ImageID]
		if badBox([4]float32{float32(b[0]), float32(b[1]), float32(b[0] + b[2]), float32(b[1] + b[3])}, wh[0], wh[1]) {
			sk.Boxes++
			continue
		}
		anns = append(anns, a)
	}
	gt.Images, gt.Annotations = images, anns
	set.Items = items
	return &Split{GT: gt, Set: set, CategoryIDs: ids}, sk, nil
}

// Transforms returns the training augmentation (shorter side resized,
// horizontal flip) or, with train false, the evaluation's (resize only).
func (c *Config) Transforms(train bool) transform.Transform {
	t := transform.Compose{transform.ResizeShorter{Size: c.Size, MaxSize: c.MaxSize}}
	if train && c.Flip > 0 {
		t = append(t, transform.HFlip{P: c.Flip})
	}
	return t
}

// Collate pads a batch to a multiple of 32 and normalises it with
// ImageNet's mean and standard deviation.
func Collate() func(int, []*transform.Sample) (*loader.Detection, error) {
	return loader.Pad(imageio.ImageNetMean, imageio.ImageNetStd, 32)
}

// Trainer is a detection run on the training loop.
type Trainer = train.Trainer[*loader.Detection]

// Metadata keys of a detection checkpoint: the class names and their
// COCO category ids, as JSON-free comma lists.
const (
	MetaCategoryIDs = "detect.category_ids"
	MetaClassNames  = "detect.class_names"
)

// NewTrainer builds a fresh run of cfg on the train split, evaluated on
// val after every EvalEvery epochs with the 12 COCO numbers.
func NewTrainer(cfg Config, trainSplit, val *Split) (*Trainer, Detector, error) {
	cfg.Fill()
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	if len(trainSplit.Set.Items) == 0 {
		return nil, nil, fmt.Errorf("no training images")
	}
	if !slices.Equal(trainSplit.CategoryIDs, val.CategoryIDs) {
		return nil, nil, fmt.Errorf("the train and val splits have different categories (%v and %v)", trainSplit.CategoryIDs, val.CategoryIDs)
	}
	rng := tensor.NewRNG(cfg.Seed)
	det, err := Build(rng, cfg, len(trainSplit.CategoryIDs))
	if err != nil {
		return nil, nil, err
	}
	set := *trainSplit.Set
	set.Transform = cfg.Transforms(true)
	data := loader.New([]loader.Dataset{&set},
		loader.Indices{N: set.Len(), BatchSize: cfg.Batch, Shuffle: true, Seed: cfg.Seed},
		Collate(), loader.Options{Workers: cfg.Workers, Seed: cfg.Seed})
	task := train.Task[*loader.Detection]{
		Model: cfg.Model, Module: det, RNG: rng, Data: data,
		EpochSize: set.Len(),
		Count:     func(b *loader.Detection) int { return len(b.Sizes) },
		Loss:      det.Loss,
		Eval: func() (map[string]float64, error) {
			s, _, err := Evaluate(det, cfg, val)
			if err != nil {
				return nil, err
			}
			return SummaryMetrics(s), nil
		},
		Config:    cfg,
		Resumable: []string{"eval_batch", "workers"},
		Metadata:  Metadata(trainSplit),
	}
	tr, err := train.New(cfg.Config, task)
	return tr, det, err
}

// Metadata returns the checkpoint metadata naming the split's classes.
func Metadata(s *Split) map[string]string {
	ids := make([]string, len(s.CategoryIDs))
	for i, id := range s.CategoryIDs {
		ids[i] = strconv.FormatInt(id, 10)
	}
	return map[string]string{
		MetaCategoryIDs: strings.Join(ids, ","),
		MetaClassNames:  strings.Join(s.Set.Classes, "\x1f"),
	}
}

// Classes reads the category ids and class names of a checkpoint's
// metadata.
func Classes(meta map[string]string) (ids []int64, names []string, err error) {
	raw, ok := meta[MetaCategoryIDs]
	if !ok || raw == "" {
		return nil, nil, fmt.Errorf("not a detection checkpoint: no %s metadata", MetaCategoryIDs)
	}
	for _, f := range strings.Split(raw, ",") {
		id, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return nil, nil, fmt.Errorf("category ids %q: %w", raw, err)
		}
		ids = append(ids, id)
	}
	names = strings.Split(meta[MetaClassNames], "\x1f")
	if len(names) != len(ids) {
		return nil, nil, fmt.Errorf("%d class names for %d category ids", len(names), len(ids))
	}
	return ids, names, nil
}

// SummaryMetrics turns a COCO summary into metrics named by its keys.
func SummaryMetrics(s coco.Summary) map[string]float64 {
	v := s.Values()
	names := []string{"AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"}
	m := map[string]float64{}
	for i, n := range names {
		m[n] = v[i]
	}
	return m
}

// Evaluate predicts on every image of s (resized as in training, no
// flip) in evaluation mode without gradients, maps the boxes back to the
// original images, and returns the COCO summary and the results.
func Evaluate(det Detector, cfg Config, s *Split) (coco.Summary, []cocofile.Result, error) {
	cfg.Fill()
	set := *s.Set
	set.Transform = cfg.Transforms(false)
	l := loader.New([]loader.Dataset{&set}, loader.Indices{N: set.Len(), BatchSize: cfg.EvalBatch},
		Collate(), loader.Options{Workers: cfg.Workers})
	results := []cocofile.Result{}
	var perr error
	nn.Train(det, false)
	defer nn.Train(det, true)
	nn.NoGrad(det, func() {
		it, err := l.Epoch(context.Background(), 0)
		if err != nil {
			perr = err
			return
		}
		defer it.Close()
		at := 0
		for {
			r, err := it.Next()
			if errors.Is(err, loader.ErrDone) {
				return
			}
			if err != nil {
				perr = err
				return
			}
			b := r.Data
			dets, err := det.Predict(b)
			if err != nil {
				perr = err
				return
			}
			for i, ds := range dets {
				im := s.GT.Images[at+i]
				sx := float32(im.Width) / float32(b.Sizes[i][1])
				sy := float32(im.Height) / float32(b.Sizes[i][0])
				for _, d := range ds {
					bx := scaleBox(d.Box, sx, sy, float32(im.Width), float32(im.Height))
					x1, y1, x2, y2 := float64(bx[0]), float64(bx[1]), float64(bx[2]), float64(bx[3])
					results = append(results, cocofile.Result{ImageID: im.ID, CategoryID: s.CategoryIDs[d.Label],
						BBox: [4]float64{x1, y1, x2 - x1, y2 - y1}, Score: float64(d.Score)})
				}
			}
			at += len(dets)
		}
	})
	if perr != nil {
		return coco.Summary{}, nil, perr
	}
	e, err := coco.Evaluate(s.GT, results)
	if err != nil {
		return coco.Summary{}, nil, err
	}
	return e.Summary(), results, nil
}
