package sparsercnn

import (
	"fmt"

	"argus/autograd"
	"argus/nn"
	"argus/tensor"
)

// DPG is Dynamic Sparse R-CNN's dynamic proposal generation: E experts,
// each a full set of N proposal boxes (cx cy w h relative to the image)
// and N proposal features, mixed per image and proposal by softmax
// weights over the experts that a small gate computes from the pyramid:
// the global average of each level, concatenated, Linear, ReLU, Linear to
// N·E logits. The paper does not publish its expert form; this one, the
// gate, and the initialisation (every expert's boxes the whole image,
// features N(0, 1), the gate's last layer zero so that the mixture starts
// uniform) are argus's.
type DPG struct {
	Experts, Proposals, Hidden int
	Boxes                      *autograd.Var // E·N × 4
	Features                   *autograd.Var // E·N × hidden
	Gate1, Gate2               *nn.Linear
}

// NewDPG returns experts mixtures of proposals proposals of hidden
// channels over levels pyramid levels.
func NewDPG(rng *tensor.RNG, experts, proposals, hidden, levels int) (*DPG, error) {
	if experts < 1 {
		return nil, fmt.Errorf("sparse r-cnn: DPG with %d experts", experts)
	}
	boxes := tensor.Zeros(experts*proposals, 4)
	for i := range experts * proposals {
		copy(boxes.Data()[4*i:], []float32{0.5, 0.5, 1, 1})
	}
	feats := tensor.Zeros(experts*proposals, hidden)
	nn.Normal(rng, feats, 0, 1)
	g2 := nn.NewLinear(rng, hidden, proposals*experts, true)
	g2.Weight.Value().Fill(0)
	g2.Bias.Value().Fill(0)
	return &DPG{Experts: experts, Proposals: proposals, Hidden: hidden,
		Boxes: autograd.Param(boxes), Features: autograd.Param(feats),
		Gate1: nn.NewLinear(rng, levels*hidden, hidden, true), Gate2: g2}, nil
}

// Members implements nn.Module: expert_boxes, expert_features, gate1, gate2.
func (d *DPG) Members() nn.Members {
	return nn.Members{
		Params:   []nn.Parameter{{Name: "expert_boxes", Var: d.Boxes}, {Name: "expert_features", Var: d.Features}},
		Children: []nn.Child{{Name: "gate1", Module: d.Gate1}, {Name: "gate2", Module: d.Gate2}},
	}
}

// Weights returns the mixture weights (B·N × E) of a batch's pyramid.
func (d *DPG) Weights(features []*autograd.Var) *autograd.Var {
	var pooled []*autograd.Var
	for _, f := range features {
		pooled = append(pooled, autograd.MeanAxes(f, false, 2, 3))
	}
	b := features[0].Shape()[0]
	h := autograd.ReLU(d.Gate1.Forward(autograd.Concat(pooled, 1)))
	logits := autograd.Reshape(d.Gate2.Forward(h), b, d.Proposals, d.Experts)
	return autograd.Reshape(autograd.Softmax(logits, -1), b*d.Proposals, d.Experts)
}

// Generate implements ProposalGenerator: each image's proposals are the
// experts' weighted by that image's mixture.
func (d *DPG) Generate(features []*autograd.Var) (boxes, feats *autograd.Var) {
	b := features[0].Shape()[0]
	n := d.Proposals
	w := d.Weights(features)
	idx := make([]int, b*n)
	for e := range d.Experts {
		for i := range idx {
			idx[i] = e*n + i%n
		}
		we := autograd.Slice(w, 1, e, e+1)
		be := autograd.Mul(we, autograd.Embedding(d.Boxes, idx))
		fe := autograd.Mul(we, autograd.Embedding(d.Features, idx))
		if e == 0 {
			boxes, feats = be, fe
		} else {
			boxes, feats = autograd.Add(boxes, be), autograd.Add(feats, fe)
		}
	}
	return boxes, autograd.Reshape(feats, b, n, d.Hidden)
}
