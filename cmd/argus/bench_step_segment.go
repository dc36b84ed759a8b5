package main

import (
	"fmt"

	"github.com/spf13/pflag"

	"argus/autograd"
	"argus/models"
	"argus/nn"
	"argus/optim"
	"argus/tensor"
)

// segmentBenchClasses are the label sets of a multi-dataset step:
// Cityscapes' 19 classes, CamVid's 11, and 8 more.
var segmentBenchClasses = []int{19, 11, 8}

func init() {
	for _, name := range []string{"pspnet-r18", "pspnet-r50"} {
		benchSteps[name] = benchStep{flags: segmentBenchFlags, build: func(fs *pflag.FlagSet, tf *modelFlags) (builtStep, error) {
			return segmentBenchStep(fs, tf, name)
		}}
	}
}

// segmentBenchFlags adds --method and --datasets to argus bench
// train-step.
func segmentBenchFlags(fs *pflag.FlagSet) {
	if fs.Lookup("method") == nil {
		fs.String("method", "single", "segmentation (pspnet-*): single (one dataset), joint (shared batch norms) or cdcl (one batch norm per dataset)")
	}
	if fs.Lookup("datasets") == nil {
		var n int
		intFlag(fs, &n, "datasets", 1, 1, len(segmentBenchClasses), "segmentation (pspnet-*): datasets of one alternation step, of 19, 11 and 8 classes (the first has --classes when given)")
	}
}

// segmentBenchStep is one training step of PSPNet: for each dataset a
// batch of tf.batch seeded images and labels through its batch norms and
// classifier, mmsegmentation's decode and auxiliary losses summed over the
// datasets, backward, SGD with momentum 0.9.
func segmentBenchStep(fs *pflag.FlagSet, tf *modelFlags, name string) (builtStep, error) {
	method, _ := fs.GetString("method")
	n, _ := fs.GetInt("datasets")
	classes := append([]int(nil), segmentBenchClasses[:n]...)
	if tf.classes != 0 {
		classes[0] = tf.classes
	}
	norms := 1
	switch {
	case method == "cdcl":
		norms = n
	case method == "single" && n != 1:
		return builtStep{}, fmt.Errorf("--method single times one dataset, not --datasets %d", n)
	case method != "single" && method != "joint":
		return builtStep{}, fmt.Errorf("unknown --method %q (have single, joint, cdcl)", method)
	}
	if tf.batch < 2 {
		return builtStep{}, fmt.Errorf("--batch %d: the batch norm of the 1×1 pyramid bin needs at least 2 images in training", tf.batch)
	}
	size := tf.size
	if size == 0 {
		size = 256
	}
	if size < 16 {
		return builtStep{}, fmt.Errorf("--size %d: a PSPNet needs at least 16 pixels", size)
	}
	cfg := models.PSPNetR18(classes, norms)
	if name == "pspnet-r50" {
		cfg = models.PSPNetR50(classes, norms)
	}
	rng := tensor.NewRNG(tf.seed)
	m, err := models.NewPSPNet(rng, cfg)
	if err != nil {
		return builtStep{}, err
	}
	xs := make([]*autograd.Var, n)
	ys := make([][]int, n)
	for d := range n {
		xs[d] = autograd.Const(rng.Normal(0, 1, tf.batch, 3, size, size))
		ys[d] = make([]int, tf.batch*size*size)
		r := rng.Rand()
		for i := range ys[d] {
			ys[d][i] = r.IntN(classes[d])
		}
	}
	opt := optim.NewSGD(0.9, 0, false, optim.NewGroup(0.01, 1e-4, nn.Parameters(m)...))
	nn.Train(m, true)
	step := func() {
		optim.ZeroGrad(opt)
		var total *autograd.Var
		for d := range n {
			if err := m.SetDataset(d); err != nil {
				panic(err) // d < n label sets by construction
			}
			dec, aux := m.Losses(xs[d], ys[d], 255)
			l := autograd.Add(dec, aux)
			if total == nil {
				total = l
			} else {
				total = autograd.Add(total, l)
			}
		}
		total.Backward()
		opt.Step()
	}
	return builtStep{step: step, classes: classes[0]}, nil
}
