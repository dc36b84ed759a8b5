package dcal

import (
	"math"
	"testing"

	"argus/tensor"
)

// TestRolloutHandComputed checks a two-block, two-head rollout of three
// tokens worked out by hand.
//
// Block 1, heads averaged:            Ā₁ = 0.5·M₁ + 0.5·I:
//
//	M₁ = [.5 .3 .2; .1 .8 .1; .2 .2 .6]   [.75 .15 .1; .05 .9 .05; .1 .1 .8]
//
// Block 2, heads averaged, and Ā₂:
//
//	M₂ = [.2 .4 .4; .3 .3 .4; .5 .25 .25] [.6 .2 .2; .15 .65 .2; .25 .125 .625]
//
// Row 0 of Ā₂·Ā₁: [.6·.75+.2·.05+.2·.1, .6·.15+.2·.9+.2·.1, .6·.1+.2·.05+.2·.8]
// = [.48, .29, .23]; the patch columns are [.29, .23].
func TestRolloutHandComputed(t *testing.T) {
	// Each block's two heads differ but average to M_i.
	b1 := []float32{
		.6, .2, .2, .2, .7, .1, .1, .3, .6, // head 0
		.4, .4, .2, 0, .9, .1, .3, .1, .6, // head 1
	}
	b2 := []float32{
		.2, .4, .4, .3, .3, .4, .5, .25, .25,
		.2, .4, .4, .3, .3, .4, .5, .25, .25,
	}
	cases := []struct {
		name   string
		blocks [][]float32
		want   []float32
	}{
		{"two blocks", [][]float32{b1, b2}, []float32{.29, .23}},
		// One block: row 0 of Ā₁ = [.75, .15, .1].
		{"one block", [][]float32{b1}, []float32{.15, .1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var attn []*tensor.Tensor
			for _, b := range c.blocks {
				// Two images: the second repeats the first.
				attn = append(attn, tensor.Wrap(append(append([]float32{}, b...), b...), 2, 2, 3, 3))
			}
			got := Rollout(attn)
			if !tensor.EqualShapes(got.Shape(), []int{2, 2}) {
				t.Fatalf("shape %v, want [2 2]", got.Shape())
			}
			for i, g := range got.Data() {
				if w := c.want[i%2]; math.Abs(float64(g-w)) > 1e-6 {
					t.Errorf("rollout[%d] = %v, want %v", i, g, w)
				}
			}
		})
	}
}

func TestRolloutPanics(t *testing.T) {
	for _, c := range []struct {
		name string
		attn []*tensor.Tensor
	}{
		{"none", nil},
		{"not square", []*tensor.Tensor{tensor.Zeros(1, 1, 3, 4)}},
		{"mixed", []*tensor.Tensor{tensor.Zeros(1, 1, 3, 3), tensor.Zeros(1, 2, 3, 3)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			Rollout(c.attn)
		})
	}
}
