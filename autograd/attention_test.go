package autograd

import (
	"math"
	"testing"

	"argus/tensor"
)

func attentionCases() []gradCase {
	attend := func(scale float32) func(x []*Var) *Var {
		return func(x []*Var) *Var {
			out, _ := Attention(x[0], x[1], x[2], scale)
			return out
		}
	}
	return []gradCase{
		{name: "Attention", f: attend(0.5), inputs: []*tensor.Tensor{randn(40, 2, 3, 4), randn(41, 2, 5, 4), randn(42, 2, 5, 4)}},
		{name: "AttentionHeads", f: attend(0.35), inputs: []*tensor.Tensor{randn(43, 1, 2, 6, 3), randn(44, 1, 2, 6, 3), randn(45, 1, 2, 6, 3)}},
		{name: "DropPath", f: func(x []*Var) *Var { return DropPath(x[0], 0.3, []bool{false, true, true}) },
			inputs: []*tensor.Tensor{randn(46, 3, 2, 2)}},
	}
}

// TestAttentionMatchesComposition checks the fused op and its probabilities
// against the same computation from separate ops, with the gradients of
// every operand, and with only some operands requiring one.
func TestAttentionMatchesComposition(t *testing.T) {
	q, k, v := randn(50, 2, 3, 7, 8), randn(51, 2, 3, 9, 8), randn(52, 2, 3, 9, 8)
	w := randn(53, 2, 3, 7, 8)
	const scale = 0.3
	for _, tc := range []struct {
		name string
		req  [3]bool
	}{{"all", [3]bool{true, true, true}}, {"v only", [3]bool{false, false, true}}, {"q k", [3]bool{true, true, false}}} {
		t.Run(tc.name, func(t *testing.T) {
			mk := func() []*Var {
				vs := []*Var{Const(q.Clone()), Const(k.Clone()), Const(v.Clone())}
				for i, r := range tc.req {
					vs[i].SetRequiresGrad(r)
				}
				return vs
			}
			a, b := mk(), mk()
			got, probs := Attention(a[0], a[1], a[2], scale)
			p := Softmax(BatchMatMul(Scale(b[0], scale), Transpose(b[1], 2, 3)), -1)
			want := BatchMatMul(p, b[2])
			near(t, "output", got.Value().Data(), want.Value().Data())
			near(t, "probabilities", probs.Data(), p.Value().Data())
			got.Backward(WithGrad(w))
			want.Backward(WithGrad(w))
			for i := range a {
				if !tc.req[i] {
					if a[i].Grad() != nil {
						t.Errorf("operand %d has a gradient it does not require", i)
					}
					continue
				}
				near(t, "gradient", a[i].Grad().Data(), b[i].Grad().Data())
			}
		})
	}
}

func near(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i] - want[i])); d > 1e-5+1e-5*math.Abs(float64(want[i])) {
			t.Fatalf("%s[%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

func TestAttentionShapePanics(t *testing.T) {
	for _, tc := range []struct {
		name    string
		q, k, v []int
	}{
		{"width", []int{1, 2, 4}, []int{1, 3, 5}, []int{1, 3, 5}},
		{"batch", []int{2, 2, 4}, []int{1, 3, 4}, []int{1, 3, 4}},
		{"value", []int{1, 2, 4}, []int{1, 3, 4}, []int{1, 2, 4}},
		{"rank", []int{4}, []int{4}, []int{4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			Attention(Const(tensor.Zeros(tc.q...)), Const(tensor.Zeros(tc.k...)), Const(tensor.Zeros(tc.v...)), 1)
		})
	}
}
