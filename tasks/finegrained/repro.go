package finegrained

import (
	"fmt"
	"slices"
	"strings"

	"argus/train"
)

// ReproPreset is a budget of the DCAL reproduction of `argus repro dcal`:
// a synthetic fine-grained set and the four trainings run for every seed
// on it (the ViT alone, +GLCA, +PWCA, both), which differ in their
// branches only.
type ReproPreset struct {
	Name string
	// PerClass is the number of images per class of the synthetic
	// fine-grained set (a fifth of them for validation).
	PerClass int
	// Base is the baseline training (no DCAL branch).
	Base Config
}

// ReproBranches are the compared settings, as --dcal spells them.
var ReproBranches = []string{"none", "glca", "pwca", "glca,pwca"}

// Trainings returns the preset's four configs for a seed, in the order of
// ReproBranches; init, when not empty, starts each from that state dict.
func (p ReproPreset) Trainings(seed uint64, init string) []Config {
	out := make([]Config, len(ReproBranches))
	for i, b := range ReproBranches {
		c := p.Base
		c.Seed, c.DCAL, c.Init = seed, b, init
		out[i] = c
	}
	return out
}

// reproPresets are the budgets by name. No pretrained weights: DeiT-tiny
// from scratch at 64×64 (a 4×4 patch grid), where a training of the
// heaviest setting (both branches) takes about five minutes on two cores;
// tiny checks the pipeline in seconds.
var reproPresets = map[string]ReproPreset{
	"small": {Name: "small", PerClass: 30, Base: reproBase(64, 30, 32)},
	"tiny":  {Name: "tiny", PerClass: 4, Base: reproBase(32, 1, 16)},
}

func reproBase(size, epochs, batch int) Config {
	c := Default()
	c.Size, c.Batch, c.EvalBatch = size, batch, 50
	// From scratch: a larger rate than the paper's fine-tuning one, with
	// a warm-up, and label smoothing as DeiT trains.
	c.Config.Config = train.Config{Epochs: epochs, Optimizer: "adamw", LR: 1e-3, WeightDecay: 0.05, Momentum: 0.9,
		Schedule: "cosine", Gamma: 0.7, Warmup: 30, Accumulate: 1, EvalEvery: epochs, LogEvery: 10, Seed: 1}
	c.LabelSmoothing = 0.1
	return c
}

// Repro returns the named preset of the DCAL reproduction.
func Repro(name string) (ReproPreset, error) {
	p, ok := reproPresets[name]
	if !ok {
		names := make([]string, 0, len(reproPresets))
		for n := range reproPresets {
			names = append(names, n)
		}
		slices.Sort(names)
		return ReproPreset{}, fmt.Errorf("unknown preset %q (have %s)", name, strings.Join(names, ", "))
	}
	return p, nil
}
