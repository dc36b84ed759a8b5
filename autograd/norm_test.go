package autograd

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"argus/tensor"
)

// A batch of one on a 1×1 map (PSPNet's bin-1 branch) leaves one value per
// channel: training-mode batch norm must refuse it, naming the shape, as
// PyTorch does, rather than return NaN; evaluation uses the running
// statistics and is fine.
func TestBatchNorm2dOneValuePerChannel(t *testing.T) {
	for _, c := range []struct {
		name     string
		shape    []int
		training bool
		panics   bool
	}{
		{"train-1x1-batch1", []int{1, 4, 1, 1}, true, true},
		{"train-2d-batch1", []int{1, 4}, true, true},
		{"eval-1x1-batch1", []int{1, 4, 1, 1}, false, false},
		{"train-1x1-batch2", []int{2, 4, 1, 1}, true, false},
		{"train-2x1-batch1", []int{1, 4, 2, 1}, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			x := Param(randn(6, c.shape...))
			rm, rv := tensor.Zeros(4), tensor.Ones(4)
			var msg string
			var y *Var
			func() {
				defer func() { msg, _ = recover().(string) }()
				y = BatchNorm2d(x, Param(tensor.Ones(4)), Param(tensor.Zeros(4)), rm, rv, BatchNormOptions{Training: c.training, Momentum: 0.1})
			}()
			if c.panics {
				want := fmt.Sprintf("got input %v", c.shape)
				if !strings.Contains(msg, "more than one value per channel") || !strings.Contains(msg, want) {
					t.Fatalf("panic %q, want one about one value per channel naming %v", msg, c.shape)
				}
				return
			}
			if msg != "" {
				t.Fatalf("unexpected panic %q", msg)
			}
			for i, v := range y.Value().Data() {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("element %d = %v", i, v)
				}
			}
		})
	}
}
