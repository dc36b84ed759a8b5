package nn

import (
	"argus/autograd"
	"argus/tensor"
)

// BatchNorm2d normalises each channel with batch statistics in training and
// running statistics in evaluation, as torch.nn.BatchNorm2d. Its state dict
// holds weight, bias, running_mean, running_var and num_batches_tracked.
type BatchNorm2d struct {
	Weight, Bias            *autograd.Var
	RunningMean, RunningVar *tensor.Tensor
	// NumBatchesTracked counts training batches, a scalar kept for
	// compatibility with PyTorch checkpoints.
	NumBatchesTracked *tensor.Tensor
	Momentum, Eps     float32
	Training          bool
}

// NewBatchNorm2d returns a BatchNorm2d over c channels with weight 1, bias
// 0, running mean 0, running variance 1, momentum 0.1 and eps 1e-5.
func NewBatchNorm2d(c int) *BatchNorm2d {
	return &BatchNorm2d{
		Weight:            autograd.Param(tensor.Ones(c)),
		Bias:              autograd.Param(tensor.Zeros(c)),
		RunningMean:       tensor.Zeros(c),
		RunningVar:        tensor.Ones(c),
		NumBatchesTracked: tensor.Scalar(0),
		Momentum:          0.1,
		Eps:               1e-5,
		Training:          true,
	}
}

// Members implements Module.
func (b *BatchNorm2d) Members() Members {
	return Members{
		Params: params("weight", b.Weight, "bias", b.Bias),
		Buffers: []Buffer{
			{Name: "running_mean", Value: b.RunningMean},
			{Name: "running_var", Value: b.RunningVar},
			{Name: "num_batches_tracked", Value: b.NumBatchesTracked, Integer: true},
		},
	}
}

// SetTraining switches between batch and running statistics.
func (b *BatchNorm2d) SetTraining(on bool) { b.Training = on }

// Forward normalises x (N, C, ...).
func (b *BatchNorm2d) Forward(x *autograd.Var) *autograd.Var {
	if b.Training {
		b.NumBatchesTracked.Data()[0]++
	}
	return autograd.BatchNorm2d(x, b.Weight, b.Bias, b.RunningMean, b.RunningVar,
		autograd.BatchNormOptions{Training: b.Training, Momentum: b.Momentum, Eps: b.Eps})
}

// LayerNorm normalises over the trailing dimensions given by Shape, with a
// per-element affine transform, as torch.nn.LayerNorm.
type LayerNorm struct {
	Weight, Bias *autograd.Var
	Shape        []int
	Eps          float32
}

// NewLayerNorm returns a LayerNorm over the trailing shape, eps 1e-5 (ViTs
// use 1e-6: set Eps).
func NewLayerNorm(shape ...int) *LayerNorm {
	return &LayerNorm{
		Weight: autograd.Param(tensor.Ones(shape...)),
		Bias:   autograd.Param(tensor.Zeros(shape...)),
		Shape:  append([]int{}, shape...),
		Eps:    1e-5,
	}
}

// Members implements Module.
func (l *LayerNorm) Members() Members {
	return Members{Params: params("weight", l.Weight, "bias", l.Bias)}
}

// Forward normalises x.
func (l *LayerNorm) Forward(x *autograd.Var) *autograd.Var {
	return autograd.LayerNorm(x, l.Shape, l.Weight, l.Bias, l.Eps)
}

// GroupNorm normalises groups of channels per sample, as torch.nn.GroupNorm.
type GroupNorm struct {
	Weight, Bias *autograd.Var
	Groups       int
	Eps          float32
}

// NewGroupNorm returns a GroupNorm of c channels in the given number of
// groups, eps 1e-5.
func NewGroupNorm(groups, c int) *GroupNorm {
	return &GroupNorm{Weight: autograd.Param(tensor.Ones(c)), Bias: autograd.Param(tensor.Zeros(c)), Groups: groups, Eps: 1e-5}
}

// Members implements Module.
func (g *GroupNorm) Members() Members {
	return Members{Params: params("weight", g.Weight, "bias", g.Bias)}
}

// Forward normalises x (N, C, ...).
func (g *GroupNorm) Forward(x *autograd.Var) *autograd.Var {
	return autograd.GroupNorm(x, g.Groups, g.Weight, g.Bias, g.Eps)
}

// Dropout zeroes elements with probability P in training and is the identity
// in evaluation. Its masks come from RNG, so a seeded run repeats exactly.
type Dropout struct {
	P        float32
	RNG      *tensor.RNG
	Training bool
}

// NewDropout returns a Dropout layer in training mode drawing from rng.
func NewDropout(p float32, rng *tensor.RNG) *Dropout { return &Dropout{P: p, RNG: rng, Training: true} }

// Members implements Module.
func (d *Dropout) Members() Members { return Members{} }

// SetTraining turns dropping on or off.
func (d *Dropout) SetTraining(on bool) { d.Training = on }

// Forward applies dropout.
func (d *Dropout) Forward(x *autograd.Var) *autograd.Var {
	return autograd.Dropout(x, d.P, d.Training, d.RNG)
}

// Dropout2d zeroes whole channels with probability P in training (PyTorch's
// nn.Dropout2d, the PSP head's dropout) and is the identity in evaluation.
// Its masks come from RNG, so a seeded run repeats exactly.
type Dropout2d struct {
	P        float32
	RNG      *tensor.RNG
	Training bool
}

// NewDropout2d returns a Dropout2d layer in training mode drawing from rng.
func NewDropout2d(p float32, rng *tensor.RNG) *Dropout2d {
	return &Dropout2d{P: p, RNG: rng, Training: true}
}

// Members implements Module.
func (d *Dropout2d) Members() Members { return Members{} }

// SetTraining turns dropping on or off.
func (d *Dropout2d) SetTraining(on bool) { d.Training = on }

// Forward applies channel dropout.
func (d *Dropout2d) Forward(x *autograd.Var) *autograd.Var {
	return autograd.Dropout2d(x, d.P, d.Training, d.RNG)
}

// DropPath is stochastic depth (timm's DropPath): in training each sample of
// the batch is zeroed with probability P and the others are divided by
// 1−P; in evaluation it is the identity. The flags come from RNG, so a
// seeded run repeats exactly.
type DropPath struct {
	P        float32
	RNG      *tensor.RNG
	Training bool
	// Flags, when not nil, gives each call's per-sample keep flags for a
	// batch of n in place of RNG's draws, so that a test can feed the masks
	// of a reference run.
	Flags func(n int) []bool
}

// NewDropPath returns a DropPath layer in training mode drawing from rng.
func NewDropPath(p float32, rng *tensor.RNG) *DropPath {
	return &DropPath{P: p, RNG: rng, Training: true}
}

// Members implements Module.
func (d *DropPath) Members() Members { return Members{} }

// SetTraining turns dropping on or off.
func (d *DropPath) SetTraining(on bool) { d.Training = on }

// Forward applies drop path to x, whose first axis is the batch.
func (d *DropPath) Forward(x *autograd.Var) *autograd.Var {
	if !d.Training || d.P == 0 {
		return x
	}
	if d.Flags != nil {
		return autograd.DropPath(x, d.P, d.Flags(x.Shape()[0]))
	}
	keep := make([]bool, x.Shape()[0])
	r := d.RNG.Rand()
	for i := range keep {
		keep[i] = r.Float32() >= d.P
	}
	return autograd.DropPath(x, d.P, keep)
}
