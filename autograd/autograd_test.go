package autograd

import (
	"testing"

	"argus/tensor"
)

func TestAddBroadcastBackward(t *testing.T) {
	a := Param(tensor.FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3))
	b := Param(tensor.FromSlice([]float32{10, 20, 30}, 3))
	y := Add(a, b)
	want := []float32{11, 22, 33, 14, 25, 36}
	for i, v := range y.Value().Data() {
		if v != want[i] {
			t.Fatalf("Add = %v, want %v", y.Value().Data(), want)
		}
	}
	y.Backward()
	for _, v := range a.Grad().Data() {
		if v != 1 {
			t.Fatalf("grad a = %v, want ones", a.Grad().Data())
		}
	}
	for _, v := range b.Grad().Data() {
		if v != 2 {
			t.Fatalf("grad b = %v, want twos", b.Grad().Data())
		}
	}
}

func TestGradientAccumulatesAcrossBackward(t *testing.T) {
	a := Param(tensor.FromSlice([]float32{1, 2}, 2))
	for range 3 {
		Add(a, a).Backward()
	}
	for _, v := range a.Grad().Data() {
		if v != 6 {
			t.Fatalf("grad after 3 backward calls = %v, want 6s", a.Grad().Data())
		}
	}
}

func TestNoGradRecordsNothing(t *testing.T) {
	a := Param(tensor.Ones(2))
	var y *Var
	NoGrad([]*Var{a}, func() { y = Add(a, a) })
	if y.RequiresGrad() || !y.IsLeaf() {
		t.Fatal("operation under NoGrad was recorded")
	}
	if !a.RequiresGrad() {
		t.Fatal("NoGrad did not restore the leaf's gradient tracking")
	}
	frozen := Const(tensor.Ones(2))
	NoGrad([]*Var{frozen}, func() {})
	if frozen.RequiresGrad() {
		t.Fatal("NoGrad turned tracking on for a leaf that had it off")
	}
}

// TestNoGradIsScopedToItsLeaves checks that a NoGrad scope in one goroutine
// does not stop another goroutine's training step from recording.
func TestNoGradIsScopedToItsLeaves(t *testing.T) {
	eval := Param(tensor.Ones(64, 64))
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			NoGrad([]*Var{eval}, func() { MatMul(eval, eval) })
		}
	}()
	defer func() { close(stop); <-done }()
	for i := range 200 {
		w := Param(tensor.FromSlice([]float32{1, 2, 3}, 3))
		y := Sum(Mul(w, w))
		y.Backward()
		if g := w.Grad(); g == nil || g.Data()[0] != 2 || g.Data()[1] != 4 || g.Data()[2] != 6 {
			t.Fatalf("step %d: gradient %v while another goroutine evaluates, want [2 4 6]", i, g)
		}
	}
}

func TestBackwardFreesGraph(t *testing.T) {
	a := Param(tensor.Ones(2, 2))
	y := MatMul(a, a)
	y.Backward()
	if !y.IsLeaf() {
		t.Fatal("graph kept after Backward without RetainGraph")
	}
	z := MatMul(a, a)
	z.Backward(RetainGraph())
	if z.IsLeaf() {
		t.Fatal("graph released despite RetainGraph")
	}
}

func TestLeafGradientsDoNotAlias(t *testing.T) {
	a, b := Param(tensor.Ones(3)), Param(tensor.Ones(3))
	for range 2 {
		// Add hands the same output gradient to both operands.
		Add(a, Reshape(b, 3)).Backward()
	}
	a.Grad().Data()[0] = 100
	for i, v := range b.Grad().Data() {
		if v != 2 {
			t.Fatalf("b.Grad()[%d] = %v after changing a's gradient, want 2", i, v)
		}
	}
}

func TestFanInSumsGradients(t *testing.T) {
	x := Param(tensor.FromSlice([]float32{1, 2}))
	h := Scale(x, 3)
	// h feeds two consumers; its pending gradient is the sum of both.
	Add(Mul(h, h), h).Backward()
	want := []float32{3 * (2*3*1 + 1), 3 * (2*3*2 + 1)}
	for i, v := range x.Grad().Data() {
		if v != want[i] {
			t.Fatalf("grad = %v, want %v", x.Grad().Data(), want)
		}
	}
}

func TestBackwardThroughReleasedGraphPanics(t *testing.T) {
	a := Param(tensor.Ones(2))
	h := Scale(a, 2)
	Sum(h).Backward()
	defer func() {
		if r := recover(); r == nil {
			t.Fatal("second Backward through a released graph did not panic")
		}
	}()
	Sum(Mul(h, h)).Backward()
}

func TestRetainGraphAllowsSecondBackward(t *testing.T) {
	a := Param(tensor.Ones(2))
	h := Scale(a, 2)
	Sum(h).Backward(RetainGraph())
	Sum(Mul(h, h)).Backward()
	// 2 from the first pass plus d(sum 4a²)/da = 8a = 8.
	for _, v := range a.Grad().Data() {
		if v != 10 {
			t.Fatalf("grad = %v, want 10s", a.Grad().Data())
		}
	}
}

func TestOnLeafGradReportsCompleteGradients(t *testing.T) {
	// a reaches the loss by two paths, the second through b's layer, so
	// its gradient is complete only after b's; c requires no gradient.
	a := Param(tensor.FromSlice([]float32{1, 2}, 2))
	b := Param(tensor.FromSlice([]float32{3, 4}, 2))
	c := Const(tensor.FromSlice([]float32{5, 6}, 2))
	h := Mul(a, c)
	loss := Add(Sum(Mul(h, b)), Sum(Mul(a, a)))
	var order []*Var
	seen := map[*Var][]float32{}
	loss.Backward(OnLeafGrad(func(v *Var) {
		order = append(order, v)
		seen[v] = v.Grad().Clone().Data()
	}))
	if len(order) != 2 || order[0] != b || order[1] != a {
		t.Fatalf("leaves reported %v, want b then a (%p, %p)", order, b, a)
	}
	for _, v := range []*Var{a, b} {
		for i, g := range v.Grad().Data() {
			if seen[v][i] != g {
				t.Fatalf("gradient at report %v, final %v", seen[v], v.Grad().Data())
			}
		}
	}
	// d(loss)/da = c·b + 2a, d(loss)/db = a·c.
	for i, want := range []float32{5*3 + 2, 6*4 + 4} {
		if a.Grad().Data()[i] != want {
			t.Fatalf("grad a = %v", a.Grad().Data())
		}
	}
}
