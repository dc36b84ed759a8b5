package segment

import (
	"fmt"
	"slices"
	"strings"
)

// ReproPreset is a budget of the CDCL reproduction of `argus repro cdcl`:
// the synthetic street scenes (argus data synth segmentation) and, for
// every seed, the trainings compared: one single-dataset network per
// dataset, joint training with shared batch norms, and CDCL.
type ReproPreset struct {
	Name string
	// PerDataset is the number of images of each synthetic dataset (a
	// fifth of them for validation).
	PerDataset int
	// Datasets are the datasets trained on, in order.
	Datasets []string
	// Base is the CDCL training; the others change its method and
	// datasets only, so every network sees the same iterations, crops and
	// schedule.
	Base Config
	// FLOPsSize is the input side at which the inference FLOPs per
	// dataset are counted (a multiple of 48, so that the pyramid's bins
	// divide the feature map).
	FLOPsSize int
}

// Training is one run of a reproduction.
type Training struct {
	// Name is "single:DATASET", "joint" or "cdcl".
	Name   string
	Config Config
}

// Trainings returns the preset's runs for a seed: single per dataset,
// joint, cdcl.
func (p ReproPreset) Trainings(seed uint64) []Training {
	var out []Training
	base := p.Base
	base.Seed = seed
	base.Datasets = slices.Clone(p.Datasets)
	for _, d := range p.Datasets {
		c := base
		c.Method, c.Datasets = "single", []string{d}
		out = append(out, Training{Name: "single:" + d, Config: c})
	}
	joint := base
	joint.Method = "joint"
	cdcl := base
	cdcl.Method = "cdcl"
	return append(out, Training{Name: "joint", Config: joint}, Training{Name: "cdcl", Config: cdcl})
}

// reproPresets are the budgets by name. small keeps each training within
// about ten minutes on two cores (a PSPNet-R18 of half width, 64×64 crops
// of each dataset's images at up to a quarter of their size, evaluated
// at 128 pixels on the longer side); tiny checks the whole pipeline in a
// minute or two.
var reproPresets = map[string]ReproPreset{
	"small": {Name: "small", PerDataset: 60, Datasets: []string{"cityscapes", "camvid", "coarse"}, Base: reproBase(300, 4, 64, 32, 128), FLOPsSize: 96},
	"tiny":  {Name: "tiny", PerDataset: 6, Datasets: []string{"cityscapes", "camvid", "coarse"}, Base: reproBase(3, 2, 32, 16, 64), FLOPsSize: 48},
}

func reproBase(iters, batch, crop, width, evalScale int) Config {
	c := CDCL()
	c.Iters, c.Batch, c.Crop, c.Width, c.EvalScale = iters, batch, crop, width, evalScale
	// The synthetic images are 320 to 512 pixels wide: a ratio range of
	// 0.125 to 0.5 gives crops of the scene at the scale of the
	// evaluation's (128 on the longer side is a quarter).
	c.Ratio = [2]float64{0.125, 0.5}
	c.LogEvery = 10
	return c
}

// CDCLRepro returns the named preset of the CDCL reproduction.
func CDCLRepro(name string) (ReproPreset, error) {
	p, ok := reproPresets[name]
	if !ok {
		names := make([]string, 0, len(reproPresets))
		for n := range reproPresets {
			names = append(names, n)
		}
		slices.Sort(names)
		return ReproPreset{}, fmt.Errorf("unknown preset %q (have %s)", name, strings.Join(names, ", "))
	}
	p.Datasets = slices.Clone(p.Datasets)
	return p, nil
}
