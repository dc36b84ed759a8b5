package atss

import (
	"fmt"
	"math"

	"argus/autograd"
	"argus/boxloss"
	"argus/tensor"
)

// Target is the ground truth of one image: 4 xyxy pixel coordinates per
// object in Boxes and its class (0 to Classes−1) in Labels.
type Target struct {
	Boxes  []float32
	Labels []int
}

// Coder constants: the deltas are (dx, dy, dw, dh) divided by the standard
// deviations (0.1, 0.1, 0.2, 0.2), and dw, dh are clamped at
// ±log(1000/16) before exponentiating, as mmdetection's
// DeltaXYWHBBoxCoder decodes them.
var deltaStds = [4]float32{0.1, 0.1, 0.2, 0.2}

var maxRatio = float32(math.Abs(math.Log(16.0 / 1000)))

// Decode returns the boxes (n, 4) that the deltas (n, 4) give on the
// anchors (4 coordinates each), differentiably in the deltas.
func Decode(deltas *autograd.Var, anchors []float64) *autograd.Var {
	n := deltas.Shape()[0]
	if len(anchors) != 4*n {
		panic(fmt.Sprintf("atss: Decode of %d deltas on %d anchors", n, len(anchors)/4))
	}
	stds := tensor.FromSlice(deltaStds[:], 1, 4)
	d := autograd.Split(autograd.Mul(deltas, autograd.Const(stds)), 1, 1, 1, 1, 1)
	aw, ah, acx, acy := tensor.Zeros(n, 1), tensor.Zeros(n, 1), tensor.Zeros(n, 1), tensor.Zeros(n, 1)
	for i := range n {
		a := anchors[4*i : 4*i+4]
		aw.Data()[i], ah.Data()[i] = float32(a[2]-a[0]), float32(a[3]-a[1])
		acx.Data()[i], acy.Data()[i] = float32((a[0]+a[2])*0.5), float32((a[1]+a[3])*0.5)
	}
	cx := autograd.Add(autograd.Mul(d[0], autograd.Const(aw)), autograd.Const(acx))
	cy := autograd.Add(autograd.Mul(d[1], autograd.Const(ah)), autograd.Const(acy))
	w := autograd.Mul(autograd.Exp(autograd.Clamp(d[2], -maxRatio, maxRatio)), autograd.Const(aw))
	h := autograd.Mul(autograd.Exp(autograd.Clamp(d[3], -maxRatio, maxRatio)), autograd.Const(ah))
	hw, hh := autograd.Scale(w, 0.5), autograd.Scale(h, 0.5)
	return autograd.Concat([]*autograd.Var{autograd.Sub(cx, hw), autograd.Sub(cy, hh), autograd.Add(cx, hw), autograd.Add(cy, hh)}, 1)
}

// decodeValues is Decode on plain values, for the assigners and inference.
func decodeValues(deltas []float32, anchors []float64) []float64 {
	n := len(anchors) / 4
	out := make([]float64, 4*n)
	mr := float64(maxRatio)
	for i := range n {
		a := anchors[4*i : 4*i+4]
		d := deltas[4*i : 4*i+4]
		aw, ah := a[2]-a[0], a[3]-a[1]
		cx := float64(d[0]*deltaStds[0])*aw + (a[0]+a[2])*0.5
		cy := float64(d[1]*deltaStds[1])*ah + (a[1]+a[3])*0.5
		w := math.Exp(min(max(float64(d[2]*deltaStds[2]), -mr), mr)) * aw
		h := math.Exp(min(max(float64(d[3]*deltaStds[3]), -mr), mr)) * ah
		out[4*i], out[4*i+1], out[4*i+2], out[4*i+3] = cx-w/2, cy-h/2, cx+w/2, cy+h/2
	}
	return out
}

// CenternessTarget is FCOS's centerness of a point inside a box,
// sqrt(min(l,r)/max(l,r) · min(t,b)/max(t,b)) with l, t, r, b the distances
// from the anchor's centre to the box's sides, as ATSS computes it. The
// distances are clamped at 0 first and an empty ratio counts as 0 (ours:
// the official code asserts that no NaN arises), so a centre outside the
// box or a degenerate box gives 0.
func CenternessTarget(anchor, b []float64) float64 {
	cx, cy := (anchor[0]+anchor[2])/2, (anchor[1]+anchor[3])/2
	l, t := max(cx-b[0], 0), max(cy-b[1], 0)
	r, bt := max(b[2]-cx, 0), max(b[3]-cy, 0)
	ratio := func(a, b float64) float64 {
		if m := max(a, b); m > 0 {
			return min(a, b) / m
		}
		return 0
	}
	return math.Sqrt(ratio(l, r) * ratio(t, bt))
}

// Criterion is ATSS's loss with a chosen assigner.
type Criterion struct {
	Assigner Assigner
	// Alpha and Gamma are the focal loss's (0.25 and 2).
	Alpha, Gamma float32
	// RegWeight multiplies the GIoU term (2).
	RegWeight float32
	// OctaveScale sizes the anchors, as Config.OctaveScale.
	OctaveScale float64
}

// NewCriterion returns ATSS's loss settings with the given assigner.
func NewCriterion(a Assigner) *Criterion {
	return &Criterion{Assigner: a, Alpha: 0.25, Gamma: 2, RegWeight: 2, OctaveScale: 8}
}

// Losses are the three terms of a batch's loss and what the assignment
// gave.
type Losses struct {
	// Cls is the sigmoid focal loss summed over anchors and classes and
	// divided by max(positives, 1).
	Cls *autograd.Var
	// Reg is RegWeight times the GIoU loss of the positives' decoded
	// boxes, weighted by their centerness targets and divided by the
	// targets' sum (the plain mean where that sum is 0).
	Reg *autograd.Var
	// Centerness is the BCE of the positives' centerness logits against
	// their targets, summed and divided by max(positives, 1).
	Centerness *autograd.Var
	// Positives is the number of positive anchors of the batch.
	Positives int
	// Assigned holds, per image, each anchor's ground truth or −1.
	Assigned [][]int
}

// Total returns the sum of the three terms.
func (l Losses) Total() *autograd.Var {
	return autograd.Add(autograd.Add(l.Cls, l.Reg), l.Centerness)
}

// sanitize returns the boxes in float64 with x2 ≥ x1 and y2 ≥ y1 (a box
// given reversed becomes empty), or an error for a non-finite coordinate
// or a label out of range.
func sanitize(t Target, classes int) ([]float64, error) {
	if len(t.Boxes) != 4*len(t.Labels) {
		return nil, fmt.Errorf("%d box coordinates for %d labels", len(t.Boxes), len(t.Labels))
	}
	b := make([]float64, len(t.Boxes))
	for i, v := range t.Boxes {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("box %d has coordinate %v", i/4, v)
		}
		b[i] = float64(v)
	}
	for i := 0; i < len(b); i += 4 {
		b[i+2], b[i+3] = max(b[i+2], b[i]), max(b[i+3], b[i+1])
	}
	for i, l := range t.Labels {
		if l < 0 || l >= classes {
			return nil, fmt.Errorf("box %d has class %d of %d", i, l, classes)
		}
	}
	return b, nil
}

// Loss assigns the anchors of every image of out to its targets and
// returns the loss terms.
func (c *Criterion) Loss(out Output, targets []Target) (Losses, error) {
	ls := out.Logits.Shape()
	nImg, na, classes := ls[0], ls[1], ls[2]
	if len(targets) != nImg {
		return Losses{}, fmt.Errorf("atss: %d targets for %d images", len(targets), nImg)
	}
	anchors := Anchors(out.Levels, c.OctaveScale)
	if len(anchors) != 4*na {
		return Losses{}, fmt.Errorf("atss: %d anchors for %d predictions", len(anchors)/4, na)
	}
	var logits, deltas, ctrs []float32
	if c.Assigner.Predictive() {
		logits, deltas, ctrs = out.Logits.Value().Data(), out.Deltas.Value().Data(), out.Centerness.Value().Data()
	}
	clsT := tensor.Zeros(nImg*na, classes)
	var pos []int
	var gtPos, anchorPos []float64
	res := Losses{Assigned: make([][]int, nImg)}
	for n, t := range targets {
		boxes, err := sanitize(t, classes)
		if err != nil {
			return Losses{}, fmt.Errorf("atss: image %d: %w", n, err)
		}
		assigned := make([]int, na)
		for j := range assigned {
			assigned[j] = -1
		}
		if len(t.Labels) > 0 {
			p := &Problem{Anchors: anchors, Levels: out.Levels, Boxes: boxes, Labels: t.Labels, Classes: classes}
			if c.Assigner.Predictive() {
				p.Scores = make([]float64, na*classes)
				for i, v := range logits[n*na*classes : (n+1)*na*classes] {
					p.Scores[i] = sigmoid64(v)
				}
				p.Centerness = make([]float64, na)
				for i, v := range ctrs[n*na : (n+1)*na] {
					p.Centerness[i] = sigmoid64(v)
				}
				p.Pred = decodeValues(deltas[n*na*4:(n+1)*na*4], anchors)
			}
			if assigned, err = c.Assigner.Assign(p); err != nil {
				return Losses{}, fmt.Errorf("atss: image %d: %w", n, err)
			}
		}
		res.Assigned[n] = assigned
		for j, g := range assigned {
			if g < 0 {
				continue
			}
			clsT.Data()[(n*na+j)*classes+t.Labels[g]] = 1
			pos = append(pos, n*na+j)
			gtPos = append(gtPos, boxes[4*g:4*g+4]...)
			anchorPos = append(anchorPos, anchors[4*j:4*j+4]...)
		}
	}
	res.Positives = len(pos)
	norm := float32(max(len(pos), 1))
	flatLogits := autograd.Reshape(out.Logits, nImg*na, classes)
	res.Cls = autograd.Scale(autograd.SigmoidFocalLoss(flatLogits, clsT, c.Alpha, c.Gamma, autograd.ReduceSum), 1/norm)
	if len(pos) == 0 {
		// Zero terms that still reach the parameters.
		res.Reg = autograd.Scale(autograd.Sum(out.Deltas), 0)
		res.Centerness = autograd.Scale(autograd.Sum(out.Centerness), 0)
		return res, nil
	}
	ctrT := tensor.Zeros(len(pos))
	var ctrSum float64
	for i := range pos {
		v := CenternessTarget(anchorPos[4*i:4*i+4], gtPos[4*i:4*i+4])
		ctrT.Data()[i] = float32(v)
		ctrSum += float64(float32(v))
	}
	gt := tensor.Zeros(len(pos), 4)
	for i, v := range gtPos {
		gt.Data()[i] = float32(v)
	}
	boxes := Decode(autograd.IndexSelect(autograd.Reshape(out.Deltas, nImg*na, 4), 0, pos), anchorPos)
	giou := boxloss.GIoU(boxes, autograd.Const(gt), boxloss.None)
	if ctrSum > 0 {
		res.Reg = autograd.Scale(autograd.Sum(autograd.Mul(giou, autograd.Const(ctrT))), c.RegWeight/float32(ctrSum))
	} else {
		res.Reg = autograd.Scale(autograd.Sum(giou), c.RegWeight/float32(len(pos)))
	}
	ctrLogits := autograd.IndexSelect(autograd.Reshape(out.Centerness, nImg*na), 0, pos)
	res.Centerness = autograd.Scale(autograd.BCEWithLogits(ctrLogits, ctrT, autograd.BCEOptions{Reduction: autograd.ReduceSum}), 1/norm)
	return res, nil
}

// sigmoid64 is the logistic function in float64.
func sigmoid64(v float32) float64 { return 1 / (1 + math.Exp(-float64(v))) }
