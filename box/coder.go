package box

import "math"

// DefaultClamp is torchvision's and Detectron's bound on the predicted log
// scale, log(1000/16).
const DefaultClamp = 4.135166556742356

// SparseRCNNClamp is Sparse R-CNN's bound on the predicted log scale,
// log(100000/16).
const SparseRCNNClamp = 8.740336742730447

// Coder encodes target boxes as deltas relative to reference boxes and
// decodes deltas back, as torchvision's BoxCoder and Detectron2's
// Box2BoxTransform:
//
//	dx = wx*(gcx-cx)/w, dy = wy*(gcy-cy)/h, dw = ww*log(gw/w), dh = wh*log(gh/h)
//
// Decoding clamps dw/wx and dh/wh at Clamp before exponentiating, so that a
// diverging regression cannot overflow.
type Coder struct {
	// Weights are (wx, wy, ww, wh): (10, 10, 5, 5) in Faster R-CNN's box
	// head, (2, 2, 1, 1) in Sparse R-CNN.
	Weights [4]float64
	// Clamp is the upper bound of the decoded log width and height scale;
	// 0 means DefaultClamp.
	Clamp float64
}

// Encode returns the deltas (4 per box) that take each xyxy box of ref to
// the matching xyxy box of target.
func (c Coder) Encode(target, ref []float64) []float64 {
	n := Count(ref)
	if Count(target) != n {
		panic("box: Encode needs as many targets as reference boxes")
	}
	wx, wy, ww, wh := c.Weights[0], c.Weights[1], c.Weights[2], c.Weights[3]
	d := make([]float64, 4*n)
	for i := range n {
		r, g := ref[4*i:4*i+4], target[4*i:4*i+4]
		w, h := r[2]-r[0], r[3]-r[1]
		cx, cy := r[0]+0.5*w, r[1]+0.5*h
		gw, gh := g[2]-g[0], g[3]-g[1]
		gcx, gcy := g[0]+0.5*gw, g[1]+0.5*gh
		d[4*i] = wx * (gcx - cx) / w
		d[4*i+1] = wy * (gcy - cy) / h
		d[4*i+2] = ww * math.Log(gw/w)
		d[4*i+3] = wh * math.Log(gh/h)
	}
	return d
}

// Decode applies deltas (4 per box) to the xyxy boxes ref and returns the
// decoded xyxy boxes.
func (c Coder) Decode(deltas, ref []float64) []float64 {
	n := Count(ref)
	if Count(deltas) != n {
		panic("box: Decode needs as many deltas as reference boxes")
	}
	clamp := c.Clamp
	if clamp == 0 {
		clamp = DefaultClamp
	}
	wx, wy, ww, wh := c.Weights[0], c.Weights[1], c.Weights[2], c.Weights[3]
	o := make([]float64, 4*n)
	for i := range n {
		r, d := ref[4*i:4*i+4], deltas[4*i:4*i+4]
		w, h := r[2]-r[0], r[3]-r[1]
		cx, cy := r[0]+0.5*w, r[1]+0.5*h
		dx, dy := d[0]/wx, d[1]/wy
		dw, dh := math.Min(d[2]/ww, clamp), math.Min(d[3]/wh, clamp)
		pcx, pcy := dx*w+cx, dy*h+cy
		pw, ph := math.Exp(dw)*w, math.Exp(dh)*h
		o[4*i] = pcx - 0.5*pw
		o[4*i+1] = pcy - 0.5*ph
		o[4*i+2] = pcx + 0.5*pw
		o[4*i+3] = pcy + 0.5*ph
	}
	return o
}
