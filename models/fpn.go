package models

import (
	"fmt"

	"argus/autograd"
	"argus/nn"
	"argus/tensor"
)

// FPN is torchvision's FeaturePyramidNetwork without extra blocks: a 1×1
// lateral convolution per input level, a top-down path that adds each
// coarser merged map, resized by nearest neighbours, to the next finer
// lateral, and a 3×3 output convolution per level. Its parameters carry
// torchvision's names (inner_blocks.i.0, layer_blocks.i.0).
type FPN struct {
	// Lateral holds the 1×1 convolutions, finest level first.
	Lateral []*nn.Conv2d
	// Output holds the 3×3 convolutions, finest level first.
	Output []*nn.Conv2d
}

// NewFPN returns an FPN from feature maps of the given channel counts
// (finest first) to maps of out channels, initialised as torchvision does:
// Kaiming-uniform weights with a = 1, zero biases.
func NewFPN(rng *tensor.RNG, in []int, out int) *FPN {
	conv := func(in, k int) *nn.Conv2d {
		w := tensor.Zeros(out, in, k, k)
		nn.KaimingUniform(rng, w, 1, nn.FanIn, "leaky_relu")
		return &nn.Conv2d{Weight: autograd.Param(w), Bias: autograd.Param(tensor.Zeros(out)),
			Options: autograd.Conv2dOptions{Padding: []int{k / 2, k / 2}}}
	}
	f := &FPN{}
	for _, c := range in {
		f.Lateral = append(f.Lateral, conv(c, 1))
		f.Output = append(f.Output, conv(out, 3))
	}
	return f
}

// Members implements nn.Module with torchvision's names: each convolution
// is module 0 of a block, as torchvision's Conv2dNormActivation holds it.
func (f *FPN) Members() nn.Members {
	blocks := func(cs []*nn.Conv2d) *nn.Sequential {
		s := &nn.Sequential{}
		for _, c := range cs {
			s.Layers = append(s.Layers, nn.NewSequential(c))
		}
		return s
	}
	return nn.Members{Children: []nn.Child{
		{Name: "inner_blocks", Module: blocks(f.Lateral)},
		{Name: "layer_blocks", Module: blocks(f.Output)},
	}}
}

// Forward maps the feature maps cs (finest first, one per lateral) to the
// pyramid, finest first.
func (f *FPN) Forward(cs []*autograd.Var) []*autograd.Var {
	n := len(f.Lateral)
	if len(cs) != n {
		panic(fmt.Sprintf("models: FPN of %d levels given %d feature maps", n, len(cs)))
	}
	out := make([]*autograd.Var, n)
	last := f.Lateral[n-1].Forward(cs[n-1])
	out[n-1] = f.Output[n-1].Forward(last)
	for i := n - 2; i >= 0; i-- {
		lat := f.Lateral[i].Forward(cs[i])
		s := lat.Shape()
		last = autograd.Add(lat, autograd.ResizeNearest(last, s[2], s[3]))
		out[i] = f.Output[i].Forward(last)
	}
	return out
}

// ResNetFPN is a detection backbone with torchvision's BackboneWithFPN
// structure: a ResNet body without its classifier, whose stages layer1 to
// layer4 give C2–C5 (strides 4 to 32), and an FPN over them giving P2–P5.
// Its state dict's names are torchvision's: body.conv1.weight, ...,
// fpn.inner_blocks.0.0.weight, ...
type ResNetFPN struct {
	Body *ResNet
	FPN  *FPN
}

// NewResNetFPN returns a ResNet-FPN backbone of the given depth (18, 34,
// 50, 101 or 152) with out channels per pyramid level (256 in the FPN
// paper and Sparse R-CNN).
func NewResNetFPN(rng *tensor.RNG, depth, out int) (*ResNetFPN, error) {
	body, err := NewResNet(rng, depth, 0)
	if err != nil {
		return nil, err
	}
	return &ResNetFPN{Body: body, FPN: NewFPN(rng, body.StageChannels(), out)}, nil
}

// Members implements nn.Module.
func (b *ResNetFPN) Members() nn.Members {
	return nn.Members{Children: []nn.Child{{Name: "body", Module: b.Body}, {Name: "fpn", Module: b.FPN}}}
}

// Features maps images (N, 3, H, W) to P2–P5, of strides 4, 8, 16 and 32.
// H and W divisible by 32 keep every level exactly half the previous one.
func (b *ResNetFPN) Features(x *autograd.Var) []*autograd.Var {
	cs := b.Body.Stages(x)
	return b.FPN.Forward(cs[:])
}
