package models

import (
	"fmt"
	"strconv"

	"argus/autograd"
	"argus/nn"
	"argus/tensor"
)

// DatasetBN is the normalisation of a Dataset-Aware Block (CDCL, arXiv
// 2103.11351): one BatchNorm2d per dataset, each with its own scale, shift
// and running statistics, behind a convolution that the datasets share.
// Active picks the dataset whose batch norm a forward pass uses.
//
// With one dataset it is a plain batch norm and its state dict is that
// batch norm's (weight, bias, running_mean, ...), mmsegmentation's names;
// with several, the batch norms are its children "0", "1", ....
type DatasetBN struct {
	BNs    []*nn.BatchNorm2d
	Active int
}

// NewDatasetBN returns a DatasetBN of c channels for the given number of
// datasets (at least 1), every batch norm fresh.
func NewDatasetBN(c, datasets int) *DatasetBN {
	d := &DatasetBN{BNs: make([]*nn.BatchNorm2d, max(datasets, 1))}
	for i := range d.BNs {
		d.BNs[i] = nn.NewBatchNorm2d(c)
	}
	return d
}

// Members implements nn.Module.
func (d *DatasetBN) Members() nn.Members {
	if len(d.BNs) == 1 {
		return d.BNs[0].Members()
	}
	var m nn.Members
	for i, b := range d.BNs {
		m.Children = append(m.Children, nn.Child{Name: strconv.Itoa(i), Module: b})
	}
	return m
}

// SetTraining switches every dataset's batch norm.
func (d *DatasetBN) SetTraining(on bool) {
	for _, b := range d.BNs {
		b.SetTraining(on)
	}
}

// Forward normalises x with the active dataset's batch norm.
func (d *DatasetBN) Forward(x *autograd.Var) *autograd.Var { return d.BNs[d.Active].Forward(x) }

// ConvModule is mmcv's ConvModule as mmsegmentation's heads use it: a
// bias-free convolution "conv", a batch norm "bn" (one per dataset: a
// Dataset-Aware Block) and a ReLU.
type ConvModule struct {
	Conv *nn.Conv2d
	BN   *DatasetBN
}

// Members implements nn.Module.
func (c *ConvModule) Members() nn.Members {
	return nn.Members{Children: []nn.Child{{Name: "conv", Module: c.Conv}, {Name: "bn", Module: c.BN}}}
}

// Forward applies convolution, normalisation and ReLU.
func (c *ConvModule) Forward(x *autograd.Var) *autograd.Var {
	return autograd.ReLU(c.BN.Forward(c.Conv.Forward(x)))
}

// SegBlock is a residual block of mmsegmentation's ResNet (basic or
// bottleneck, stride on the 3×3 convolution) whose batch norms are
// DatasetBNs. mmsegmentation's basic block dilates its first 3×3
// convolution only; the bottleneck dilates its 3×3.
type SegBlock struct {
	Conv1, Conv2, Conv3 *nn.Conv2d
	BN1, BN2, BN3       *DatasetBN
	// Downsample is the 1×1 projection "0" and its batch norm "1".
	DownConv *nn.Conv2d
	DownBN   *DatasetBN
}

// Members implements nn.Module.
func (b *SegBlock) Members() nn.Members {
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
	if b.DownConv != nil {
		add("downsample", seqModule{{Name: "0", Module: b.DownConv}, {Name: "1", Module: b.DownBN}})
	}
	return m
}

// seqModule names children as a torch Sequential does, for state dicts.
type seqModule []nn.Child

func (s seqModule) Members() nn.Members { return nn.Members{Children: s} }

// Forward applies the block.
func (b *SegBlock) Forward(x *autograd.Var) *autograd.Var {
	out := autograd.ReLU(b.BN1.Forward(b.Conv1.Forward(x)))
	out = b.BN2.Forward(b.Conv2.Forward(out))
	if b.Conv3 != nil {
		out = b.BN3.Forward(b.Conv3.Forward(autograd.ReLU(out)))
	}
	id := x
	if b.DownConv != nil {
		id = b.DownBN.Forward(b.DownConv.Forward(x))
	}
	return autograd.ReLU(autograd.Add(out, id))
}

// ResNetV1c is mmsegmentation's ResNetV1c, the dilated backbone of its
// "-d8" models: a deep stem of three 3×3 convolutions (3→S/2 at stride 2,
// S/2→S/2, S/2→S, each with batch norm and ReLU, S the stem width) and a
// 3×3 max pooling, then four stages of strides 1, 2, 1, 1 and dilations 1,
// 1, 2, 4, the first block of a dilated stage at half its dilation
// (contract_dilation), so the output has stride 8. Its batch norms are
// DatasetBNs. Parameter names are mmsegmentation's (stem.0, stem.1, ...,
// layer1.0.conv1, ...).
type ResNetV1c struct {
	Stem   [3]*ConvModule
	Layers [4][]*SegBlock
}

// Members implements nn.Module: the stem as a Sequential of conv, BN and
// ReLU triples (stem.0 conv, stem.1 BN, stem.3 conv, ...), then the stages.
func (r *ResNetV1c) Members() nn.Members {
	var stem seqModule
	for i, c := range r.Stem {
		stem = append(stem, nn.Child{Name: strconv.Itoa(3 * i), Module: c.Conv}, nn.Child{Name: strconv.Itoa(3*i + 1), Module: c.BN})
	}
	m := nn.Members{Children: []nn.Child{{Name: "stem", Module: stem}}}
	for i, l := range r.Layers {
		var seq seqModule
		for j, b := range l {
			seq = append(seq, nn.Child{Name: strconv.Itoa(j), Module: b})
		}
		m.Children = append(m.Children, nn.Child{Name: "layer" + strconv.Itoa(i+1), Module: seq})
	}
	return m
}

// Stages maps images (N, 3, H, W) to the four stages' outputs, of strides
// 4, 8, 8 and 8.
func (r *ResNetV1c) Stages(x *autograd.Var) [4]*autograd.Var {
	for _, c := range r.Stem {
		x = c.Forward(x)
	}
	x = autograd.MaxPool2d(x, autograd.MaxPool2dOptions{Kernel: [2]int{3, 3}, Stride: [2]int{2, 2}, Padding: [2]int{1, 1}})
	var out [4]*autograd.Var
	for i, l := range r.Layers {
		for _, b := range l {
			x = b.Forward(x)
		}
		out[i] = x
	}
	return out
}

// SegHead is the 1×1 classifier of a decode head, one per label set:
// conv_seg with bias. With one label set its state dict is conv_seg's,
// with several conv_seg.0, conv_seg.1, ....
type SegHead struct {
	Convs []*nn.Conv2d
}

// Members implements nn.Module.
func (h *SegHead) Members() nn.Members {
	if len(h.Convs) == 1 {
		return h.Convs[0].Members()
	}
	var m nn.Members
	for i, c := range h.Convs {
		m.Children = append(m.Children, nn.Child{Name: strconv.Itoa(i), Module: c})
	}
	return m
}

// PSPHead is mmsegmentation's PSPHead: the pyramid pooling module
// (psp_modules: adaptive average pooling to each bin, a 1×1 ConvModule,
// bilinear upsampling with align_corners false), the input concatenated
// with the pyramid, a 3×3 ConvModule "bottleneck", Dropout2d and the
// classifier conv_seg.
type PSPHead struct {
	Bins       []int
	PSP        []*ConvModule
	Bottleneck *ConvModule
	Dropout    *nn.Dropout2d
	Seg        *SegHead
}

// Members implements nn.Module.
func (h *PSPHead) Members() nn.Members {
	var psp seqModule
	for i, c := range h.PSP {
		// Each pyramid branch is Sequential(AdaptiveAvgPool2d, ConvModule).
		psp = append(psp, nn.Child{Name: strconv.Itoa(i), Module: seqModule{{Name: "1", Module: c}}})
	}
	return nn.Members{Children: []nn.Child{
		{Name: "conv_seg", Module: h.Seg}, {Name: "dropout", Module: h.Dropout},
		{Name: "psp_modules", Module: psp}, {Name: "bottleneck", Module: h.Bottleneck},
	}}
}

// features returns the bottleneck's output before dropout and classifier.
func (h *PSPHead) features(x *autograd.Var) *autograd.Var {
	sh := x.Shape()
	outs := []*autograd.Var{x}
	for i, b := range h.Bins {
		p := h.PSP[i].Forward(autograd.AdaptiveAvgPool2d(x, b, b))
		outs = append(outs, autograd.ResizeBilinear(p, sh[2], sh[3], false))
	}
	return h.Bottleneck.Forward(autograd.Concat(outs, 1))
}

// FCNHead is mmsegmentation's FCNHead as the auxiliary head of PSPNet: one
// 3×3 ConvModule (convs.0), Dropout2d and the classifier conv_seg.
type FCNHead struct {
	Convs   []*ConvModule
	Dropout *nn.Dropout2d
	Seg     *SegHead
}

// Members implements nn.Module.
func (h *FCNHead) Members() nn.Members {
	var convs seqModule
	for i, c := range h.Convs {
		convs = append(convs, nn.Child{Name: strconv.Itoa(i), Module: c})
	}
	return nn.Members{Children: []nn.Child{
		{Name: "conv_seg", Module: h.Seg}, {Name: "dropout", Module: h.Dropout}, {Name: "convs", Module: convs},
	}}
}

// PSPNetConfig sets up a PSPNet.
type PSPNetConfig struct {
	// Depth is the ResNet's: 18 or 50 (basic blocks or bottlenecks).
	Depth int
	// Width is the stem's and the first stage's channels (64); the stages
	// have Width·2^s planes. Smaller widths make reduced models for tests.
	Width int
	// Channels and AuxChannels are the decode and auxiliary heads' widths
	// (128 and 64 for R-18, 512 and 256 for R-50).
	Channels, AuxChannels int
	// Bins are the pyramid's output sizes (1, 2, 3, 6).
	Bins []int
	// Classes holds the classes of each label set; the heads have one
	// classifier per label set.
	Classes []int
	// Norms is the number of batch norms of every Dataset-Aware Block: 1
	// shares the normalisation (single-dataset and joint training), one
	// per label set is CDCL's.
	Norms int
	// Dropout is the heads' Dropout2d probability (0.1).
	Dropout float32
	// Aux adds the auxiliary FCN head on the third stage, whose loss
	// Losses weights by AuxWeight (0.4).
	Aux       bool
	AuxWeight float32
}

// PSPNetR18 returns mmsegmentation's pspnet_r18-d8 for the given label
// sets: widths 64, 128 and 64, bins 1, 2, 3, 6, dropout 0.1, the auxiliary
// head, and norms batch norms per Dataset-Aware Block.
func PSPNetR18(classes []int, norms int) PSPNetConfig {
	return PSPNetConfig{Depth: 18, Width: 64, Channels: 128, AuxChannels: 64, Bins: []int{1, 2, 3, 6},
		Classes: classes, Norms: norms, Dropout: 0.1, Aux: true, AuxWeight: 0.4}
}

// PSPNetR50 returns mmsegmentation's pspnet_r50-d8: widths 64, 512, 256.
func PSPNetR50(classes []int, norms int) PSPNetConfig {
	c := PSPNetR18(classes, norms)
	c.Depth, c.Channels, c.AuxChannels = 50, 512, 256
	return c
}

// PSPNet is mmsegmentation's EncoderDecoder PSPNet with its state-dict
// names (backbone.*, decode_head.*, auxiliary_head.*), its batch norms
// Dataset-Aware (one per dataset, or one shared) and one classifier per
// label set. SetDataset picks the batch norms and classifiers a forward
// pass uses.
type PSPNet struct {
	Config   PSPNetConfig
	Backbone *ResNetV1c
	Decode   *PSPHead
	// Aux is the auxiliary head, nil without one.
	Aux     *FCNHead
	dataset int
}

// NewPSPNet builds a PSPNet initialised as mmsegmentation initialises one
// without pretraining: Kaiming-normal convolutions (fan-out, ReLU), unit
// batch-norm scales with the last batch norm of each residual block at zero
// (zero_init_residual), classifiers normal with std 0.01 and zero bias.
// Dropout draws from rng.
func NewPSPNet(rng *tensor.RNG, cfg PSPNetConfig) (*PSPNet, error) {
	dc, ok := resNetDepths[cfg.Depth]
	if !ok || (cfg.Depth != 18 && cfg.Depth != 50) {
		return nil, fmt.Errorf("PSPNet: no ResNetV1c of depth %d (have 18, 50)", cfg.Depth)
	}
	switch {
	case len(cfg.Classes) == 0:
		return nil, fmt.Errorf("PSPNet: no label sets")
	case cfg.Norms < 1 || (cfg.Norms != 1 && cfg.Norms != len(cfg.Classes)):
		return nil, fmt.Errorf("PSPNet: %d batch norms per block for %d label sets, want 1 or %d", cfg.Norms, len(cfg.Classes), len(cfg.Classes))
	case cfg.Width < 2 || cfg.Width%2 != 0 || cfg.Channels < 1 || (cfg.Aux && cfg.AuxChannels < 1):
		return nil, fmt.Errorf("PSPNet: widths %d, %d, %d must be positive (the first even)", cfg.Width, cfg.Channels, cfg.AuxChannels)
	case len(cfg.Bins) == 0:
		return nil, fmt.Errorf("PSPNet: no pyramid bins")
	}
	for _, c := range cfg.Classes {
		if c < 1 || c > 255 {
			return nil, fmt.Errorf("PSPNet: %d classes, want 1 to 255", c)
		}
	}
	for _, b := range cfg.Bins {
		if b < 1 {
			return nil, fmt.Errorf("PSPNet: pyramid bin %d, want at least 1", b)
		}
	}
	conv := func(in, out, k, stride, dil int) *nn.Conv2d {
		w := tensor.Zeros(out, in, k, k)
		nn.KaimingNormal(rng, w, 0, nn.FanOut, "relu")
		pad := dil * (k / 2)
		return &nn.Conv2d{Weight: autograd.Param(w), Options: autograd.Conv2dOptions{
			Stride: []int{stride, stride}, Padding: []int{pad, pad}, Dilation: []int{dil, dil}}}
	}
	bn := func(c int) *DatasetBN { return NewDatasetBN(c, cfg.Norms) }
	cm := func(in, out, k int) *ConvModule { return &ConvModule{Conv: conv(in, out, k, 1, 1), BN: bn(out)} }
	head := func(in int) *SegHead {
		h := &SegHead{}
		for _, c := range cfg.Classes {
			w := tensor.Zeros(c, in, 1, 1)
			nn.Normal(rng, w, 0, 0.01)
			h.Convs = append(h.Convs, &nn.Conv2d{Weight: autograd.Param(w), Bias: autograd.Param(tensor.Zeros(c))})
		}
		return h
	}
	w := cfg.Width
	bb := &ResNetV1c{Stem: [3]*ConvModule{
		{Conv: conv(3, w/2, 3, 2, 1), BN: bn(w / 2)},
		{Conv: conv(w/2, w/2, 3, 1, 1), BN: bn(w / 2)},
		{Conv: conv(w/2, w, 3, 1, 1), BN: bn(w)},
	}}
	strides, dilations := [4]int{1, 2, 1, 1}, [4]int{1, 1, 2, 4}
	expansion := 1
	if dc.bottleneck {
		expansion = 4
	}
	in := w
	for s := range 4 {
		planes := w << s
		for i := range dc.blocks[s] {
			st, dil := 1, dilations[s]
			if i == 0 {
				st = strides[s]
				if dil > 1 {
					dil /= 2 // contract_dilation
				}
			}
			b := &SegBlock{}
			if dc.bottleneck {
				b.Conv1, b.BN1 = conv(in, planes, 1, 1, 1), bn(planes)
				b.Conv2, b.BN2 = conv(planes, planes, 3, st, dil), bn(planes)
				b.Conv3, b.BN3 = conv(planes, planes*4, 1, 1, 1), bn(planes*4)
				zero(b.BN3)
			} else {
				b.Conv1, b.BN1 = conv(in, planes, 3, st, dil), bn(planes)
				b.Conv2, b.BN2 = conv(planes, planes, 3, 1, 1), bn(planes)
				zero(b.BN2)
			}
			if st != 1 || in != planes*expansion {
				b.DownConv, b.DownBN = conv(in, planes*expansion, 1, st, 1), bn(planes*expansion)
			}
			bb.Layers[s] = append(bb.Layers[s], b)
			in = planes * expansion
		}
	}
	p := &PSPNet{Config: cfg, Backbone: bb}
	d := &PSPHead{Bins: append([]int(nil), cfg.Bins...), Dropout: nn.NewDropout2d(cfg.Dropout, rng)}
	for range cfg.Bins {
		d.PSP = append(d.PSP, cm(in, cfg.Channels, 1))
	}
	d.Bottleneck = cm(in+len(cfg.Bins)*cfg.Channels, cfg.Channels, 3)
	d.Seg = head(cfg.Channels)
	p.Decode = d
	if cfg.Aux {
		auxIn := (w << 2) * expansion
		p.Aux = &FCNHead{Convs: []*ConvModule{cm(auxIn, cfg.AuxChannels, 3)}, Dropout: nn.NewDropout2d(cfg.Dropout, rng), Seg: head(cfg.AuxChannels)}
	}
	return p, nil
}

// zero sets the scales of b's batch norms to zero.
func zero(b *DatasetBN) {
	for _, n := range b.BNs {
		clear(n.Weight.Value().Data())
	}
}

// Members implements nn.Module with mmsegmentation's names.
func (p *PSPNet) Members() nn.Members {
	m := nn.Members{Children: []nn.Child{{Name: "backbone", Module: p.Backbone}, {Name: "decode_head", Module: p.Decode}}}
	if p.Aux != nil {
		m.Children = append(m.Children, nn.Child{Name: "auxiliary_head", Module: p.Aux})
	}
	return m
}

// Datasets returns the number of label sets.
func (p *PSPNet) Datasets() int { return len(p.Config.Classes) }

// Dataset returns the label set forward passes use.
func (p *PSPNet) Dataset() int { return p.dataset }

// SetDataset makes forward passes use label set d's classifiers and, with
// Dataset-Aware Blocks, dataset d's batch norms.
func (p *PSPNet) SetDataset(d int) error {
	if d < 0 || d >= p.Datasets() {
		return fmt.Errorf("PSPNet: dataset %d of %d", d, p.Datasets())
	}
	p.dataset = d
	bn := 0
	if p.Config.Norms > 1 {
		bn = d
	}
	var rec func(m nn.Module)
	rec = func(m nn.Module) {
		if b, ok := m.(*DatasetBN); ok {
			b.Active = bn
			return
		}
		for _, c := range m.Members().Children {
			rec(c.Module)
		}
	}
	rec(p)
	return nil
}

// Outputs maps images (N, 3, H, W) to the decode head's and the auxiliary
// head's logits of the active label set at stride 8, before resizing, for
// training's losses (aux is nil without an auxiliary head).
func (p *PSPNet) Outputs(x *autograd.Var) (decode, aux *autograd.Var) {
	cs := p.Backbone.Stages(x)
	d := p.Decode
	decode = d.Seg.Convs[p.dataset].Forward(d.Dropout.Forward(d.features(cs[3])))
	if p.Aux != nil {
		a := cs[2]
		for _, c := range p.Aux.Convs {
			a = c.Forward(a)
		}
		aux = p.Aux.Seg.Convs[p.dataset].Forward(p.Aux.Dropout.Forward(a))
	}
	return decode, aux
}

// Forward maps images (N, 3, H, W) to the active label set's logits
// (N, K, H, W): the decode head's, resized bilinearly (align_corners false)
// to the input's size, as mmsegmentation's whole-image inference.
func (p *PSPNet) Forward(x *autograd.Var) *autograd.Var {
	sh := x.Shape()
	cs := p.Backbone.Stages(x)
	d := p.Decode
	out := d.Seg.Convs[p.dataset].Forward(d.Dropout.Forward(d.features(cs[3])))
	return autograd.ResizeBilinear(out, sh[2], sh[3], false)
}

// Losses returns the decode head's loss and the auxiliary head's, weighted
// by AuxWeight (nil without an auxiliary head), for images x (N, 3, H, W)
// labelled by labels (N·H·W class indices of the active label set, ignore
// marking pixels that count for nothing): mmsegmentation's CrossEntropyLoss
// of each head's logits resized bilinearly (align_corners false) to H×W,
// the sum over the kept pixels divided by all N·H·W pixels.
func (p *PSPNet) Losses(x *autograd.Var, labels []int, ignore int) (decode, aux *autograd.Var) {
	sh := x.Shape()
	opt := autograd.SegCrossEntropyOptions{IgnoreIndex: ignore}
	d, a := p.Outputs(x)
	decode = autograd.SegCrossEntropy(autograd.ResizeBilinear(d, sh[2], sh[3], false), labels, opt)
	if a != nil {
		aux = autograd.SegCrossEntropy(autograd.ResizeBilinear(a, sh[2], sh[3], false), labels, opt)
		aux = autograd.Scale(aux, p.Config.AuxWeight)
	}
	return decode, aux
}

// ForDataset returns the network of label set d alone, for inference and
// export: a PSPNet of one label set and plain batch norms that shares p's
// convolutions and holds dataset d's batch norms (with Dataset-Aware
// Blocks) and classifiers. It has the FLOPs of a single-dataset network;
// folding its batch norms into the convolutions (kernels.FoldBatchNorm, as
// inference and export do) leaves no trace of the other datasets.
func (p *PSPNet) ForDataset(d int) (*PSPNet, error) {
	if d < 0 || d >= p.Datasets() {
		return nil, fmt.Errorf("PSPNet: dataset %d of %d", d, p.Datasets())
	}
	bn := 0
	if p.Config.Norms > 1 {
		bn = d
	}
	one := func(b *DatasetBN) *DatasetBN { return &DatasetBN{BNs: []*nn.BatchNorm2d{b.BNs[bn]}} }
	cm := func(c *ConvModule) *ConvModule { return &ConvModule{Conv: c.Conv, BN: one(c.BN)} }
	seg := func(h *SegHead) *SegHead { return &SegHead{Convs: []*nn.Conv2d{h.Convs[d]}} }
	cfg := p.Config
	cfg.Classes, cfg.Norms = []int{p.Config.Classes[d]}, 1
	q := &PSPNet{Config: cfg, Backbone: &ResNetV1c{}}
	for i, c := range p.Backbone.Stem {
		q.Backbone.Stem[i] = cm(c)
	}
	for s, l := range p.Backbone.Layers {
		for _, b := range l {
			c := &SegBlock{Conv1: b.Conv1, Conv2: b.Conv2, Conv3: b.Conv3, BN1: one(b.BN1), BN2: one(b.BN2), DownConv: b.DownConv}
			if b.BN3 != nil {
				c.BN3 = one(b.BN3)
			}
			if b.DownBN != nil {
				c.DownBN = one(b.DownBN)
			}
			q.Backbone.Layers[s] = append(q.Backbone.Layers[s], c)
		}
	}
	dh := p.Decode
	q.Decode = &PSPHead{Bins: dh.Bins, Bottleneck: cm(dh.Bottleneck), Dropout: dh.Dropout, Seg: seg(dh.Seg)}
	for _, c := range dh.PSP {
		q.Decode.PSP = append(q.Decode.PSP, cm(c))
	}
	if p.Aux != nil {
		q.Aux = &FCNHead{Dropout: p.Aux.Dropout, Seg: seg(p.Aux.Seg)}
		for _, c := range p.Aux.Convs {
			q.Aux.Convs = append(q.Aux.Convs, cm(c))
		}
	}
	return q, nil
}
