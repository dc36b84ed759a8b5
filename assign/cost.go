package assign

import (
	"fmt"
	"math"

	"argus/box"
)

// MatchCost is Sparse R-CNN's matching cost between predictions and ground
// truth: Class*focal + L1*|box - gt|_1 (boxes divided by the image size) -
// GIoU*GIoU(box, gt), with the focal classification cost
// alpha(1-p)^gamma(-log p) - (1-alpha)p^gamma(-log(1-p)) of the ground
// truth's class.
type MatchCost struct {
	Class, L1, GIoU float64
	Alpha, Gamma    float64
}

// DefaultMatchCost returns Sparse R-CNN's weights: 2 focal, 5 L1, 2 GIoU,
// alpha 0.25, gamma 2.
func DefaultMatchCost() MatchCost {
	return MatchCost{Class: 2, L1: 5, GIoU: 2, Alpha: 0.25, Gamma: 2}
}

// Matrix returns the n x g cost of n predictions against g ground truths, as
// Sparse R-CNN's HungarianMatcher computes it. probs holds each prediction's
// sigmoid class probabilities (n x classes), boxes the predicted xyxy boxes
// in pixels (n x 4); labels and gtBoxes the ground truth's classes and xyxy
// boxes; width and height the image size used to normalise boxes for the L1
// term. A NaN or infinite input is refused with an error, as it makes the
// assignment meaningless.
func (m MatchCost) Matrix(probs []float64, classes int, boxes []float64, labels []int, gtBoxes []float64, width, height float64) ([]float64, error) {
	n, g := len(boxes)/4, len(labels)
	if len(boxes) != 4*n || len(probs) != n*classes || len(gtBoxes) != 4*g {
		return nil, fmt.Errorf("assign: match cost of %d probabilities, %d box values, %d labels and %d ground-truth values for %d classes", len(probs), len(boxes), g, len(gtBoxes), classes)
	}
	for _, l := range labels {
		if l < 0 || l >= classes {
			return nil, fmt.Errorf("assign: label %d outside [0, %d)", l, classes)
		}
	}
	for name, vals := range map[string][]float64{"probability": probs, "box": boxes, "ground-truth box": gtBoxes} {
		for i, v := range vals {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("assign: %s value %d is %v (a diverged prediction?)", name, i, v)
			}
		}
	}
	giou := box.GIoU(boxes, gtBoxes)
	scale := [4]float64{width, height, width, height}
	c := make([]float64, n*g)
	for i := range n {
		for k, l := range labels {
			p := probs[i*classes+l]
			neg := (1 - m.Alpha) * math.Pow(p, m.Gamma) * -math.Log(1-p+1e-8)
			pos := m.Alpha * math.Pow(1-p, m.Gamma) * -math.Log(p+1e-8)
			var l1 float64
			for d := range 4 {
				l1 += math.Abs(boxes[4*i+d]/scale[d] - gtBoxes[4*k+d]/scale[d])
			}
			c[i*g+k] = m.L1*l1 + m.Class*(pos-neg) + m.GIoU*-giou[i*g+k]
		}
	}
	return c, CheckFinite(c, n, g)
}
