package classify

import (
	"fmt"
	"slices"
	"strings"

	"argus/train"
)

// ReproPreset is a budget of the Deep Image reproduction of `argus repro
// deep-image`: a synthetic fine-grained set and the three trainings run
// for every seed on it (standard augmentation, Deep Image's, and Deep
// Image's with multi-scale batches), which the reproduction then compares
// at one test scale and as a multi-scale ensemble.
type ReproPreset struct {
	Name string
	// PerClass is the number of images per class of the synthetic
	// fine-grained set (a fifth of them for validation).
	PerClass int
	// Base is the standard-augmentation training; the others change only
	// its augmentation and scales.
	Base FolderConfig
	// Scales are the multi-scale training sides and the ensemble's test
	// sides.
	Scales []int
}

// Trainings returns the preset's three configs for a seed, by name.
func (p ReproPreset) Trainings(seed uint64) (names []string, cfgs []FolderConfig) {
	std := p.Base
	std.Seed = seed
	deep := std
	deep.Aug = "deepimage"
	ms := deep
	ms.Scales = slices.Clone(p.Scales)
	return []string{"standard", "deepimage", "deepimage-multiscale"}, []FolderConfig{std, deep, ms}
}

// reproPresets are the budgets by name: small keeps a training to one or
// two minutes on two cores, medium (three times the epochs) to about five;
// tiny checks the whole pipeline in seconds.
var reproPresets = map[string]ReproPreset{
	"small":  {Name: "small", PerClass: 30, Scales: []int{40, 48, 64}, Base: reproBase(48, 10, 32)},
	"medium": {Name: "medium", PerClass: 30, Scales: []int{40, 48, 64}, Base: reproBase(48, 30, 32)},
	"tiny":   {Name: "tiny", PerClass: 4, Scales: []int{32, 40}, Base: reproBase(32, 1, 16)},
}

func reproBase(size, epochs, batch int) FolderConfig {
	c := ImageNet()
	c.Model, c.Size, c.Epochs, c.Batch = "resnet18", size, epochs, batch
	// AdamW: SGD at the ImageNet recipe's rate is unstable on a few
	// hundred images at these sizes.
	c.Config.Config = train.Config{Epochs: epochs, Optimizer: "adamw", LR: 1e-3, WeightDecay: 0.05, Momentum: 0.9,
		Schedule: "cosine", Gamma: 0.7, Warmup: 30, Accumulate: 1, EvalEvery: epochs, LogEvery: 10, Seed: 1}
	c.LabelSmoothing = 0.1
	c.CropMinArea = 0.35
	return c
}

// DeepImageRepro returns the named preset of the Deep Image reproduction.
func DeepImageRepro(name string) (ReproPreset, error) {
	p, ok := reproPresets[name]
	if !ok {
		names := make([]string, 0, len(reproPresets))
		for n := range reproPresets {
			names = append(names, n)
		}
		slices.Sort(names)
		return ReproPreset{}, fmt.Errorf("unknown preset %q (have %s)", name, strings.Join(names, ", "))
	}
	p.Scales = slices.Clone(p.Scales)
	return p, nil
}
