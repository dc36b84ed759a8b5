package autograd

import (
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
	divide := DivideByAll
	if opt.AvgNonIgnore {
		divide = DivideByCounted
	}
	if opt.IgnoreIndex == 0 {
		// CrossEntropy honours a positive ignore index only; label 0 is
		// then ignored by marking it negative.
		marked := make([]int, len(labels))
		for i, t := range labels {
			if t == 0 {
				t = -1
			}
			marked[i] = t
		}
		labels = marked
	}
	return CrossEntropy(logits, labels, CrossEntropyOptions{Weight: opt.Weight, IgnoreIndex: opt.IgnoreIndex, Divide: divide})
}
