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
	// Extra, when not nil, adds two coarser levels after the last one
	// (torchvision's extra_blocks).
	Extra *LastLevelP6P7
}

// LastLevelP6P7 is torchvision's extra block of RetinaNet (and ATSS's):
// P6 is a 3×3 stride-2 convolution of the FPN's last output (P5), and P7 a
// 3×3 stride-2 convolution of ReLU(P6).
type LastLevelP6P7 struct {
	P6, P7 *nn.Conv2d
}

// NewLastLevelP6P7 returns the extra block from in to out channels,
// initialised as torchvision does: Kaiming-uniform weights with a = 1, zero
// biases.
func NewLastLevelP6P7(rng *tensor.RNG, in, out int) *LastLevelP6P7 {
	conv := func(in int) *nn.Conv2d {
		w := tensor.Zeros(out, in, 3, 3)
		nn.KaimingUniform(rng, w, 1, nn.FanIn, "leaky_relu")
		return &nn.Conv2d{Weight: autograd.Param(w), Bias: autograd.Param(tensor.Zeros(out)),
			Options: autograd.Conv2dOptions{Stride: []int{2, 2}, Padding: []int{1, 1}}}
	}
	return &LastLevelP6P7{P6: conv(in), P7: conv(out)}
}

// Members implements nn.Module with torchvision's names p6 and p7.
func (e *LastLevelP6P7) Members() nn.Members {
	return nn.Members{Children: []nn.Child{{Name: "p6", Module: e.P6}, {Name: "p7", Module: e.P7}}}
}

// Forward maps P5 to P6 and P7.
func (e *LastLevelP6P7) Forward(p5 *autograd.Var) (p6, p7 *autograd.Var) {
	p6 = e.P6.Forward(p5)
	return p6, e.P7.Forward(autograd.ReLU(p6))
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
	m := nn.Members{Children: []nn.Child{
		{Name: "inner_blocks", Module: blocks(f.Lateral)},
		{Name: "layer_blocks", Module: blocks(f.Output)},
	}}
	if f.Extra != nil {
		m.Children = append(m.Children, nn.Child{Name: "extra_blocks", Module: f.Extra})
	}
	return m
}

// Forward maps the feature maps cs (finest first, one per lateral) to the
// pyramid, finest first; with Extra, two more levels follow.
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
	if f.Extra != nil {
		p6, p7 := f.Extra.Forward(out[n-1])
		out = append(out, p6, p7)
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
	// FromC3 marks RetinaNet's pyramid (see NewResNetFPNP3P7): the FPN
	// reads C3–C5 only.
	FromC3 bool
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

// NewResNetFPNP3P7 returns the pyramid of RetinaNet and ATSS over a ResNet
// of the given depth: an FPN over C3–C5 (inner_blocks.0 is C3's lateral)
// and the extra block LastLevelP6P7 on P5, as torchvision's
// retinanet_resnet50_fpn builds it, giving P3–P7 of out channels each.
func NewResNetFPNP3P7(rng *tensor.RNG, depth, out int) (*ResNetFPN, error) {
	body, err := NewResNet(rng, depth, 0)
	if err != nil {
		return nil, err
	}
	f := NewFPN(rng, body.StageChannels()[1:], out)
	f.Extra = NewLastLevelP6P7(rng, out, out)
	return &ResNetFPN{Body: body, FPN: f, FromC3: true}, nil
}

// Features maps images (N, 3, H, W) to P2–P5, of strides 4, 8, 16 and 32,
// or for NewResNetFPNP3P7's pyramid to P3–P7, of strides 8 to 128. H and W
// divisible by the last stride keep every level exactly half the previous
// one.
func (b *ResNetFPN) Features(x *autograd.Var) []*autograd.Var {
	cs := b.Body.Stages(x)
	if b.FromC3 {
		return b.FPN.Forward(cs[1:])
	}
	return b.FPN.Forward(cs[:])
}

// Strides returns the stride of each level Features gives.
func (b *ResNetFPN) Strides() []int {
	s := []int{4, 8, 16, 32}
	if b.FromC3 {
		s = s[1:]
	}
	if b.FPN.Extra != nil {
		s = append(s, 2*s[len(s)-1], 4*s[len(s)-1])
	}
	return s
}
