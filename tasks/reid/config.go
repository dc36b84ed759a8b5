// Package reid trains person re-identification networks on the loop of
// package train: supervised training on a labelled domain (label-smoothed
// cross-entropy and batch-hard triplet loss over P×K identity-balanced
// batches) and unsupervised domain adaptation to an unlabelled domain by
// cluster-wise contrastive learning (pseudo labels from DBSCAN on sparse
// k-reciprocal Jaccard distances, re-computed every epoch, and a cluster
// memory); feature extraction and the Market-1501 evaluation of a
// checkpoint; the ranked gallery of a query.
package reid

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"argus/data/dataset"
	"argus/models"
	"argus/train"
)

// Models lists the networks of --model; each is the registry's
// "reid-"+name.
var Models = []string{"resnet50", "resnet18", "deit-tiny"}

// Config is a re-ID run's settings: the loop's (inline), then the task's.
type Config struct {
	// Model is resnet50, resnet18 or deit-tiny (Models).
	Model        string `yaml:"model" json:"model"`
	train.Config `yaml:",inline"`
	// Mode is "supervised" (train on Source's identities) or "uda"
	// (PretrainEpochs supervised on Source, then cluster-wise contrastive
	// learning on Target's unlabelled training images).
	Mode string `yaml:"mode" json:"mode"`
	// Data is the absolute path of the folder holding one folder per
	// domain; Source and Target name two of them. Evaluation is on
	// Target's query and gallery (Source's when Target is empty).
	Data   string `yaml:"data" json:"data"`
	Source string `yaml:"source" json:"source"`
	Target string `yaml:"target" json:"target"`
	// Init is a torchvision or timm classifier's state dict in safetensors
	// loaded into the backbone before training (empty: random weights).
	Init string `yaml:"init" json:"init"`
	// Height and Width are the input size.
	Height int `yaml:"height" json:"height"`
	Width  int `yaml:"width" json:"width"`
	// Batch is the training batch, Instances the images per identity in
	// it (K of the P×K sampler; Batch must be a multiple of it).
	Batch     int `yaml:"batch" json:"batch"`
	Instances int `yaml:"instances" json:"instances"`
	// BNBatch, when positive and smaller than Batch, is ghost batch norm:
	// the batch is forwarded in chunks of BNBatch images, each normalised
	// with its own statistics, as on BNBatch images per device. It must
	// divide Batch.
	BNBatch int `yaml:"bn_batch" json:"bn_batch"`
	// LabelSmoothing is the cross-entropy's ε, Margin the triplet loss's.
	LabelSmoothing float64 `yaml:"label_smoothing" json:"label_smoothing"`
	Margin         float64 `yaml:"margin" json:"margin"`
	// Flip, Pad and Erasing are the augmentation: horizontal flip with
	// probability Flip, Pad pixels of zero on every side and a random crop
	// back to the input size, random erasing with probability Erasing.
	Flip    float64 `yaml:"flip" json:"flip"`
	Pad     int     `yaml:"pad" json:"pad"`
	Erasing float64 `yaml:"erasing" json:"erasing"`
	// EvalBatch is the batch of feature extraction; Workers the goroutines
	// building batches (0: one per CPU).
	EvalBatch int `yaml:"eval_batch" json:"eval_batch"`
	Workers   int `yaml:"workers" json:"workers"`

	// DCAL is the Dual Cross-Attention Learning branches of a deit-tiny
	// network: none, glca, pwca or glca,pwca (models.ParseDCAL); GLCARatio
	// is the share of patch queries GLCA keeps, 0.3 for re-ID.
	DCAL      string  `yaml:"dcal" json:"dcal"`
	GLCARatio float64 `yaml:"glca_ratio" json:"glca_ratio"`

	// UDA holds the settings of --mode uda.
	UDA UDAConfig `yaml:"uda" json:"uda"`
}

// UDAConfig is the unsupervised domain adaptation's settings.
type UDAConfig struct {
	// Method is the adaptation method: "ccl" (cluster-wise contrastive
	// learning).
	Method string `yaml:"method" json:"method"`
	// PretrainEpochs are the first epochs of the run, supervised on the
	// source; the rest adapt to the target.
	PretrainEpochs int `yaml:"pretrain_epochs" json:"pretrain_epochs"`
	// K1 and K2 are the k-reciprocal Jaccard distance's neighbourhoods;
	// Eps and MinSamples DBSCAN's.
	K1         int     `yaml:"k1" json:"k1"`
	K2         int     `yaml:"k2" json:"k2"`
	Eps        float64 `yaml:"eps" json:"eps"`
	MinSamples int     `yaml:"min_samples" json:"min_samples"`
	// Momentum is the cluster memory's m in c ← m·c + (1−m)·x and
	// Temperature its τ.
	Momentum    float64 `yaml:"momentum" json:"momentum"`
	Temperature float64 `yaml:"temperature" json:"temperature"`
	// PDA turns on progressive domain adaptation and FA Fourier
	// augmentation, Argus's designs of the seed's two components (see
	// pdafa.go and docs/methods/uda-reid.md).
	PDA bool `yaml:"pda" json:"pda"`
	FA  bool `yaml:"fa" json:"fa"`
}

// Bounds of a run's settings.
const (
	MaxBatch   = 1 << 14
	MaxEpochs  = 1 << 16
	MaxWorkers = 1 << 10
	MaxSide    = 1 << 12
)

// Default returns the recipe of argus train reid: the strong baseline's
// (Adam 3.5e-4, weight decay 5e-4, 256×128, 16 identities × 4 images,
// flip, pad 10 + crop, random erasing 0.5, label smoothing 0.1, triplet
// margin 0.3) with a cosine schedule after a warm-up, and for UDA
// cluster-contrast's (k1 30, k2 6, eps 0.6, 4 samples, momentum 0.1,
// temperature 0.05).
func Default() Config {
	return Config{
		Model: "resnet50",
		Config: train.Config{Epochs: 60, Optimizer: "adam", LR: 3.5e-4, WeightDecay: 5e-4,
			Schedule: "cosine", Gamma: 0.7, Warmup: 20, Accumulate: 1, EvalEvery: 1, LogEvery: 20, Seed: 1},
		Mode: "supervised", Source: "domain_a",
		Height: 256, Width: 128, Batch: 64, Instances: 4,
		LabelSmoothing: 0.1, Margin: 0.3, Flip: 0.5, Pad: 10, Erasing: 0.5,
		EvalBatch: 64, DCAL: "none", GLCARatio: 0.3,
		UDA: UDAConfig{Method: "ccl", PretrainEpochs: 20, K1: 30, K2: 6, Eps: 0.6, MinSamples: 4,
			Momentum: 0.1, Temperature: 0.05},
	}
}

// Registry returns the models registry's name of the configured network.
func (c *Config) Registry() string { return "reid-" + c.Model }

// Validate reports the first setting that cannot train.
func (c *Config) Validate() error {
	if err := c.Config.Validate(); err != nil {
		return err
	}
	if !slices.Contains(Models, c.Model) {
		return fmt.Errorf("unknown model %q (have %s)", c.Model, strings.Join(Models, ", "))
	}
	prob := func(name string, p float64) error {
		if !(p >= 0 && p <= 1) {
			return fmt.Errorf("%s must be in [0, 1], got %g", name, p)
		}
		return nil
	}
	for _, p := range []struct {
		name string
		v    float64
	}{{"flip", c.Flip}, {"erasing", c.Erasing}, {"label_smoothing", c.LabelSmoothing}} {
		if err := prob(p.name, p.v); err != nil {
			return err
		}
	}
	switch {
	case c.Mode != "supervised" && c.Mode != "uda":
		return fmt.Errorf("unknown mode %q (have supervised, uda)", c.Mode)
	case c.Source == "":
		return fmt.Errorf("no source domain")
	case c.Mode == "uda" && c.Target == "":
		return fmt.Errorf("uda needs a target domain")
	case c.Mode == "uda" && c.Target == c.Source:
		return fmt.Errorf("the target domain %s is the source", c.Target)
	case c.Height < 16 || c.Width < 16 || c.Height > MaxSide || c.Width > MaxSide:
		return fmt.Errorf("input %d×%d outside 16..%d", c.Height, c.Width, MaxSide)
	case c.Instances < 1 || c.Batch < 2*c.Instances || c.Batch%c.Instances != 0:
		return fmt.Errorf("batch %d must be a multiple of instances %d holding at least 2 identities", c.Batch, c.Instances)
	case c.BNBatch < 0 || c.BNBatch > 0 && c.Batch%c.BNBatch != 0:
		return fmt.Errorf("bn_batch %d must divide batch %d", c.BNBatch, c.Batch)
	case c.BNBatch == 1:
		return fmt.Errorf("bn_batch 1 leaves batch norm one value per channel")
	case !(c.Margin >= 0):
		return fmt.Errorf("margin must not be negative, got %g", c.Margin)
	case c.Pad < 0 || c.Pad > MaxSide:
		return fmt.Errorf("pad must be in 0..%d, got %d", MaxSide, c.Pad)
	case c.EvalBatch < 1:
		return fmt.Errorf("eval_batch must be positive, got %d", c.EvalBatch)
	}
	glca, pwca, err := models.ParseDCAL(c.DCAL)
	switch {
	case err != nil:
		return err
	case (glca || pwca) && c.Model != "deit-tiny":
		return fmt.Errorf("dcal %s needs a Vision Transformer (--model deit-tiny), not %s", c.DCAL, c.Model)
	case (glca || pwca) && c.Mode == "uda":
		return fmt.Errorf("dcal with --mode uda is not built: DCAL trains supervised re-ID only")
	case glca && !(c.GLCARatio > 0 && c.GLCARatio <= 1):
		return fmt.Errorf("glca_ratio must be in (0, 1], got %g", c.GLCARatio)
	}
	if c.Mode == "uda" {
		u := c.UDA
		switch {
		case u.Method != "ccl":
			return fmt.Errorf("unknown uda method %q (have ccl)", u.Method)
		case u.PretrainEpochs < 0 || u.PretrainEpochs >= c.Epochs:
			return fmt.Errorf("pretrain_epochs %d must leave at least one of the %d epochs to adapt", u.PretrainEpochs, c.Epochs)
		case u.K2 < 1 || u.K1 < u.K2:
			return fmt.Errorf("k1 %d and k2 %d: want 1 ≤ k2 ≤ k1", u.K1, u.K2)
		case !(u.Eps > 0 && u.Eps < 1):
			return fmt.Errorf("eps %g outside (0, 1) of the Jaccard distance", u.Eps)
		case u.MinSamples < 1:
			return fmt.Errorf("min_samples must be positive, got %d", u.MinSamples)
		case !(u.Momentum >= 0 && u.Momentum <= 1):
			return fmt.Errorf("momentum %g outside [0, 1]", u.Momentum)
		case !(u.Temperature > 0):
			return fmt.Errorf("temperature must be positive, got %g", u.Temperature)
		}
	} else if c.UDA.PDA || c.UDA.FA {
		return fmt.Errorf("pda and fa adapt to a target: they need --mode uda")
	}
	return nil
}

// EvalDomain is the domain evaluated: Target, else Source.
func (c *Config) EvalDomain() string {
	if c.Target != "" {
		return c.Target
	}
	return c.Source
}

// ReadDomain reads the re-ID dataset in dir, its layout recognised from
// its files: MSMT17 (list_train.txt), Market-1501 (bounding_box_train with
// 6 cameras and pids up to 1501) or DukeMTMC-reID (bounding_box_train).
func ReadDomain(dir string) (*dataset.ReID, error) {
	has := func(p string) bool { _, err := os.Stat(filepath.Join(dir, p)); return err == nil }
	if st, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("read re-ID domain: %w", err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("read re-ID domain: %s is not a folder", dir)
	}
	switch {
	case has("list_train.txt"):
		return dataset.ReadMSMT17(dir)
	case has("bounding_box_train"):
		if d, err := dataset.ReadMarket1501(dir); err == nil {
			return d, nil
		}
		return dataset.ReadDukeMTMC(dir)
	}
	return nil, fmt.Errorf("%s is not a re-ID dataset (no bounding_box_train/ or list_train.txt)", dir)
}
