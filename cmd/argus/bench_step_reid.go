package main

import (
	"fmt"

	"github.com/spf13/pflag"

	"argus/autograd"
	"argus/models"
	"argus/nn"
	"argus/optim"
	"argus/reid"
	reidtask "argus/tasks/reid"
	"argus/tensor"
	"argus/train"
)

// The re-ID training steps of argus bench train-step: reid-r50 and reid-r18
// are the re-ID networks on ResNet-50 and ResNet-18 (models' reid-resnet50
// and reid-resnet18), at 256x128 unless --size says otherwise, on P×4
// identity-balanced batches.
func init() {
	for name, depth := range map[string]int{"reid-r50": 50, "reid-r18": 18} {
		benchSteps[name] = benchStep{
			flags: func(fs *pflag.FlagSet) {
				if fs.Lookup("loss") == nil {
					fs.String("loss", "ce-triplet", "re-ID steps: ce-triplet (supervised: label-smoothed cross-entropy + batch-hard triplet) or cluster (CCL: InfoNCE against a 500-centroid memory)")
				}
			},
			build: func(fs *pflag.FlagSet, tf *modelFlags) (builtStep, error) {
				return reidBenchStep(fs, tf, depth)
			},
		}
	}
}

// reidBenchStep builds one training step of argus train reid on a seeded
// batch: the supervised step (751 identities by default) or the CCL step
// against a memory of 500 random unit centroids, each with Adam.
func reidBenchStep(fs *pflag.FlagSet, tf *modelFlags, depth int) (builtStep, error) {
	loss, _ := fs.GetString("loss")
	if loss != "ce-triplet" && loss != "cluster" {
		return builtStep{}, fmt.Errorf("unknown --loss %q (have ce-triplet, cluster)", loss)
	}
	if !fs.Changed("size") {
		tf.size, tf.width = 256, 128
	} else if tf.width == 0 {
		tf.width = tf.size
	}
	const k = 4
	if tf.batch < 2*k || tf.batch%k != 0 {
		return builtStep{}, fmt.Errorf("--batch %d: the re-ID steps take P identities × %d images, at least 2 identities", tf.batch, k)
	}
	classes := tf.classes
	if classes == 0 {
		classes = 751
	}
	if loss == "cluster" {
		classes = 500
	}
	if tf.batch/k > classes {
		return builtStep{}, fmt.Errorf("--batch %d holds %d identities, more than the %d classes", tf.batch, tf.batch/k, classes)
	}
	net, err := models.NewReIDResNet(tensor.NewRNG(tf.seed), depth, max(classes, 1))
	if err != nil {
		return builtStep{}, err
	}
	if err := (models.Spec{MinSize: 16}).CheckSize(tf.size, tf.width); err != nil {
		return builtStep{}, err
	}
	rng := tensor.NewRNG(tf.seed + 1)
	x := rng.Uniform(0, 1, tf.batch, 3, tf.size, tf.width)
	// P identities drawn without repetition, K images each.
	ids := rng.Rand().Perm(classes)[:tf.batch/k]
	labels := make([]int, tf.batch)
	for i := range labels {
		labels[i] = ids[i/k]
	}
	cfg := reidtask.Default()
	opt := train.NewOptimizer(cfg.Config, net)
	nn.Train(net, true)
	var mem *reid.ClusterMemory
	if loss == "cluster" {
		d := net.Bottleneck.Weight.Value().Len()
		c := rng.Normal(0, 1, classes, d)
		feats := c.Data()
		targets := make([]int, classes)
		for i := range targets {
			targets[i] = i
		}
		if mem, err = reid.NewClusterMemory(feats, classes, d, targets, classes, float32(cfg.UDA.Momentum), float32(cfg.UDA.Temperature)); err != nil {
			return builtStep{}, err
		}
	}
	step := func() {
		optim.ZeroGrad(opt)
		var terms []train.Term
		var err error
		if mem != nil {
			f := reid.L2Normalize(reidtask.Forward(net, x, 0).Neck)
			var l *autograd.Var
			if l, err = mem.Loss(f, labels); err == nil {
				err = mem.Update(f.Value(), labels)
			}
			terms = []train.Term{{Name: "ccl", Loss: l}}
		} else {
			terms, err = reidtask.Losses(net, x, labels, float32(cfg.LabelSmoothing), float32(cfg.Margin), 0, nil)
		}
		if err != nil {
			panic(err) // the batch was built to fit the step
		}
		total := terms[0].Loss
		for _, t := range terms[1:] {
			total = autograd.Add(total, t.Loss)
		}
		total.Backward()
		opt.Step()
	}
	return builtStep{step: step, classes: classes}, nil
}
