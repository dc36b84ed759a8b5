package autograd

import (
	"fmt"
	"math"

	"argus/tensor"
)

// SegCrossEntropyOptions configures SegCrossEntropy. The zero value is
// mmsegmentation's CrossEntropyLoss default except for the ignore index,
// which must be set (mmsegmentation uses 255).
type SegCrossEntropyOptions struct {
	// Weight holds one weight per class (length C), or nil for equal weights.
	Weight *tensor.Tensor
	// IgnoreIndex names the label of pixels that contribute nothing to the
	// sum, 255 in mmsegmentation. Negative labels are ignored as well.
	IgnoreIndex int
	// AvgNonIgnore divides the sum by the number of pixels that are not
	// ignored instead of by the number of all pixels.
	AvgNonIgnore bool
}

// SegCrossEntropy returns the per-pixel cross-entropy of logits (N×C×H×W,
// or any N×C×...) against labels (N·H·W class indices in row-major order),
// averaged as mmsegmentation's CrossEntropyLoss does:
//
//	loss = Σ_p w[y_p]·(−log softmax(x_p)[y_p]) / D
//
// over the pixels p whose label is not ignored, where D is the number of all
// pixels (N·H·W, ignored ones included) by default and the number of
// non-ignored pixels with AvgNonIgnore. Class weights scale the terms but not
// D, unlike PyTorch's mean, which divides by the sum of the weights. When
// every pixel is ignored the loss is 0 by default and NaN with AvgNonIgnore,
// as in mmsegmentation.
func SegCrossEntropy(logits *Var, labels []int, opt SegCrossEntropyOptions) *Var {
	s := logits.Shape()
	if len(s) < 2 || s[1] == 0 {
		panic(fmt.Sprintf("autograd: SegCrossEntropy of logits %v: want N×C×H×W with C > 0", s))
	}
	c := s[1]
	if want := logits.value.Len() / c; len(labels) != want {
		panic(fmt.Sprintf("autograd: SegCrossEntropy of logits %v with %d labels, want %d", s, len(labels), want))
	}
	for i, t := range labels {
		if t >= c && t != opt.IgnoreIndex {
			panic(fmt.Sprintf("autograd: SegCrossEntropy label %d at %d out of range for %d classes (ignore index %d)", t, i, c, opt.IgnoreIndex))
		}
	}
	if opt.Weight != nil && opt.Weight.Len() != c {
		panic(fmt.Sprintf("autograd: SegCrossEntropy weights %v for %d classes", opt.Weight.Shape(), c))
	}
	return Apply(&segCrossEntropyOp{x: logits, labels: labels, opt: opt})
}

type segCrossEntropyOp struct {
	x      *Var
	labels []int
	opt    SegCrossEntropyOptions
	logp   *tensor.Tensor // log-softmax over the class axis
	den    float64        // the divisor D
}

func (o *segCrossEntropyOp) Operands() []*Var { return []*Var{o.x} }

func (o *segCrossEntropyOp) ignored(t int) bool { return t < 0 || t == o.opt.IgnoreIndex }

func (o *segCrossEntropyOp) weight(c int) float64 {
	if o.opt.Weight == nil {
		return 1
	}
	return float64(o.opt.Weight.Data()[c])
}

func (o *segCrossEntropyOp) Forward() *tensor.Tensor {
	o.logp = tensor.Zeros(o.x.Shape()...)
	softmaxInto(o.x.value, o.logp, 1, true)
	n, c, inner := tensor.Split3(o.x.Shape(), 1)
	lp := o.logp.Data()
	var sum float64
	kept := 0
	for i := 0; i < n; i++ {
		for j := 0; j < inner; j++ {
			t := o.labels[i*inner+j]
			if o.ignored(t) {
				continue
			}
			kept++
			sum -= o.weight(t) * float64(lp[i*c*inner+t*inner+j])
		}
	}
	o.den = float64(len(o.labels))
	if o.opt.AvgNonIgnore {
		o.den = float64(kept)
	}
	if o.den == 0 {
		// mmsegmentation: no pixels at all gives 0; AvgNonIgnore with every
		// pixel ignored divides 0 by 0.
		if o.opt.AvgNonIgnore && len(o.labels) > 0 {
			return tensor.Scalar(float32(math.NaN()))
		}
		return tensor.Scalar(0)
	}
	return tensor.Scalar(float32(sum / o.den))
}

func (o *segCrossEntropyOp) Backward(g *tensor.Tensor) []*tensor.Tensor {
	n, c, inner := tensor.Split3(o.x.Shape(), 1)
	gx := tensor.Zeros(o.x.Shape()...)
	if o.den == 0 {
		return []*tensor.Tensor{gx}
	}
	lp, gxd := o.logp.Data(), gx.Data()
	a := float64(g.Item()) / o.den
	for i := 0; i < n; i++ {
		for j := 0; j < inner; j++ {
			t := o.labels[i*inner+j]
			if o.ignored(t) {
				continue
			}
			base := i*c*inner + j
			wt := a * o.weight(t)
			// d(−w_t log p_t)/dx_k = w_t (p_k − [k = t]).
			for k := 0; k < c; k++ {
				v := wt * math.Exp(float64(lp[base+k*inner]))
				if k == t {
					v -= wt
				}
				gxd[base+k*inner] = float32(v)
			}
		}
	}
	return []*tensor.Tensor{gx}
}
