package nn

import (
	"fmt"

	"argus/autograd"
	"argus/tensor"
)

func params(pairs ...any) []Parameter {
	var out []Parameter
	for i := 0; i < len(pairs); i += 2 {
		if v := pairs[i+1].(*autograd.Var); v != nil {
			out = append(out, Parameter{Name: pairs[i].(string), Var: v})
		}
	}
	return out
}

// Linear is a fully connected layer y = x·Wᵀ + b with W of shape (Out, In).
type Linear struct {
	Weight, Bias *autograd.Var
}

// NewLinear returns a Linear layer with PyTorch's default initialisation.
func NewLinear(rng *tensor.RNG, in, out int, bias bool) *Linear {
	l := &Linear{Weight: autograd.Param(tensor.Zeros(out, in))}
	var b *tensor.Tensor
	if bias {
		b = tensor.Zeros(out)
		l.Bias = autograd.Param(b)
	}
	defaultInit(rng, l.Weight.Value(), b)
	return l
}

// Members implements Module.
func (l *Linear) Members() Members {
	return Members{Params: params("weight", l.Weight, "bias", l.Bias)}
}

// Forward applies the layer to x of shape (..., In).
func (l *Linear) Forward(x *autograd.Var) *autograd.Var { return autograd.Linear(x, l.Weight, l.Bias) }

// Conv2d is a 2-D convolution layer with weights of shape
// (Out, In/Groups, K, K).
type Conv2d struct {
	Weight, Bias *autograd.Var
	Options      autograd.Conv2dOptions
}

// NewConv2d returns a Conv2d layer with a square kernel and PyTorch's
// default initialisation.
func NewConv2d(rng *tensor.RNG, in, out, kernel int, opt autograd.Conv2dOptions, bias bool) *Conv2d {
	g := max(opt.Groups, 1)
	if in%g != 0 || out%g != 0 {
		panic(fmt.Sprintf("nn: Conv2d %d->%d channels in %d groups", in, out, g))
	}
	c := &Conv2d{Weight: autograd.Param(tensor.Zeros(out, in/g, kernel, kernel)), Options: opt}
	var b *tensor.Tensor
	if bias {
		b = tensor.Zeros(out)
		c.Bias = autograd.Param(b)
	}
	defaultInit(rng, c.Weight.Value(), b)
	return c
}

// Members implements Module.
func (c *Conv2d) Members() Members {
	return Members{Params: params("weight", c.Weight, "bias", c.Bias)}
}

// Forward convolves x (N, In, H, W).
func (c *Conv2d) Forward(x *autograd.Var) *autograd.Var {
	return autograd.Conv2d(x, c.Weight, c.Bias, c.Options)
}

// ConvTranspose2d is a transposed 2-D convolution with weights of shape
// (In, Out/Groups, K, K), PyTorch's layout.
type ConvTranspose2d struct {
	Weight, Bias *autograd.Var
	Options      autograd.ConvTranspose2dOptions
}

// NewConvTranspose2d returns a ConvTranspose2d layer with PyTorch's default
// initialisation.
func NewConvTranspose2d(rng *tensor.RNG, in, out, kernel int, opt autograd.ConvTranspose2dOptions, bias bool) *ConvTranspose2d {
	g := max(opt.Groups, 1)
	if in%g != 0 || out%g != 0 {
		panic(fmt.Sprintf("nn: ConvTranspose2d %d->%d channels in %d groups", in, out, g))
	}
	c := &ConvTranspose2d{Weight: autograd.Param(tensor.Zeros(in, out/g, kernel, kernel)), Options: opt}
	var b *tensor.Tensor
	if bias {
		b = tensor.Zeros(out)
		c.Bias = autograd.Param(b)
	}
	defaultInit(rng, c.Weight.Value(), b)
	return c
}

// Members implements Module.
func (c *ConvTranspose2d) Members() Members {
	return Members{Params: params("weight", c.Weight, "bias", c.Bias)}
}

// Forward applies the transposed convolution to x (N, In, H, W).
func (c *ConvTranspose2d) Forward(x *autograd.Var) *autograd.Var {
	return autograd.ConvTranspose2d(x, c.Weight, c.Bias, c.Options)
}

// ReLU is the rectifier as a layer.
type ReLU struct{}

// Members implements Module.
func (ReLU) Members() Members { return Members{} }

// Forward applies max(x, 0).
func (ReLU) Forward(x *autograd.Var) *autograd.Var { return autograd.ReLU(x) }

// Flatten flattens all dimensions after the first.
type Flatten struct{}

// Members implements Module.
func (Flatten) Members() Members { return Members{} }

// Forward reshapes x to (N, -1).
func (Flatten) Forward(x *autograd.Var) *autograd.Var { return autograd.Flatten(x, 1, -1) }

// MaxPool2d is max pooling as a layer.
type MaxPool2d struct{ Options autograd.MaxPool2dOptions }

// Members implements Module.
func (MaxPool2d) Members() Members { return Members{} }

// Forward pools x.
func (m MaxPool2d) Forward(x *autograd.Var) *autograd.Var { return autograd.MaxPool2d(x, m.Options) }

// GeM is generalised-mean pooling with a learnable exponent, as the re-ID
// strong baselines' GeneralizedMeanPooling: it maps N×C×H×W to N×C by
// autograd.GeM. Its one parameter, p, has one element.
type GeM struct {
	P   *autograd.Var
	Eps float32
}

// NewGeM returns a GeM layer with exponent p and eps 1e-6.
func NewGeM(p float32) *GeM {
	return &GeM{P: autograd.Param(tensor.Wrap([]float32{p}, 1)), Eps: 1e-6}
}

// Members implements Module.
func (g *GeM) Members() Members { return Members{Params: params("p", g.P)} }

// Forward pools x (N, C, H, W) to (N, C).
func (g *GeM) Forward(x *autograd.Var) *autograd.Var { return autograd.GeM(x, g.P, g.Eps) }

// PatchEmbed cuts an image into non-overlapping Patch×Patch squares and
// projects each to a vector, as timm's PatchEmbed: a convolution with
// kernel and stride Patch (its parameters proj.weight and proj.bias), whose
// N×Dim×GH×GW output is flattened to N×(GH·GW)×Dim, patches in row-major
// order.
type PatchEmbed struct {
	Proj  *Conv2d
	Patch int
}

// NewPatchEmbed returns a PatchEmbed of in channels to dim features, the
// projection initialised as PyTorch's default convolution.
func NewPatchEmbed(rng *tensor.RNG, in, dim, patch int) *PatchEmbed {
	opt := autograd.Conv2dOptions{Stride: []int{patch, patch}}
	return &PatchEmbed{Proj: NewConv2d(rng, in, dim, patch, opt, true), Patch: patch}
}

// Members implements Module.
func (p *PatchEmbed) Members() Members {
	return Members{Children: []Child{{Name: "proj", Module: p.Proj}}}
}

// Grid returns the patch grid of an h×w image: the rows and columns of
// whole patches (a remainder is cut off, as a strided convolution does).
func (p *PatchEmbed) Grid(h, w int) (gh, gw int) { return h / p.Patch, w / p.Patch }

// Forward embeds x (N, In, H, W) as (N, GH·GW, Dim).
func (p *PatchEmbed) Forward(x *autograd.Var) *autograd.Var {
	return autograd.Transpose(autograd.Flatten(p.Proj.Forward(x), 2, -1), 1, 2)
}
