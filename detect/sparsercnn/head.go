package sparsercnn

import (
	"fmt"
	"math"
	"strconv"

	"argus/autograd"
	"argus/box"
	"argus/nn"
	"argus/tensor"
)

// Config sizes a Sparse R-CNN head. DefaultConfig holds the official
// values (projects/SparseRCNN/sparsercnn/config.py).
type Config struct {
	// Classes is the number of object classes (no background class: the
	// classifier is a sigmoid per class).
	Classes int
	// Proposals is the number N of learnable proposals (100 or 300).
	Proposals int
	// Hidden is the width of the proposal features (256); Heads the
	// self-attention heads (8); DimDynamic the width between the two
	// dynamic convolutions (64); FeedForward the FFN's hidden width
	// (2048).
	Hidden, Heads, DimDynamic, FeedForward int
	// Stages is the number of iterative heads (6).
	Stages int
	// ClsLayers and RegLayers are the (Linear, LayerNorm, ReLU) blocks of
	// the classification (1) and regression (3) towers.
	ClsLayers, RegLayers int
	// Resolution is the RoI pooling grid side (7), SamplingRatio its
	// samples per bin and axis (2).
	Resolution, SamplingRatio int
	// PriorProb sets the classifier's initial bias to -log((1-p)/p)
	// (0.01).
	PriorProb float64
}

// DefaultConfig returns the official Sparse R-CNN head for the given
// classes and proposals.
func DefaultConfig(classes, proposals int) Config {
	return Config{
		Classes: classes, Proposals: proposals,
		Hidden: 256, Heads: 8, DimDynamic: 64, FeedForward: 2048,
		Stages: 6, ClsLayers: 1, RegLayers: 3,
		Resolution: 7, SamplingRatio: 2, PriorProb: 0.01,
	}
}

// Validate reports the first size that cannot build a head.
func (c Config) Validate() error {
	switch {
	case c.Classes < 1:
		return fmt.Errorf("sparse r-cnn: %d classes, want at least 1", c.Classes)
	case c.Proposals < 1:
		return fmt.Errorf("sparse r-cnn: %d proposals, want at least 1", c.Proposals)
	case c.Hidden < 1 || c.Heads < 1 || c.Hidden%c.Heads != 0:
		return fmt.Errorf("sparse r-cnn: hidden width %d does not split into %d heads", c.Hidden, c.Heads)
	case c.DimDynamic < 1 || c.FeedForward < 1:
		return fmt.Errorf("sparse r-cnn: dynamic width %d and feed-forward width %d must be positive", c.DimDynamic, c.FeedForward)
	case c.Stages < 1:
		return fmt.Errorf("sparse r-cnn: %d stages, want at least 1", c.Stages)
	case c.ClsLayers < 0 || c.RegLayers < 0:
		return fmt.Errorf("sparse r-cnn: negative tower depth")
	case c.Resolution < 1 || c.SamplingRatio < 0:
		return fmt.Errorf("sparse r-cnn: pooling resolution %d, sampling ratio %d", c.Resolution, c.SamplingRatio)
	case !(c.PriorProb > 0 && c.PriorProb < 1):
		return fmt.Errorf("sparse r-cnn: prior probability %v outside (0, 1)", c.PriorProb)
	}
	return nil
}

// Box regression constants of the official RCNNHead: the delta weights
// (2, 2, 1, 1) and the clamp of the log scale, log(100000/16).
var bboxWeights = [4]float32{2, 2, 1, 1}

// tower is a stack of (Linear without bias, LayerNorm, ReLU) blocks, held
// as the official nn.ModuleList: linear at index 3i, norm at 3i+1 (the
// ReLU at 3i+2 has no parameters).
type tower struct {
	Linears []*nn.Linear
	Norms   []*nn.LayerNorm
}

func newTower(rng *tensor.RNG, layers, d int) *tower {
	t := &tower{}
	for range layers {
		t.Linears = append(t.Linears, nn.NewLinear(rng, d, d, false))
		t.Norms = append(t.Norms, nn.NewLayerNorm(d))
	}
	return t
}

func (t *tower) Members() nn.Members {
	var ch []nn.Child
	for i := range t.Linears {
		ch = append(ch, nn.Child{Name: strconv.Itoa(3 * i), Module: t.Linears[i]},
			nn.Child{Name: strconv.Itoa(3*i + 1), Module: t.Norms[i]})
	}
	return nn.Members{Children: ch}
}

func (t *tower) forward(x *autograd.Var) *autograd.Var {
	for i := range t.Linears {
		x = autograd.ReLU(t.Norms[i].Forward(t.Linears[i].Forward(x)))
	}
	return x
}

// RCNNHead is one stage of the dynamic head, with the official names:
// self-attention over the proposal features (self_attn, norm1), the
// dynamic instance interaction with their RoI features (inst_interact,
// norm2), the feed-forward network (linear1, linear2, norm3), and the
// classification and regression towers (cls_module, reg_module) with
// their outputs (class_logits, bboxes_delta). Dropout is 0, as in the
// official configuration, and left out.
type RCNNHead struct {
	SelfAttn            *nn.MultiHeadAttention
	InstInteract        *DynamicConv
	Linear1, Linear2    *nn.Linear
	Norm1, Norm2, Norm3 *nn.LayerNorm
	Cls, Reg            *tower
	ClassLogits         *nn.Linear
	BboxesDelta         *nn.Linear
}

func newRCNNHead(rng *tensor.RNG, c Config) *RCNNHead {
	d := c.Hidden
	return &RCNNHead{
		SelfAttn:     nn.NewMultiHeadAttention(rng, d, c.Heads, 0),
		InstInteract: NewDynamicConv(rng, d, c.DimDynamic, c.Resolution),
		Linear1:      nn.NewLinear(rng, d, c.FeedForward, true),
		Linear2:      nn.NewLinear(rng, c.FeedForward, d, true),
		Norm1:        nn.NewLayerNorm(d),
		Norm2:        nn.NewLayerNorm(d),
		Norm3:        nn.NewLayerNorm(d),
		Cls:          newTower(rng, c.ClsLayers, d),
		Reg:          newTower(rng, c.RegLayers, d),
		ClassLogits:  nn.NewLinear(rng, d, c.Classes, true),
		BboxesDelta:  nn.NewLinear(rng, d, 4, true),
	}
}

// Members implements nn.Module with the official names.
func (h *RCNNHead) Members() nn.Members {
	return nn.Members{Children: []nn.Child{
		{Name: "self_attn", Module: h.SelfAttn},
		{Name: "inst_interact", Module: h.InstInteract},
		{Name: "linear1", Module: h.Linear1},
		{Name: "linear2", Module: h.Linear2},
		{Name: "norm1", Module: h.Norm1},
		{Name: "norm2", Module: h.Norm2},
		{Name: "norm3", Module: h.Norm3},
		{Name: "cls_module", Module: h.Cls},
		{Name: "reg_module", Module: h.Reg},
		{Name: "class_logits", Module: h.ClassLogits},
		{Name: "bboxes_delta", Module: h.BboxesDelta},
	}}
}

// forward runs the stage on b images of n proposals: the boxes (b·n×4,
// xyxy pixels), their proposal features (b×n×hidden) and the pyramid.
// It returns the class logits (b·n×classes), the refined boxes (b·n×4)
// and the new proposal features (b×n×hidden).
func (h *RCNNHead) forward(features []*autograd.Var, boxes, pro *autograd.Var, pooler autograd.PoolerOptions) (logits, pred, obj *autograd.Var) {
	ps := pro.Shape()
	b, n, d := ps[0], ps[1], ps[2]
	batch := make([]int, b*n)
	for i := range batch {
		batch[i] = i / n
	}
	roi := autograd.MultiLevelRoIAlign(features, boxes.Value(), batch, pooler)
	// Self-attention among each image's proposals (post-norm, no
	// positional encoding).
	pro = h.Norm1.Forward(autograd.Add(pro, h.SelfAttn.Forward(pro)))
	flat := autograd.Reshape(pro, b*n, d)
	flat = h.Norm2.Forward(autograd.Add(flat, h.InstInteract.Forward(flat, roi)))
	ffn := h.Linear2.Forward(autograd.ReLU(h.Linear1.Forward(flat)))
	flat = h.Norm3.Forward(autograd.Add(flat, ffn))
	logits = h.ClassLogits.Forward(h.Cls.forward(flat))
	deltas := h.BboxesDelta.Forward(h.Reg.forward(flat))
	return logits, ApplyDeltas(deltas, boxes), autograd.Reshape(flat, b, n, d)
}

// ApplyDeltas decodes deltas (K×4) against boxes (K×4, xyxy) as the
// official RCNNHead.apply_deltas: weights (2, 2, 1, 1), the log scales
// clamped above at log(100000/16). Gradients flow to both operands.
func ApplyDeltas(deltas, boxes *autograd.Var) *autograd.Var {
	col := func(x *autograd.Var, i int) *autograd.Var { return autograd.Slice(x, 1, i, i+1) }
	w := autograd.Sub(col(boxes, 2), col(boxes, 0))
	h := autograd.Sub(col(boxes, 3), col(boxes, 1))
	cx := autograd.Add(col(boxes, 0), autograd.Scale(w, 0.5))
	cy := autograd.Add(col(boxes, 1), autograd.Scale(h, 0.5))
	clamp := float32(box.SparseRCNNClamp)
	dx := autograd.Scale(col(deltas, 0), 1/bboxWeights[0])
	dy := autograd.Scale(col(deltas, 1), 1/bboxWeights[1])
	dw := autograd.Clamp(autograd.Scale(col(deltas, 2), 1/bboxWeights[2]), float32(math.Inf(-1)), clamp)
	dh := autograd.Clamp(autograd.Scale(col(deltas, 3), 1/bboxWeights[3]), float32(math.Inf(-1)), clamp)
	pcx := autograd.Add(autograd.Mul(dx, w), cx)
	pcy := autograd.Add(autograd.Mul(dy, h), cy)
	pw := autograd.Scale(autograd.Mul(autograd.Exp(dw), w), 0.5)
	ph := autograd.Scale(autograd.Mul(autograd.Exp(dh), h), 0.5)
	return autograd.Concat([]*autograd.Var{
		autograd.Sub(pcx, pw), autograd.Sub(pcy, ph), autograd.Add(pcx, pw), autograd.Add(pcy, ph),
	}, 1)
}

// Backbone gives the feature pyramid of a batch of images: P2–P5, of
// strides 4 to 32 and Hidden channels each (models.ResNetFPN).
type Backbone interface {
	nn.Module
	Features(x *autograd.Var) []*autograd.Var
}

// Detector is Sparse R-CNN: a backbone, N learnable proposal boxes
// (init_proposal_boxes, cx cy w h relative to the image, initialised to
// the whole image) and features (init_proposal_features, N(0, 1)), and
// the dynamic head of Stages RCNNHeads (head.head_series.i), each
// refining the previous stage's boxes, detached. Proposals, when not nil,
// replaces the static proposals by image-dependent ones (Dynamic Sparse
// R-CNN's DPG).
type Detector struct {
	Config    Config
	Backbone  Backbone
	Features  *nn.Embedding
	Boxes     *nn.Embedding
	Proposals ProposalGenerator
	Stages    []*RCNNHead
	// CanonicalSize, when positive, fixes the pooler's canonical box
	// side; zero scales it with the padded canvas (ScaledCanonical).
	CanonicalSize float32
}

// ProposalGenerator makes each image's initial proposals from its
// pyramid: boxes (B·N×4, cx cy w h relative to the image) and features
// (B×N×hidden).
type ProposalGenerator interface {
	nn.Module
	Generate(features []*autograd.Var) (boxes, feats *autograd.Var)
}

// New returns a Sparse R-CNN on backbone, initialised as the official
// code: Xavier-uniform on every matrix of the head, the classifier's
// bias at the focal prior -log((1-p)/p). The official code sets the prior
// on every head parameter whose last dimension equals the number of
// classes, which with four classes also hits the box-delta bias; here it
// is chosen by name (class_logits.bias).
func New(rng *tensor.RNG, c Config, backbone Backbone) (*Detector, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	d := &Detector{Config: c, Backbone: backbone,
		Features: nn.NewEmbedding(rng, c.Proposals, c.Hidden),
		Boxes:    &nn.Embedding{Weight: autograd.Param(tensor.Zeros(c.Proposals, 4))},
	}
	bw := d.Boxes.Weight.Value().Data()
	for i := range c.Proposals {
		copy(bw[4*i:], []float32{0.5, 0.5, 1, 1})
	}
	for range c.Stages {
		d.Stages = append(d.Stages, newRCNNHead(rng, c))
	}
	prior := float32(-math.Log((1 - c.PriorProb) / c.PriorProb))
	for _, h := range d.Stages {
		for _, p := range nn.Parameters(h) {
			if len(p.Var.Shape()) > 1 {
				nn.XavierUniform(rng, p.Var.Value(), 1)
			}
		}
		h.ClassLogits.Bias.Value().Fill(prior)
	}
	return d, nil
}

type headSeries []*RCNNHead

func (s headSeries) Members() nn.Members {
	ch := make([]nn.Child, len(s))
	for i, h := range s {
		ch[i] = nn.Child{Name: strconv.Itoa(i), Module: h}
	}
	return nn.Members{Children: ch}
}

type dynamicHead struct{ series headSeries }

func (h dynamicHead) Members() nn.Members {
	return nn.Members{Children: []nn.Child{{Name: "head_series", Module: h.series}}}
}

// Members implements nn.Module: backbone.*, init_proposal_features,
// init_proposal_boxes (or proposals.* under DPG) and head.head_series.*.
func (d *Detector) Members() nn.Members {
	ch := []nn.Child{{Name: "backbone", Module: d.Backbone}}
	if d.Proposals != nil {
		ch = append(ch, nn.Child{Name: "proposals", Module: d.Proposals})
	} else {
		ch = append(ch, nn.Child{Name: "init_proposal_features", Module: d.Features},
			nn.Child{Name: "init_proposal_boxes", Module: d.Boxes})
	}
	return nn.Members{Children: append(ch, nn.Child{Name: "head", Module: dynamicHead{d.Stages}})}
}

// Stage is one stage's predictions for a batch: class logits (B·N×C) and
// boxes (B·N×4, xyxy in the pixels of the padded batch), image-major.
type Stage struct {
	Logits, Boxes *autograd.Var
}

// Forward runs the detector on images x (B×3×H×W, padded at the right and
// bottom) whose unpadded sizes are sizes (height, width each), and returns
// every stage's predictions, the last one last.
func (d *Detector) Forward(x *autograd.Var, sizes [][2]int) []Stage {
	xs := x.Shape()
	b, n := xs[0], d.Config.Proposals
	if len(sizes) != b {
		panic(fmt.Sprintf("sparsercnn: %d image sizes for a batch of %d", len(sizes), b))
	}
	feats := d.Backbone.Features(x)
	var rel, pro *autograd.Var
	if d.Proposals != nil {
		rel, pro = d.Proposals.Generate(feats)
	} else {
		idx := make([]int, b*n)
		for i := range idx {
			idx[i] = i % n
		}
		rel = autograd.Embedding(d.Boxes.Weight, idx)
		pro = autograd.Embedding(d.Features.Weight, idx, b, n)
	}
	// cx cy w h relative → xyxy pixels of each image's own size.
	whwh := tensor.Zeros(b*n, 4)
	wd := whwh.Data()
	for i := range b * n {
		h, w := float32(sizes[i/n][0]), float32(sizes[i/n][1])
		copy(wd[4*i:], []float32{w, h, w, h})
	}
	col := func(i int) *autograd.Var { return autograd.Slice(rel, 1, i, i+1) }
	cx, cy, hw, hh := col(0), col(1), autograd.Scale(col(2), 0.5), autograd.Scale(col(3), 0.5)
	boxes := autograd.Mul(autograd.Concat([]*autograd.Var{
		autograd.Sub(cx, hw), autograd.Sub(cy, hh), autograd.Add(cx, hw), autograd.Add(cy, hh)}, 1),
		autograd.Const(whwh))
	canonical := d.CanonicalSize
	if canonical <= 0 {
		canonical = autograd.ScaledCanonical(xs[2], xs[3])
	}
	pooler := autograd.PoolerOptions{
		RoIAlignOptions: autograd.RoIAlignOptions{
			OutputSize:    [2]int{d.Config.Resolution, d.Config.Resolution},
			SamplingRatio: d.Config.SamplingRatio, Aligned: true,
		},
		MinLevel: 2, CanonicalLevel: 4, CanonicalSize: canonical, Eps: 1e-6,
	}
	out := make([]Stage, 0, len(d.Stages))
	for _, h := range d.Stages {
		logits, pred, obj := h.forward(feats, boxes, pro, pooler)
		out = append(out, Stage{Logits: logits, Boxes: pred})
		boxes = autograd.Const(pred.Value())
		pro = obj
	}
	return out
}
