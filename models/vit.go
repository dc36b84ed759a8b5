package models

import (
	"fmt"
	"math"
	"strconv"

	"argus/autograd"
	"argus/checkpoint"
	"argus/nn"
	"argus/tensor"
)

// ViTConfig is the shape of a Vision Transformer in timm's
// VisionTransformer form: class-token pooling, learned absolute position
// embeddings, pre-norm blocks with qkv bias, LayerNorm eps 1e-6, GELU MLPs,
// a final norm and a linear head on the class token.
type ViTConfig struct {
	// Channels is the number of input channels (3 when zero).
	Channels int
	// Patch is the side of the square patches.
	Patch int
	// Dim is the token width, Depth the number of blocks, Heads the
	// attention heads per block and MLP the MLP's hidden width (4·Dim when
	// zero).
	Dim, Depth, Heads, MLP int
	// Classes is the number of outputs of the head.
	Classes int
	// GridH and GridW are the patch rows and columns of the input images,
	// and so the size of the position embedding: 14×14 for 224×224 images
	// of 16-pixel patches, 16×8 for 256×128 re-ID crops.
	GridH, GridW int
	// DropPath is the stochastic-depth rate of the last block; block i of
	// D drops with rate DropPath·i/(D−1), timm's linspace rule.
	DropPath float32
}

// The ViTs of the registry, timm's deit_tiny_patch16_224,
// deit_small_patch16_224 and vit_base_patch16_224 (224×224 images, 1000
// classes).
var vitPresets = map[string]ViTConfig{
	"deit-tiny":  {Patch: 16, Dim: 192, Depth: 12, Heads: 3, Classes: 1000, GridH: 14, GridW: 14},
	"deit-small": {Patch: 16, Dim: 384, Depth: 12, Heads: 6, Classes: 1000, GridH: 14, GridW: 14},
	"vit-base":   {Patch: 16, Dim: 768, Depth: 12, Heads: 12, Classes: 1000, GridH: 14, GridW: 14},
}

// ViTPreset returns the configuration of a registered ViT by name
// (deit-tiny, deit-small, vit-base).
func ViTPreset(name string) (ViTConfig, bool) {
	c, ok := vitPresets[name]
	return c, ok
}

// ViT is timm's VisionTransformer. Its state dict has timm's names
// (cls_token, pos_embed, patch_embed.proj.*, blocks.i.norm1.*,
// blocks.i.attn.qkv.*, blocks.i.attn.proj.*, blocks.i.norm2.*,
// blocks.i.mlp.fc1.*, blocks.i.mlp.fc2.*, norm.*, head.*), so timm's
// weights converted to safetensors load as they are (LoadWeights resamples
// their position embedding to the model's grid).
type ViT struct {
	Config     ViTConfig
	PatchEmbed *nn.PatchEmbed
	// ClsToken is (1, 1, Dim) and PosEmbed (1, 1+GridH·GridW, Dim), the
	// class token's row first.
	ClsToken, PosEmbed *autograd.Var
	Blocks             []*ViTBlock
	Norm               *nn.LayerNorm
	// Head maps the class token to logits; nil in a backbone (a re-ID
	// network's), whose state dict then has no head.*.
	Head *nn.Linear
}

// ViTBlock is a pre-norm transformer block, timm's Block:
// x + DropPath(Attn(Norm1(x))), then x + DropPath(MLP(Norm2(x))).
type ViTBlock struct {
	Norm1, Norm2 *nn.LayerNorm
	Attn         *ViTAttention
	FC1, FC2     *nn.Linear // mlp.fc1 and mlp.fc2
	DropPath     *nn.DropPath
}

// ViTAttention is timm's Attention: one qkv projection to queries, keys
// and values of Heads heads, the fused autograd.Attention with scale
// 1/√(Dim/Heads), and the output projection proj.
type ViTAttention struct {
	QKV, Proj *nn.Linear
	Heads     int
}

// NewViT returns a ViT of configuration c initialised as timm does:
// trunc-normal (std 0.02) linear weights with zero biases, position
// embedding trunc-normal std 0.02, class token normal std 1e-6, LayerNorm
// 1 and 0, the patch convolution with PyTorch's default. Drop path draws
// from rng.
func NewViT(rng *tensor.RNG, c ViTConfig) (*ViT, error) {
	if c.Channels == 0 {
		c.Channels = 3
	}
	if c.MLP == 0 {
		c.MLP = 4 * c.Dim
	}
	switch {
	case c.Patch < 1 || c.Dim < 1 || c.Depth < 1 || c.Classes < 1 || c.GridH < 1 || c.GridW < 1:
		return nil, fmt.Errorf("vit: patch %d, width %d, depth %d, %d classes, grid %d×%d: all must be positive",
			c.Patch, c.Dim, c.Depth, c.Classes, c.GridH, c.GridW)
	case c.Heads < 1 || c.Dim%c.Heads != 0:
		return nil, fmt.Errorf("vit: width %d does not split into %d heads", c.Dim, c.Heads)
	case c.DropPath < 0 || c.DropPath >= 1:
		return nil, fmt.Errorf("vit: drop-path rate %v outside [0, 1)", c.DropPath)
	}
	linear := func(in, out int) *nn.Linear {
		l := nn.NewLinear(rng, in, out, true)
		nn.TruncNormal(rng, l.Weight.Value(), 0, 0.02, -2, 2)
		l.Bias.Value().Fill(0)
		return l
	}
	layerNorm := func() *nn.LayerNorm {
		n := nn.NewLayerNorm(c.Dim)
		n.Eps = 1e-6
		return n
	}
	v := &ViT{Config: c, PatchEmbed: nn.NewPatchEmbed(rng, c.Channels, c.Dim, c.Patch)}
	cls := tensor.Zeros(1, 1, c.Dim)
	pos := tensor.Zeros(1, 1+c.GridH*c.GridW, c.Dim)
	nn.TruncNormal(rng, pos, 0, 0.02, -2, 2)
	nn.Normal(rng, cls, 0, 1e-6)
	v.ClsToken, v.PosEmbed = autograd.Param(cls), autograd.Param(pos)
	for i := 0; i < c.Depth; i++ {
		rate := float32(0)
		if c.Depth > 1 {
			rate = c.DropPath * float32(i) / float32(c.Depth-1)
		}
		v.Blocks = append(v.Blocks, &ViTBlock{
			Norm1:    layerNorm(),
			Attn:     &ViTAttention{QKV: linear(c.Dim, 3*c.Dim), Proj: linear(c.Dim, c.Dim), Heads: c.Heads},
			Norm2:    layerNorm(),
			FC1:      linear(c.Dim, c.MLP),
			FC2:      linear(c.MLP, c.Dim),
			DropPath: nn.NewDropPath(rate, rng),
		})
	}
	v.Norm = layerNorm()
	v.Head = linear(c.Dim, c.Classes)
	return v, nil
}

// Members implements nn.Module, in timm's state-dict order.
func (v *ViT) Members() nn.Members {
	m := nn.Members{
		Params:   []nn.Parameter{{Name: "cls_token", Var: v.ClsToken}, {Name: "pos_embed", Var: v.PosEmbed}},
		Children: []nn.Child{{Name: "patch_embed", Module: v.PatchEmbed}, {Name: "blocks", Module: vitBlocks(v.Blocks)}},
	}
	m.Children = append(m.Children, nn.Child{Name: "norm", Module: v.Norm})
	if v.Head != nil {
		m.Children = append(m.Children, nn.Child{Name: "head", Module: v.Head})
	}
	return m
}

// vitBlocks names the blocks 0, 1, ... as torch.nn.Sequential does.
type vitBlocks []*ViTBlock

func (b vitBlocks) Members() nn.Members {
	var m nn.Members
	for i, blk := range b {
		m.Children = append(m.Children, nn.Child{Name: strconv.Itoa(i), Module: blk})
	}
	return m
}

// Members implements nn.Module.
func (b *ViTBlock) Members() nn.Members {
	return nn.Members{Children: []nn.Child{
		{Name: "norm1", Module: b.Norm1}, {Name: "attn", Module: b.Attn}, {Name: "norm2", Module: b.Norm2},
		{Name: "mlp", Module: vitMLP{b.FC1, b.FC2}}, {Name: "drop_path", Module: b.DropPath},
	}}
}

// vitMLP names the MLP's layers as timm's Mlp does.
type vitMLP struct{ fc1, fc2 *nn.Linear }

func (m vitMLP) Members() nn.Members {
	return nn.Members{Children: []nn.Child{{Name: "fc1", Module: m.fc1}, {Name: "fc2", Module: m.fc2}}}
}

// Members implements nn.Module.
func (a *ViTAttention) Members() nn.Members {
	return nn.Members{Children: []nn.Child{{Name: "qkv", Module: a.QKV}, {Name: "proj", Module: a.Proj}}}
}

// KV holds a block's keys and values from its self-attention pass, each
// (N, Heads, L, Dim/Heads), for pair-wise cross-attention.
type KV struct{ K, V *autograd.Var }

// Select returns the keys and values of the images index of the batch
// (torch.index_select on the batch axis).
func (kv KV) Select(index []int) KV {
	return KV{autograd.IndexSelect(kv.K, 0, index), autograd.IndexSelect(kv.V, 0, index)}
}

// Forward attends over the tokens x (N, L, Dim) and returns the result and
// the attention probabilities (N, Heads, L, L).
func (a *ViTAttention) Forward(x *autograd.Var) (*autograd.Var, *tensor.Tensor) {
	o, p, _ := a.ForwardKV(x)
	return o, p
}

// ForwardKV is Forward that also returns the keys and values.
func (a *ViTAttention) ForwardKV(x *autograd.Var) (*autograd.Var, *tensor.Tensor, KV) {
	s := x.Shape()
	n, l, dim := s[0], s[1], s[2]
	d := dim / a.Heads
	// The batch stays on axis 0 throughout (timm permutes it inward), so
	// that a trace keeps it open.
	qkv := autograd.Reshape(a.QKV.Forward(x), n, l, 3, a.Heads, d)
	part := func(i int) *autograd.Var { // (N, H, L, D)
		return autograd.Transpose(autograd.Reshape(autograd.Slice(qkv, 2, i, i+1), n, l, a.Heads, d), 1, 2)
	}
	q, k, v := part(0), part(1), part(2)
	o, p := autograd.Attention(q, k, v, float32(1/math.Sqrt(float64(d))))
	o = autograd.Reshape(autograd.Transpose(o, 1, 2), n, l, dim)
	return a.Proj.Forward(o), p, KV{k, v}
}

// ForwardPair is DCAL's pair-wise cross-attention (PWCA) with this
// layer's weights: the queries of x (N, L, Dim) attend over the keys and
// values of x and the partner's (each (N, Heads, L2, Dim/Heads))
// concatenated along the tokens, softmax(Q₁·[K₁; K₂]ᵀ/√d)·[V₁; V₂], one
// softmax over L+L2 tokens. It returns the projected result (N, L, Dim).
func (a *ViTAttention) ForwardPair(x *autograd.Var, partner KV) *autograd.Var {
	s, sp := x.Shape(), partner.K.Shape()
	n, l, dim := s[0], s[1], s[2]
	d := dim / a.Heads
	if len(sp) != 4 || sp[0] != n || sp[1] != a.Heads || sp[3] != d || !tensor.EqualShapes(sp, partner.V.Shape()) {
		panic(fmt.Sprintf("models: pair attention of %v with partner keys %v and values %v", s, sp, partner.V.Shape()))
	}
	qkv := autograd.Reshape(a.QKV.Forward(x), n, l, 3, a.Heads, d)
	part := func(i int) *autograd.Var { // (N, H, L, D)
		return autograd.Transpose(autograd.Reshape(autograd.Slice(qkv, 2, i, i+1), n, l, a.Heads, d), 1, 2)
	}
	q := part(0)
	k := autograd.Concat([]*autograd.Var{part(1), partner.K}, 2)
	v := autograd.Concat([]*autograd.Var{part(2), partner.V}, 2)
	o, _ := autograd.Attention(q, k, v, float32(1/math.Sqrt(float64(d))))
	o = autograd.Reshape(autograd.Transpose(o, 1, 2), n, l, dim)
	return a.Proj.Forward(o)
}

// ForwardPair runs the block as PWCA does (see ViTAttention.ForwardPair):
// the attention of x's queries over x's and the partner's keys and values,
// then the block's residuals and MLP on x's tokens. partner holds the
// partner images' keys and values of this block's self-attention pass
// (ForwardKV): the keys and values of their input to this block.
func (b *ViTBlock) ForwardPair(x *autograd.Var, partner KV) *autograd.Var {
	a := b.Attn.ForwardPair(b.Norm1.Forward(x), partner)
	x = autograd.Add(x, b.DropPath.Forward(a))
	h := b.FC2.Forward(autograd.GELU(b.FC1.Forward(b.Norm2.Forward(x))))
	return autograd.Add(x, b.DropPath.Forward(h))
}

// Forward runs the block on x (N, L, Dim) and returns its output and the
// attention probabilities (N, Heads, L, L).
func (b *ViTBlock) Forward(x *autograd.Var) (*autograd.Var, *tensor.Tensor) {
	out, p, _ := b.ForwardKV(x)
	return out, p
}

// ForwardKV is Forward that also returns the attention's keys and values,
// for PWCA's partners.
func (b *ViTBlock) ForwardKV(x *autograd.Var) (*autograd.Var, *tensor.Tensor, KV) {
	a, p, kv := b.Attn.ForwardKV(b.Norm1.Forward(x))
	x = autograd.Add(x, b.DropPath.Forward(a))
	h := b.FC2.Forward(autograd.GELU(b.FC1.Forward(b.Norm2.Forward(x))))
	return autograd.Add(x, b.DropPath.Forward(h)), p, kv
}

// Embed maps images (N, C, H, W) to the tokens (N, 1+GridH·GridW, Dim)
// that enter the first block: the class token, then the patches in
// row-major order, plus the position embedding. The images' patch grid must
// be the model's.
func (v *ViT) Embed(x *autograd.Var) *autograd.Var {
	s := x.Shape()
	if len(s) != 4 || s[1] != v.Config.Channels {
		panic(fmt.Sprintf("models: ViT of %d channels given input %v", v.Config.Channels, s))
	}
	if gh, gw := v.PatchEmbed.Grid(s[2], s[3]); gh != v.Config.GridH || gw != v.Config.GridW {
		panic(fmt.Sprintf("models: ViT with a %d×%d patch grid given %d×%d images (grid %d×%d); build it for that grid or resample its position embedding",
			v.Config.GridH, v.Config.GridW, s[2], s[3], gh, gw))
	}
	p := v.PatchEmbed.Forward(x)
	// The class token is broadcast over the batch by adding it to zeros
	// drawn from the first patch token, so that a trace sees a row that
	// follows the input's batch rather than a constant of the traced size.
	cls := autograd.Add(autograd.Scale(autograd.Slice(p, 1, 0, 1), 0), v.ClsToken)
	return autograd.Add(autograd.Concat([]*autograd.Var{cls, p}, 1), v.PosEmbed)
}

// Features runs images (N, C, H, W) through the blocks and the final norm.
// It returns the normalised tokens (N, 1+GridH·GridW, Dim) and each block's
// attention probabilities (N, Heads, L, L), first block first, for
// attention rollout.
func (v *ViT) Features(x *autograd.Var) (*autograd.Var, []*tensor.Tensor) {
	h := v.Embed(x)
	attn := make([]*tensor.Tensor, len(v.Blocks))
	for i, b := range v.Blocks {
		h, attn[i] = b.Forward(h)
	}
	return v.Norm.Forward(h), attn
}

// PreLogits returns the class token of normalised tokens (N, L, Dim) as
// (N, Dim), the head's input.
func PreLogits(tokens *autograd.Var) *autograd.Var {
	s := tokens.Shape()
	return autograd.Reshape(autograd.Slice(tokens, 1, 0, 1), s[0], s[2])
}

// Forward maps images (N, C, H, W) to logits (N, Classes). It panics on a
// ViT without a head.
func (v *ViT) Forward(x *autograd.Var) *autograd.Var {
	if v.Head == nil {
		panic("models: Forward of a ViT without a head; use Features and PreLogits")
	}
	tokens, _ := v.Features(x)
	return v.Head.Forward(PreLogits(tokens))
}

// LoadWeights copies the state dict f into m as checkpoint.LoadModel does,
// first resampling a ViT's position embedding when its number of positions
// differs from the model's (timm's resample_abs_pos_embed: f's grid is
// taken as square, the class token's row is kept). f is not modified.
func LoadWeights(f *checkpoint.File, m nn.Module) error {
	v, ok := m.(*ViT)
	if !ok {
		return checkpoint.LoadModel(f, m)
	}
	e, ok := f.Tensors["pos_embed"]
	want := v.PosEmbed.Shape()
	if !ok || len(e.Shape) != 3 || e.Shape[0] != 1 || e.Shape[2] != want[2] || e.Shape[1] == want[1] {
		return checkpoint.LoadModel(f, m) // as it is, or reporting what does not fit
	}
	side := int(math.Sqrt(float64(e.Shape[1] - 1)))
	if side*side != e.Shape[1]-1 {
		return fmt.Errorf("pos_embed %v: %d patch positions are not a square grid", e.Shape, e.Shape[1]-1)
	}
	pe, err := e.Float32()
	if err != nil {
		return fmt.Errorf("pos_embed: %w", err)
	}
	pe = ResamplePosEmbed(pe, side, side, v.Config.GridH, v.Config.GridW)
	g := &checkpoint.File{Names: f.Names, Tensors: make(map[string]checkpoint.Entry, len(f.Tensors)), Metadata: f.Metadata}
	for k, t := range f.Tensors {
		g.Tensors[k] = t
	}
	g.Tensors["pos_embed"] = checkpoint.Float32Entry(pe)
	return checkpoint.LoadModel(g, m)
}

// ResamplePosEmbed returns the position embedding pe (1, 1+oh·ow, Dim),
// whose first row is the class token's, resampled to an nh×nw grid as
// timm's resample_abs_pos_embed does: the class row is kept and the grid is
// resized by PyTorch's antialiased bicubic interpolation
// (F.interpolate(mode="bicubic", antialias=True, align_corners=False)),
// which accepts non-square grids. The same grid returns a copy.
func ResamplePosEmbed(pe *tensor.Tensor, oh, ow, nh, nw int) *tensor.Tensor {
	s := pe.Shape()
	if len(s) != 3 || s[0] != 1 || s[1] != 1+oh*ow || oh < 1 || ow < 1 || nh < 1 || nw < 1 {
		panic(fmt.Sprintf("models: position embedding %v for a %d×%d grid resampled to %d×%d", s, oh, ow, nh, nw))
	}
	dim := s[2]
	src := pe.Data()
	out := tensor.Zeros(1, 1+nh*nw, dim)
	dst := out.Data()
	copy(dst[:dim], src[:dim])
	// Width first, then height, as PyTorch's separable kernel runs.
	tmp := make([]float32, oh*nw*dim)
	cols := bicubicAATaps(ow, nw)
	for y := 0; y < oh; y++ {
		for x, t := range cols {
			o := tmp[(y*nw+x)*dim : (y*nw+x+1)*dim]
			for j, w := range t.w {
				in := src[dim+(y*ow+t.lo+j)*dim:][:dim]
				for c := range o {
					o[c] += w * in[c]
				}
			}
		}
	}
	for y, t := range bicubicAATaps(oh, nh) {
		for x := 0; x < nw; x++ {
			o := dst[dim+(y*nw+x)*dim:][:dim]
			for j, w := range t.w {
				in := tmp[((t.lo+j)*nw+x)*dim:][:dim]
				for c := range o {
					o[c] += w * in[c]
				}
			}
		}
	}
	return out
}

// aaTaps are the input positions lo, lo+1, ... and weights of one output
// position of an antialiased resize.
type aaTaps struct {
	lo int
	w  []float32
}

// bicubicAATaps returns PyTorch's antialiased bicubic taps for resizing in
// positions to out (align_corners false): the cubic of a = −0.5 stretched by
// the scale when shrinking, cut at the borders and renormalised, as
// _compute_weights_aa in aten/src/ATen/native/cpu/UpSampleKernel.cpp.
func bicubicAATaps(in, out int) []aaTaps {
	scale := float64(in) / float64(out)
	support, inv := 2.0, 1.0
	if scale >= 1 {
		support, inv = 2*scale, 1/scale
	}
	cubic := func(x float64) float64 {
		const a = -0.5
		x = math.Abs(x)
		switch {
		case x < 1:
			return ((a+2)*x-(a+3))*x*x + 1
		case x < 2:
			return (((x-5)*x+8)*x - 4) * a
		}
		return 0
	}
	taps := make([]aaTaps, out)
	for i := range taps {
		center := scale * (float64(i) + 0.5)
		lo := max(int(center-support+0.5), 0)
		hi := min(int(center+support+0.5), in)
		w := make([]float64, hi-lo)
		var total float64
		for j := range w {
			w[j] = cubic((float64(j+lo) - center + 0.5) * inv)
			total += w[j]
		}
		t := aaTaps{lo: lo, w: make([]float32, len(w))}
		for j, v := range w {
			if total != 0 {
				v /= total
			}
			t.w[j] = float32(v)
		}
		taps[i] = t
	}
	return taps
}

// ViTConfigFromState reads a ViT's shape from the tensor shapes of a timm
// state dict: the patch size and width from patch_embed.proj.weight, the
// depth from the blocks present, the MLP width from blocks.0.mlp.fc1.weight,
// the classes from head.weight and the grid from pos_embed (taken as square,
// as timm does). Heads cannot be read from shapes: heads zero means
// width/64, timm's head width for DeiT and ViT. Build the model for another
// grid by setting GridH and GridW; LoadWeights then resamples.
func ViTConfigFromState(f *checkpoint.File, heads int) (ViTConfig, error) {
	shape := func(name string, dims int) ([]int, error) {
		e, ok := f.Tensors[name]
		if !ok {
			return nil, fmt.Errorf("not a timm ViT state dict: no %s", name)
		}
		if len(e.Shape) != dims {
			return nil, fmt.Errorf("%s has shape %v, want %d dimensions", name, e.Shape, dims)
		}
		return e.Shape, nil
	}
	pw, err := shape("patch_embed.proj.weight", 4)
	if err != nil {
		return ViTConfig{}, err
	}
	if pw[2] != pw[3] {
		return ViTConfig{}, fmt.Errorf("patch_embed.proj.weight %v: patches are not square", pw)
	}
	c := ViTConfig{Channels: pw[1], Patch: pw[2], Dim: pw[0], Heads: heads}
	if c.Heads == 0 {
		c.Heads = max(c.Dim/64, 1)
	}
	for {
		if _, ok := f.Tensors[fmt.Sprintf("blocks.%d.norm1.weight", c.Depth)]; !ok {
			break
		}
		c.Depth++
	}
	if c.Depth == 0 {
		return ViTConfig{}, fmt.Errorf("not a timm ViT state dict: no blocks.0.norm1.weight")
	}
	fc1, err := shape("blocks.0.mlp.fc1.weight", 2)
	if err != nil {
		return ViTConfig{}, err
	}
	head, err := shape("head.weight", 2)
	if err != nil {
		return ViTConfig{}, err
	}
	pos, err := shape("pos_embed", 3)
	if err != nil {
		return ViTConfig{}, err
	}
	side := int(math.Sqrt(float64(pos[1] - 1)))
	if side*side != pos[1]-1 || side < 1 {
		return ViTConfig{}, fmt.Errorf("pos_embed %v: %d patch positions are not a square grid", pos, pos[1]-1)
	}
	c.MLP, c.Classes, c.GridH, c.GridW = fc1[0], head[0], side, side
	if c.Dim%c.Heads != 0 {
		return ViTConfig{}, fmt.Errorf("width %d does not split into %d heads", c.Dim, c.Heads)
	}
	return c, nil
}
