package dcal

import (
	"math"
	"testing"

	"argus/autograd"
	"argus/tensor"
)

func TestUncertainty(t *testing.T) {
	s := autograd.Param(tensor.Wrap([]float32{0, 1, -0.5}, 3))
	losses := []*autograd.Var{autograd.Param(tensor.Scalar(2)), autograd.Param(tensor.Scalar(3)), autograd.Param(tensor.Scalar(0.5))}
	terms := Uncertainty(losses, s)
	total := autograd.Add(autograd.Add(terms[0], terms[1]), terms[2])
	total.Backward()
	for i, sv := range []float64{0, 1, -0.5} {
		l := []float64{2, 3, 0.5}[i]
		want := 0.5 * (math.Exp(-sv)*l + sv)
		if got := float64(terms[i].Value().Item()); math.Abs(got-want) > 1e-6 {
			t.Errorf("term %d = %v, want %v", i, got, want)
		}
		// d/ds = 0.5·(1 − exp(−s)·L), d/dL = 0.5·exp(−s).
		if got, want := float64(s.Grad().Data()[i]), 0.5*(1-math.Exp(-sv)*l); math.Abs(got-want) > 1e-6 {
			t.Errorf("ds_%d = %v, want %v", i, got, want)
		}
		if got, want := float64(losses[i].Grad().Item()), 0.5*math.Exp(-sv); math.Abs(got-want) > 1e-6 {
			t.Errorf("dL_%d = %v, want %v", i, got, want)
		}
	}
}

func TestPartners(t *testing.T) {
	for _, n := range []int{1, 2, 5, 16} {
		p := Partners(tensor.NewRNG(uint64(n)), n)
		for i, j := range p {
			if j < 0 || j >= n || (n > 1 && j == i) {
				t.Fatalf("n %d: partners %v", n, p)
			}
		}
	}
	a, b := Partners(tensor.NewRNG(3), 8), Partners(tensor.NewRNG(3), 8)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("the same seed drew %v and %v", a, b)
		}
	}
}

func TestQueries(t *testing.T) {
	for _, c := range []struct {
		patches int
		ratio   float64
		want    int
	}{{196, 0.1, 20}, {784, 0.1, 78}, {128, 0.3, 38}, {4, 0.1, 1}, {9, 1, 9}} {
		if got := Queries(c.patches, c.ratio); got != c.want {
			t.Errorf("Queries(%d, %v) = %d, want %d", c.patches, c.ratio, got, c.want)
		}
	}
}
