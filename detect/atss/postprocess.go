package atss

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"argus/box"
)

// Detection is one detected object: an xyxy box in pixels, its score and
// class.
type Detection struct {
	Box   [4]float32
	Score float32
	Label int
}

// InferOptions are ATSS's test settings.
type InferOptions struct {
	// ScoreThreshold keeps the (anchor, class) pairs whose class
	// probability exceeds it (0.05).
	ScoreThreshold float64
	// PreNMS is the number of pairs kept per level, by probability times
	// centerness (1000).
	PreNMS int
	// NMSThreshold is the IoU above which class-wise NMS suppresses (0.6).
	NMSThreshold float64
	// MaxDetections is the number kept per image, by score (100).
	MaxDetections int
	// OctaveScale sizes the anchors, as Config.OctaveScale (8).
	OctaveScale float64
}

// DefaultInferOptions returns the official test settings.
func DefaultInferOptions() InferOptions {
	return InferOptions{ScoreThreshold: 0.05, PreNMS: 1000, NMSThreshold: 0.6, MaxDetections: 100, OctaveScale: 8}
}

// Detect turns the predictions of out into detections for images of
// width × height pixels, as the official ATSS post-processor: per level
// the pairs of class probability above the threshold, the PreNMS of them
// of largest probability·centerness, their boxes decoded and clipped to the
// image with score sqrt(probability·centerness); then class-wise NMS over
// all levels and the MaxDetections of highest score. Detections are by
// decreasing score.
func Detect(out Output, width, height int, opt InferOptions) ([][]Detection, error) {
	ls := out.Logits.Shape()
	nImg, na, classes := ls[0], ls[1], ls[2]
	anchors := Anchors(out.Levels, opt.OctaveScale)
	if len(anchors) != 4*na {
		return nil, fmt.Errorf("atss: %d anchors for %d predictions", len(anchors)/4, na)
	}
	logits, deltas, ctrs := out.Logits.Value().Data(), out.Deltas.Value().Data(), out.Centerness.Value().Data()
	res := make([][]Detection, nImg)
	type pair struct {
		anchor, class int
		prob, score   float64
	}
	for n := range nImg {
		var boxes, scores []float64
		var labels []int
		start := 0
		for _, l := range out.Levels {
			var ps []pair
			for j := start; j < start+l.H*l.W; j++ {
				c := sigmoid64(ctrs[n*na+j])
				for k := range classes {
					p := sigmoid64(logits[(n*na+j)*classes+k])
					if p > opt.ScoreThreshold {
						ps = append(ps, pair{j, k, p, p * c})
					}
				}
			}
			start += l.H * l.W
			slices.SortStableFunc(ps, func(a, b pair) int { return cmp.Compare(b.score, a.score) })
			ps = ps[:min(len(ps), opt.PreNMS)]
			for _, p := range ps {
				b := decodeValues(deltas[(n*na+p.anchor)*4:(n*na+p.anchor)*4+4], anchors[4*p.anchor:4*p.anchor+4])
				if slices.ContainsFunc(b, func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }) {
					continue
				}
				box.Clip(b, float64(width), float64(height))
				boxes = append(boxes, b...)
				scores = append(scores, math.Sqrt(p.score))
				labels = append(labels, p.class)
			}
		}
		keep := box.BatchedNMS(boxes, scores, labels, opt.NMSThreshold)
		keep = keep[:min(len(keep), opt.MaxDetections)]
		for _, i := range keep {
			res[n] = append(res[n], Detection{
				Box:   [4]float32{float32(boxes[4*i]), float32(boxes[4*i+1]), float32(boxes[4*i+2]), float32(boxes[4*i+3])},
				Score: float32(scores[i]), Label: labels[i]})
		}
	}
	return res, nil
}
