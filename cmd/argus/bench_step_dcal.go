package main

import (
	"fmt"
	"strconv"

	"github.com/spf13/pflag"

	"argus/autograd"
	"argus/dcal"
	"argus/models"
	"argus/nn"
	"argus/optim"
	"argus/tensor"
)

// The ViTs' training step with DCAL's branches: --dcal none (the default)
// is the classification step every model of the registry takes; glca,
// pwca or glca,pwca time the DCAL step of argus train finegrained (each
// branch's cross-entropy, uncertainty-weighted, PWCA's partners drawn from
// the batch) with the same SGD update.
func init() {
	for _, name := range []string{"deit-tiny", "deit-small", "vit-base"} {
		benchSteps[name] = benchStep{flags: dcalBenchFlags, build: func(fs *pflag.FlagSet, tf *modelFlags) (builtStep, error) {
			return dcalBenchStep(fs, tf)
		}}
	}
}

func dcalBenchFlags(fs *pflag.FlagSet) {
	if fs.Lookup("dcal") == nil {
		fs.String("dcal", "none", "ViTs: DCAL branches of the step, none, glca, pwca or glca,pwca")
	}
	if fs.Lookup("glca-ratio") == nil {
		var r float64
		floatRangeFlag(fs, &floatRange{p: &r, min: 0, max: 1, minOpen: true}, "glca-ratio", 0.1, "ViTs with --dcal glca: share of the patches whose queries GLCA keeps")
	}
}

func dcalBenchStep(fs *pflag.FlagSet, tf *modelFlags) (builtStep, error) {
	branches, _ := fs.GetString("dcal")
	glca, pwca, err := models.ParseDCAL(branches)
	if err != nil {
		return builtStep{}, fmt.Errorf("--dcal: %w", err)
	}
	ratio, err := strconv.ParseFloat(fs.Lookup("glca-ratio").Value.String(), 64)
	if err != nil {
		return builtStep{}, fmt.Errorf("--glca-ratio: %w", err)
	}
	c, _ := models.ViTPreset(tf.model)
	if tf.classes != 0 {
		c.Classes = tf.classes
	}
	if tf.size < c.Patch || tf.size%c.Patch != 0 {
		return builtStep{}, fmt.Errorf("--size %d is not a multiple of %s's patch of %d", tf.size, tf.model, c.Patch)
	}
	c.GridH, c.GridW = tf.size/c.Patch, tf.size/c.Patch
	c.DropPath = 0.1
	rng := tensor.NewRNG(tf.seed)
	m, err := models.NewDCAL(rng, c, models.DCALOptions{GLCA: glca, PWCA: pwca, GLCARatio: ratio})
	if err != nil {
		return builtStep{}, err
	}
	if !glca && !pwca {
		// The registry's step: no drop path, plain cross-entropy.
		c.DropPath = 0
		if m, err = models.NewDCAL(tensor.NewRNG(tf.seed), c, models.DCALOptions{}); err != nil {
			return builtStep{}, err
		}
	}
	x, y := tf.inputs(benchModel{channels: 3, classes: c.Classes})
	in := autograd.Const(x)
	opt := optim.NewSGD(0.9, 0, false, optim.NewGroup(0.01, 0, nn.Parameters(m)...))
	nn.Train(m, true)
	return builtStep{classes: c.Classes, step: func() {
		optim.ZeroGrad(opt)
		var partners []int
		if pwca {
			partners = dcal.Partners(rng, len(y))
		}
		terms, _ := m.Losses(in, y, partners, autograd.CrossEntropyOptions{})
		loss := terms[0]
		for _, t := range terms[1:] {
			loss = autograd.Add(loss, t)
		}
		loss.Backward()
		opt.Step()
	}}, nil
}
