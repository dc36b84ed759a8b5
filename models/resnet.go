package models

import (
	"fmt"
	"strconv"

	"argus/autograd"
	"argus/nn"
	"argus/tensor"
)

// ResNet is torchvision's ResNet (v1.5: the stride of a bottleneck sits on
// its 3×3 convolution) with torchvision's parameter names, so a torchvision
// state dict converted to safetensors loads as is.
type ResNet struct {
	Conv1  *nn.Conv2d
	BN1    *nn.BatchNorm2d
	Layers [4]*nn.Sequential
	FC     *nn.Linear
}

// Block is a residual block, basic or bottleneck.
type Block struct {
	Conv1, Conv2, Conv3 *nn.Conv2d
	BN1, BN2, BN3       *nn.BatchNorm2d
	// Downsample projects the identity when the shape changes: a 1×1
	// convolution "0" and a batch norm "1".
	Downsample *nn.Sequential
}

// Members implements nn.Module.
func (b *Block) Members() nn.Members {
	var m nn.Members
	add := func(name string, mod nn.Module) {
		m.Children = append(m.Children, nn.Child{Name: name, Module: mod})
	}
	add("conv1", b.Conv1)
	add("bn1", b.BN1)
	add("conv2", b.Conv2)
	add("bn2", b.BN2)
	if b.Conv3 != nil {
		add("conv3", b.Conv3)
		add("bn3", b.BN3)
	}
	if b.Downsample != nil {
		add("downsample", b.Downsample)
	}
	return m
}

// Forward applies the block.
func (b *Block) Forward(x *autograd.Var) *autograd.Var {
	id := x
	out := autograd.ReLU(b.BN1.Forward(b.Conv1.Forward(x)))
	out = b.BN2.Forward(b.Conv2.Forward(out))
	if b.Conv3 != nil {
		out = b.BN3.Forward(b.Conv3.Forward(autograd.ReLU(out)))
	}
	if b.Downsample != nil {
		id = b.Downsample.Forward(x)
	}
	return autograd.ReLU(autograd.Add(out, id))
}

// resNetDepths lists the supported depths and their blocks per stage.
var resNetDepths = map[int]struct {
	blocks     [4]int
	bottleneck bool
}{
	18:  {[4]int{2, 2, 2, 2}, false},
	34:  {[4]int{3, 4, 6, 3}, false},
	50:  {[4]int{3, 4, 6, 3}, true},
	101: {[4]int{3, 4, 23, 3}, true},
	152: {[4]int{3, 8, 36, 3}, true},
}

// NewResNet returns a ResNet of the given depth (18, 34, 50, 101 or 152)
// with numClasses outputs, initialised as torchvision does: Kaiming-normal
// (fan-out, ReLU) convolutions, unit batch-norm scales, default Linear.
// With numClasses 0 it has no classifier (FC is nil): the body of a
// backbone, whose state dict is torchvision's IntermediateLayerGetter's.
func NewResNet(rng *tensor.RNG, depth, numClasses int) (*ResNet, error) {
	cfg, ok := resNetDepths[depth]
	if !ok {
		return nil, fmt.Errorf("no ResNet of depth %d (have 18, 34, 50, 101, 152)", depth)
	}
	if numClasses < 0 {
		return nil, fmt.Errorf("a ResNet needs at least 1 class (or 0 for no classifier), not %d", numClasses)
	}
	conv := func(in, out, k, stride int) *nn.Conv2d {
		w := tensor.Zeros(out, in, k, k)
		nn.KaimingNormal(rng, w, 0, nn.FanOut, "relu")
		return &nn.Conv2d{Weight: autograd.Param(w), Options: autograd.Conv2dOptions{Stride: []int{stride, stride}, Padding: []int{k / 2, k / 2}}}
	}
	r := &ResNet{Conv1: conv(3, 64, 7, 2), BN1: nn.NewBatchNorm2d(64)}
	expansion := 1
	if cfg.bottleneck {
		expansion = 4
	}
	in := 64
	for s := range 4 {
		planes := 64 << s
		stride := 1
		if s > 0 {
			stride = 2
		}
		seq := &nn.Sequential{}
		for i := range cfg.blocks[s] {
			st := 1
			if i == 0 {
				st = stride
			}
			b := &Block{}
			if cfg.bottleneck {
				b.Conv1, b.BN1 = conv(in, planes, 1, 1), nn.NewBatchNorm2d(planes)
				b.Conv2, b.BN2 = conv(planes, planes, 3, st), nn.NewBatchNorm2d(planes)
				b.Conv3, b.BN3 = conv(planes, planes*4, 1, 1), nn.NewBatchNorm2d(planes*4)
			} else {
				b.Conv1, b.BN1 = conv(in, planes, 3, st), nn.NewBatchNorm2d(planes)
				b.Conv2, b.BN2 = conv(planes, planes, 3, 1), nn.NewBatchNorm2d(planes)
			}
			if st != 1 || in != planes*expansion {
				b.Downsample = nn.NewSequential(conv(in, planes*expansion, 1, st), nn.NewBatchNorm2d(planes*expansion))
			}
			seq.Layers = append(seq.Layers, b)
			in = planes * expansion
		}
		r.Layers[s] = seq
	}
	if numClasses > 0 {
		r.FC = nn.NewLinear(rng, 512*expansion, numClasses, true)
	}
	return r, nil
}

// Members implements nn.Module with torchvision's names.
func (r *ResNet) Members() nn.Members {
	m := nn.Members{Children: []nn.Child{{Name: "conv1", Module: r.Conv1}, {Name: "bn1", Module: r.BN1}}}
	for i, l := range r.Layers {
		m.Children = append(m.Children, nn.Child{Name: "layer" + strconv.Itoa(i+1), Module: l})
	}
	if r.FC != nil {
		m.Children = append(m.Children, nn.Child{Name: "fc", Module: r.FC})
	}
	return m
}

// StageChannels returns the channels of C2–C5, the outputs of layer1 to
// layer4: 64 to 512 for the basic blocks, 256 to 2048 for bottlenecks.
func (r *ResNet) StageChannels() []int {
	var cs []int
	for _, l := range r.Layers {
		b := l.Layers[len(l.Layers)-1].(*Block)
		last := b.Conv2
		if b.Conv3 != nil {
			last = b.Conv3
		}
		cs = append(cs, last.Weight.Shape()[0])
	}
	return cs
}

// Stages maps images (N, 3, H, W) to C2–C5, the outputs of layer1 to
// layer4, of strides 4, 8, 16 and 32.
func (r *ResNet) Stages(x *autograd.Var) [4]*autograd.Var {
	x = autograd.ReLU(r.BN1.Forward(r.Conv1.Forward(x)))
	x = autograd.MaxPool2d(x, autograd.MaxPool2dOptions{Kernel: [2]int{3, 3}, Stride: [2]int{2, 2}, Padding: [2]int{1, 1}})
	var cs [4]*autograd.Var
	for i, l := range r.Layers {
		x = l.Forward(x)
		cs[i] = x
	}
	return cs
}

// Features maps images (N, 3, H, W) to pooled features (N, 512·expansion).
func (r *ResNet) Features(x *autograd.Var) *autograd.Var {
	x = autograd.AdaptiveAvgPool2d(r.Stages(x)[3], 1, 1)
	return autograd.Flatten(x, 1, -1)
}

// Forward maps images to class logits. It panics on a ResNet without a
// classifier.
func (r *ResNet) Forward(x *autograd.Var) *autograd.Var {
	if r.FC == nil {
		panic("models: Forward of a ResNet without a classifier; use Stages or Features")
	}
	return r.FC.Forward(r.Features(x))
}

// SetLastStride sets the stride of layer4, the last stage, to s (1 or 2,
// torchvision's). With 1, as re-ID networks use (Luo et al.'s "last
// stride"), C5 keeps the resolution of C4, stride 16 instead of 32. It
// changes the stride of the stage's first block, on its 3×3 convolution
// (the second of a bottleneck, the first of a basic block), and of its
// downsample projection; the weights and their names are unchanged, so a
// torchvision state dict still loads.
func (r *ResNet) SetLastStride(s int) error {
	if s != 1 && s != 2 {
		return fmt.Errorf("last stride %d, want 1 or 2", s)
	}
	b := r.Layers[3].Layers[0].(*Block)
	conv := b.Conv1
	if b.Conv3 != nil {
		conv = b.Conv2
	}
	conv.Options.Stride = []int{s, s}
	if b.Downsample != nil {
		b.Downsample.Layers[0].(*nn.Conv2d).Options.Stride = []int{s, s}
	}
	return nil
}
