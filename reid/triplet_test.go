package reid

import (
	"math"
	"testing"

	"argus/autograd"
	"argus/tensor"
)

func TestBatchHardTripletValue(t *testing.T) {
	// Points on a line: labels 0 at 0 and 1, label 1 at 3 and 5.
	x := autograd.Param(tensor.FromSlice([]float32{0, 1, 3, 5}, 4, 1))
	loss, st, err := BatchHardTriplet(x, []int{0, 0, 1, 1}, 0.3)
	if err != nil {
		t.Fatal(err)
	}
	// Anchor 0: ap 1, an 3 → 0; anchor 1: ap 1, an 2 → 0; anchor 2: ap 2,
	// an 2 → 0.3; anchor 3: ap 2, an 4 → 0.
	if got := float64(loss.Value().Item()); math.Abs(got-0.3/4) > 1e-6 {
		t.Errorf("loss %v, want %v", got, 0.3/4)
	}
	if st.Active != 1 {
		t.Errorf("active %d, want 1", st.Active)
	}
	if _, _, err := BatchHardTriplet(x, []int{0, 0, 0, 0}, 0.3); err == nil {
		t.Error("one label: no error")
	}
}

// TestBatchHardTripletGradient checks the gradient against central
// differences at a point where no hard example is tied.
func TestBatchHardTripletGradient(t *testing.T) {
	rng := tensor.NewRNG(3)
	n, d := 8, 5
	xv := rng.Normal(0, 1, n, d)
	labels := []int{0, 0, 1, 1, 2, 2, 3, 3}
	x := autograd.Param(xv)
	loss, st, err := BatchHardTriplet(x, labels, 2)
	if err != nil {
		t.Fatal(err)
	}
	if st.Active == 0 {
		t.Fatal("no active anchor: the check tests nothing")
	}
	loss.Backward()
	g := x.Grad().Data()
	f := func() float64 {
		l, _, _ := BatchHardTriplet(autograd.Const(xv), labels, 2)
		return float64(l.Value().Item())
	}
	const h = 1e-3
	for i := range xv.Data() {
		old := xv.Data()[i]
		xv.Data()[i] = old + h
		up := f()
		xv.Data()[i] = old - h
		down := f()
		xv.Data()[i] = old
		num := (up - down) / (2 * h)
		if math.Abs(num-float64(g[i])) > 2e-3+2e-2*math.Abs(num) {
			t.Errorf("grad[%d] = %v, numeric %v", i, g[i], num)
		}
	}
}

func TestL2NormalizeGradient(t *testing.T) {
	rng := tensor.NewRNG(5)
	xv := rng.Normal(0, 1, 3, 4)
	w := rng.Normal(0, 1, 3, 4)
	x := autograd.Param(xv)
	autograd.Sum(autograd.Mul(L2Normalize(x), autograd.Const(w))).Backward()
	g := x.Grad().Data()
	f := func() float64 {
		y := L2Normalize(autograd.Const(xv)).Value().Data()
		var s float64
		for i, v := range y {
			s += float64(v * w.Data()[i])
		}
		return s
	}
	const h = 1e-3
	for i := range xv.Data() {
		old := xv.Data()[i]
		xv.Data()[i] = old + h
		up := f()
		xv.Data()[i] = old - h
		down := f()
		xv.Data()[i] = old
		if num := (up - down) / (2 * h); math.Abs(num-float64(g[i])) > 1e-3+1e-2*math.Abs(num) {
			t.Errorf("grad[%d] = %v, numeric %v", i, g[i], num)
		}
	}
}
