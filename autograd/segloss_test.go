package autograd

import (
	"math"
	"testing"

	"argus/tensor"
)

// The golden cases (seg_cross_entropy in testdata/golden/segmentation.json)
// hold mmsegmentation's formula computed with PyTorch; these tests cover
// the gradient and the edge cases.

func TestSegCrossEntropyGrad(t *testing.T) {
	labels := []int{0, 2, 255, 1, 255, 0, 1, 2, 2, 255, 0, 1}
	w := tensor.Wrap([]float32{0.5, 2, 1.25}, 3)
	for _, c := range []struct {
		name string
		opt  SegCrossEntropyOptions
	}{
		{"all-pixels", SegCrossEntropyOptions{IgnoreIndex: 255}},
		{"non-ignore", SegCrossEntropyOptions{IgnoreIndex: 255, AvgNonIgnore: true}},
		{"weight", SegCrossEntropyOptions{IgnoreIndex: 255, Weight: w}},
		{"weight-non-ignore", SegCrossEntropyOptions{IgnoreIndex: 255, Weight: w, AvgNonIgnore: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			checkGrad(t, gradCase{name: c.name, inputs: []*tensor.Tensor{randn(7, 2, 3, 2, 3)},
				f: func(x []*Var) *Var { return SegCrossEntropy(x[0], labels, c.opt) }})
		})
	}
}

func TestSegCrossEntropyAveraging(t *testing.T) {
	x := randn(3, 1, 4, 2, 2)
	for _, c := range []struct {
		name   string
		labels []int
		kept   int
	}{
		{"none-ignored", []int{0, 1, 2, 3}, 4},
		{"half-ignored", []int{0, 255, 3, 255}, 2},
		{"negative-ignored", []int{-1, 255, 3, 1}, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			all := SegCrossEntropy(Const(x), c.labels, SegCrossEntropyOptions{IgnoreIndex: 255}).Value().Item()
			non := SegCrossEntropy(Const(x), c.labels, SegCrossEntropyOptions{IgnoreIndex: 255, AvgNonIgnore: true}).Value().Item()
			// Both divide the same sum: by all 4 pixels, by the kept ones.
			if d := math.Abs(float64(all)*4/float64(c.kept) - float64(non)); d > 1e-5 {
				t.Fatalf("over all pixels %v, over the %d kept %v: ratio off by %v", all, c.kept, non, d)
			}
			pt := CrossEntropy(Const(x), c.labels, CrossEntropyOptions{IgnoreIndex: 255}).Value().Item()
			if math.Abs(float64(pt-non)) > 1e-5 {
				t.Fatalf("AvgNonIgnore %v, PyTorch's mean %v", non, pt)
			}
		})
	}
}

func TestSegCrossEntropyAllIgnored(t *testing.T) {
	x := Param(randn(5, 1, 3, 1, 2))
	labels := []int{255, 255}
	loss := SegCrossEntropy(x, labels, SegCrossEntropyOptions{IgnoreIndex: 255})
	if v := loss.Value().Item(); v != 0 {
		t.Fatalf("every pixel ignored, over all pixels: %v, want 0", v)
	}
	loss.Backward()
	for i, g := range x.Grad().Data() {
		if g != 0 {
			t.Fatalf("gradient %d = %v, want 0", i, g)
		}
	}
	if v := SegCrossEntropy(Const(x.Value()), labels, SegCrossEntropyOptions{IgnoreIndex: 255, AvgNonIgnore: true}).Value().Item(); !math.IsNaN(float64(v)) {
		t.Fatalf("every pixel ignored, AvgNonIgnore: %v, want NaN", v)
	}
}
