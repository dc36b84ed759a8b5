package main

import (
	"fmt"

	"github.com/spf13/pflag"

	"argus/autograd"
	"argus/detect/atss"
	"argus/models"
	"argus/nn"
	"argus/optim"
	"argus/tensor"
)

// The ATSS detectors' training step: 10 classes unless --classes says
// otherwise, 5 seeded boxes per image, ATSS's assignment and loss, and SGD
// (lr 0.01, momentum 0.9, weight decay 1e-4, ATSS's optimiser).
func init() {
	for _, name := range []string{"atss-r18", "atss-r50"} {
		benchSteps[name] = benchStep{build: func(_ *pflag.FlagSet, tf *modelFlags) (builtStep, error) {
			return atssBenchStep(name, tf)
		}}
	}
}

// atssBenchBoxes is the number of ground-truth boxes of each image.
const atssBenchBoxes = 5

func atssBenchStep(name string, tf *modelFlags) (builtStep, error) {
	classes := tf.classes
	if classes == 0 {
		classes = 10
	}
	spec, err := models.Lookup(name)
	if err != nil {
		return builtStep{}, err
	}
	if spec, err = spec.WithClasses(classes); err != nil {
		return builtStep{}, fmt.Errorf("--classes: %w", err)
	}
	if err := spec.CheckSize(tf.size, tf.size); err != nil {
		return builtStep{}, err
	}
	m, err := spec.New(tensor.NewRNG(tf.seed))
	if err != nil {
		return builtStep{}, err
	}
	det := m.(*atss.Detector)
	rng := tensor.NewRNG(tf.seed + 1)
	x := autograd.Const(rng.Uniform(0, 1, tf.batch, 3, tf.size, tf.size))
	targets := make([]atss.Target, tf.batch)
	r, s := rng.Rand(), float64(tf.size)
	for i := range targets {
		for range atssBenchBoxes {
			w, h := s*(0.05+0.45*r.Float64()), s*(0.05+0.45*r.Float64())
			x0, y0 := r.Float64()*(s-w), r.Float64()*(s-h)
			targets[i].Boxes = append(targets[i].Boxes, float32(x0), float32(y0), float32(x0+w), float32(y0+h))
			targets[i].Labels = append(targets[i].Labels, r.IntN(classes))
		}
	}
	crit := atss.NewCriterion(atss.ATSS{TopK: 9})
	opt := optim.NewSGD(0.9, 0, false, optim.NewGroup(0.01, 1e-4, nn.Parameters(det)...))
	nn.Train(det, true)
	step := func() {
		optim.ZeroGrad(opt)
		ls, err := crit.Loss(det.Predict(x), targets)
		if err != nil {
			panic(err) // the seeded targets are valid by construction
		}
		ls.Total().Backward()
		opt.Step()
	}
	return builtStep{step: step, classes: classes}, nil
}
