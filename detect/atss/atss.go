// Package atss is the one-stage dense detector of ATSS (Zhang et al.
// 2020, "Bridging the Gap Between Anchor-based and Anchor-free Detection")
// on the engine, and the sample assignment of HPS-Det (arXiv 2207.11539)
// that runs on it: the head (shared towers of 3×3 convolution, GroupNorm
// and ReLU; classification, box regression with a learnable scale per
// level, centerness), its anchors, the assigners (ATSS's adaptive
// threshold, its fixed top-k mode, SimOTA, and HPS's searched numbers of
// positives chosen each iteration), the loss (sigmoid focal, GIoU weighted
// by centerness targets, centerness BCE) and the inference
// post-processing (score threshold, top-k per level, class-wise NMS).
//
// Parameter names follow the official ATSS code (sfzhang15/ATSS:
// cls_tower, bbox_tower, cls_logits, bbox_pred, centerness, scales); the
// backbone is any module giving P3–P7 (models.NewResNetFPNP3P7).
// Boxes are xyxy in pixels.
package atss

import (
	"fmt"
	"math"
	"strconv"

	"argus/autograd"
	"argus/nn"
	"argus/tensor"
)

// Config is the shape of an ATSS head.
type Config struct {
	// Classes is the number of object classes (no background class).
	Classes int
	// Channels is the width of the pyramid levels and of the towers (256).
	Channels int
	// Convs is the number of conv–GroupNorm–ReLU blocks of each tower (4).
	Convs int
	// Groups is GroupNorm's number of groups (32).
	Groups int
	// Strides are the strides of the levels the head reads (8 to 128).
	Strides []int
	// OctaveScale sizes the anchors: one square anchor of side
	// OctaveScale·stride per position (8).
	OctaveScale float64
	// Prior is the initial foreground probability of the classifier
	// (0.01).
	Prior float64
}

// DefaultConfig returns ATSS's head for the given number of classes.
func DefaultConfig(classes int) Config {
	return Config{Classes: classes, Channels: 256, Convs: 4, Groups: 32,
		Strides: []int{8, 16, 32, 64, 128}, OctaveScale: 8, Prior: 0.01}
}

// Validate reports the first inconsistency of c.
func (c Config) Validate() error {
	switch {
	case c.Classes < 1:
		return fmt.Errorf("atss: %d classes, want at least 1", c.Classes)
	case c.Channels < 1 || c.Convs < 0:
		return fmt.Errorf("atss: %d channels and %d tower convolutions", c.Channels, c.Convs)
	case c.Groups < 1 || c.Channels%c.Groups != 0:
		return fmt.Errorf("atss: %d channels do not split into %d groups", c.Channels, c.Groups)
	case len(c.Strides) == 0:
		return fmt.Errorf("atss: no pyramid levels")
	case !(c.OctaveScale > 0) || !(c.Prior > 0 && c.Prior < 1):
		return fmt.Errorf("atss: octave scale %v and prior %v", c.OctaveScale, c.Prior)
	}
	for _, s := range c.Strides {
		if s < 1 {
			return fmt.Errorf("atss: stride %d", s)
		}
	}
	return nil
}

// Scale is a learnable scalar multiplier (the official code's Scale
// module, parameter "scale", initially 1).
type Scale struct{ Scale *autograd.Var }

// Members implements nn.Module.
func (s *Scale) Members() nn.Members {
	return nn.Members{Params: []nn.Parameter{{Name: "scale", Var: s.Scale}}}
}

// Head is ATSS's head, shared by every level: a classification tower and a
// box tower of Convs × (3×3 conv, GroupNorm, ReLU), the classifier
// (Classes logits per position), the box regression (4 deltas per
// position, multiplied by the level's Scale) and the centerness logit,
// the last two on the box tower.
type Head struct {
	ClsTower, BoxTower *nn.Sequential
	ClsLogits          *nn.Conv2d
	BBoxPred           *nn.Conv2d
	Centerness         *nn.Conv2d
	Scales             []*Scale
	Config             Config
}

// NewHead returns a head initialised as the official code does: every
// convolution's weight N(0, 0.01) and bias 0, the classifier's bias
// −log((1−prior)/prior), GroupNorm's weight 1 and bias 0, scales 1.
func NewHead(rng *tensor.RNG, c Config) (*Head, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	conv := func(in, out int) *nn.Conv2d {
		w := tensor.Zeros(out, in, 3, 3)
		nn.Normal(rng, w, 0, 0.01)
		return &nn.Conv2d{Weight: autograd.Param(w), Bias: autograd.Param(tensor.Zeros(out)),
			Options: autograd.Conv2dOptions{Padding: []int{1, 1}}}
	}
	tower := func() *nn.Sequential {
		s := &nn.Sequential{}
		for range c.Convs {
			s.Layers = append(s.Layers, conv(c.Channels, c.Channels), nn.NewGroupNorm(c.Groups, c.Channels), nn.ReLU{})
		}
		return s
	}
	h := &Head{Config: c, ClsTower: tower(), BoxTower: tower()}
	h.ClsLogits = conv(c.Channels, c.Classes)
	bias := float32(-math.Log((1 - c.Prior) / c.Prior))
	for i := range h.ClsLogits.Bias.Value().Data() {
		h.ClsLogits.Bias.Value().Data()[i] = bias
	}
	h.BBoxPred = conv(c.Channels, 4)
	h.Centerness = conv(c.Channels, 1)
	for range c.Strides {
		h.Scales = append(h.Scales, &Scale{Scale: autograd.Param(tensor.Ones(1))})
	}
	return h, nil
}

// Members implements nn.Module with the official names.
func (h *Head) Members() nn.Members {
	m := nn.Members{Children: []nn.Child{
		{Name: "cls_tower", Module: h.ClsTower}, {Name: "bbox_tower", Module: h.BoxTower},
		{Name: "cls_logits", Module: h.ClsLogits}, {Name: "bbox_pred", Module: h.BBoxPred},
		{Name: "centerness", Module: h.Centerness}, {Name: "scales", Module: scaleList(h.Scales)},
	}}
	return m
}

// scaleList names the scales 0, 1, ... as a ModuleList does.
type scaleList []*Scale

func (s scaleList) Members() nn.Members {
	var m nn.Members
	for i, x := range s {
		m.Children = append(m.Children, nn.Child{Name: strconv.Itoa(i), Module: x})
	}
	return m
}

// Level is the geometry of one pyramid level of a forward pass.
type Level struct {
	H, W, Stride int
}

// Output is a forward pass's predictions, for every image, over the
// anchors of all levels in order (level by level, each row by row), as the
// official code's concat_box_prediction_layers flattens them.
type Output struct {
	// Logits are the classification logits, (N, A, Classes).
	Logits *autograd.Var
	// Deltas are the box regression deltas (scaled per level), (N, A, 4).
	Deltas *autograd.Var
	// Centerness holds the centerness logits, (N, A).
	Centerness *autograd.Var
	// Levels are the levels' sizes and strides.
	Levels []Level
}

// AnchorCount returns the number of anchors of each image, A.
func (o Output) AnchorCount() int { return o.Centerness.Shape()[1] }

// Forward runs the head on the pyramid levels (finest first, one per
// stride of the config) and flattens the predictions into an Output.
func (h *Head) Forward(features []*autograd.Var) Output {
	if len(features) != len(h.Scales) {
		panic(fmt.Sprintf("atss: head of %d levels given %d feature maps", len(h.Scales), len(features)))
	}
	var cls, box, ctr []*autograd.Var
	var levels []Level
	for l, f := range features {
		s := f.Shape()
		levels = append(levels, Level{H: s[2], W: s[3], Stride: h.Config.Strides[l]})
		ct := h.ClsTower.Forward(f)
		bt := h.BoxTower.Forward(f)
		cls = append(cls, channelsLast(h.ClsLogits.Forward(ct)))
		box = append(box, channelsLast(autograd.Mul(h.BBoxPred.Forward(bt), h.Scales[l].Scale)))
		ctr = append(ctr, channelsLast(h.Centerness.Forward(bt)))
	}
	c := autograd.Concat(ctr, 1)
	return Output{
		Logits:     autograd.Concat(cls, 1),
		Deltas:     autograd.Concat(box, 1),
		Centerness: autograd.Reshape(c, c.Shape()[0], c.Shape()[1]),
		Levels:     levels,
	}
}

// channelsLast maps (N, C, H, W) to (N, H·W, C).
func channelsLast(x *autograd.Var) *autograd.Var {
	s := x.Shape()
	return autograd.Reshape(autograd.Permute(x, 0, 2, 3, 1), s[0], s[2]*s[3], s[1])
}

// Backbone gives the pyramid levels the head reads, finest first, and
// their strides.
type Backbone interface {
	nn.Module
	Features(x *autograd.Var) []*autograd.Var
	Strides() []int
}

// Detector is an ATSS detector: a backbone giving P3–P7 and the head. Its
// state dict's names are backbone.* and head.*.
type Detector struct {
	Backbone Backbone
	Head     *Head
}

// NewDetector returns a detector of the given head on a backbone whose
// strides must be the config's.
func NewDetector(rng *tensor.RNG, backbone Backbone, c Config) (*Detector, error) {
	bs := backbone.Strides()
	if len(bs) != len(c.Strides) {
		return nil, fmt.Errorf("atss: backbone of strides %v for a head of strides %v", bs, c.Strides)
	}
	for i := range bs {
		if bs[i] != c.Strides[i] {
			return nil, fmt.Errorf("atss: backbone of strides %v for a head of strides %v", bs, c.Strides)
		}
	}
	h, err := NewHead(rng, c)
	if err != nil {
		return nil, err
	}
	return &Detector{Backbone: backbone, Head: h}, nil
}

// Members implements nn.Module.
func (d *Detector) Members() nn.Members {
	return nn.Members{Children: []nn.Child{{Name: "backbone", Module: d.Backbone}, {Name: "head", Module: d.Head}}}
}

// Predict runs the detector on images (N, 3, H, W).
func (d *Detector) Predict(x *autograd.Var) Output {
	return d.Head.Forward(d.Backbone.Features(x))
}

// Forward implements nn.Layer: the predictions of every anchor as one
// tensor (N, A, Classes+5): the logits, the four deltas and the
// centerness logit.
func (d *Detector) Forward(x *autograd.Var) *autograd.Var {
	o := d.Predict(x)
	s := o.Centerness.Shape()
	return autograd.Concat([]*autograd.Var{o.Logits, o.Deltas, autograd.Reshape(o.Centerness, s[0], s[1], 1)}, 2)
}

// Anchors returns the anchors of the levels, 4 coordinates each in the
// order of an Output: one square of side octave·stride per position,
// centred at ((x+0.5)·stride, (y+0.5)·stride).
func Anchors(levels []Level, octave float64) []float64 {
	var a []float64
	for _, l := range levels {
		s := float64(l.Stride)
		half := octave * s / 2
		for y := range l.H {
			for x := range l.W {
				cx, cy := (float64(x)+0.5)*s, (float64(y)+0.5)*s
				a = append(a, cx-half, cy-half, cx+half, cy+half)
			}
		}
	}
	return a
}
