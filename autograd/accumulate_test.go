package autograd

import (
	"testing"

	"argus/tensor"
)

// TestSharedParameterGradients checks the gradients of a weight and an
// input that several ops use (convolutions and linear layers, whose
// fresh gradients are summed in place): each is the sum of its uses', and
// no gradient tensor is shared between Vars.
func TestSharedParameterGradients(t *testing.T) {
	rng := tensor.NewRNG(3)
	w := Param(rng.Uniform(-1, 1, 4, 3, 3, 3))
	lw := Param(rng.Uniform(-1, 1, 5, 4))
	xs := []*tensor.Tensor{rng.Uniform(-1, 1, 1, 3, 6, 6), rng.Uniform(-1, 1, 1, 3, 5, 5), rng.Uniform(-1, 1, 1, 3, 4, 4)}
	opt := Conv2dOptions{Padding: []int{1, 1}}
	// Reference: each use on its own, gradients added by hand.
	wantW := tensor.Zeros(w.Shape()...)
	wantL := tensor.Zeros(lw.Shape()...)
	for _, x := range xs {
		w.ZeroGrad()
		lw.ZeroGrad()
		y := Conv2d(Const(x), w, nil, opt)
		s := y.Shape()
		Sum(Linear(Reshape(Permute(y, 0, 2, 3, 1), s[2]*s[3], 4), lw, nil)).Backward()
		addTo(wantW.Data(), w.Grad().Data())
		addTo(wantL.Data(), lw.Grad().Data())
	}
	w.ZeroGrad()
	lw.ZeroGrad()
	var total *Var
	var mids []*Var
	for _, x := range xs {
		y := Conv2d(Const(x), w, nil, opt)
		mids = append(mids, y)
		s := y.Shape()
		term := Sum(Linear(Reshape(Permute(y, 0, 2, 3, 1), s[2]*s[3], 4), lw, nil))
		if total == nil {
			total = term
		} else {
			total = Add(total, term)
		}
	}
	total.Backward()
	for name, c := range map[string][2]*tensor.Tensor{"conv weight": {w.Grad(), wantW}, "linear weight": {lw.Grad(), wantL}} {
		for i, v := range c[1].Data() {
			if d := c[0].Data()[i] - v; d > 1e-4 || d < -1e-4 {
				t.Fatalf("%s gradient %d: %v, want %v", name, i, c[0].Data()[i], v)
			}
		}
	}
	seen := map[*float32]bool{}
	for _, v := range append([]*Var{w, lw}, mids...) {
		p := &v.Grad().Data()[0]
		if seen[p] {
			t.Fatal("two Vars share a gradient tensor")
		}
		seen[p] = true
	}
}
