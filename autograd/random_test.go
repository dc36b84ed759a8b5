package autograd

import (
	"fmt"
	"testing"

	"argus/tensor"
)

// TestGradientsRandomShapes checks broadcasting and reducing ops on seeded
// random shapes of rank 0 to 4 with many size-1 dimensions.
func TestGradientsRandomShapes(t *testing.T) {
	rng := tensor.NewRNG(2024).Rand()
	shape := func(rank int) []int {
		s := make([]int, rank)
		for i := range s {
			s[i] = 1 + rng.IntN(3)
		}
		return s
	}
	// partner returns a shape that broadcasts with s: a suffix of s with
	// some dimensions set to 1.
	partner := func(s []int) []int {
		p := append([]int{}, s[rng.IntN(len(s)+1):]...)
		for i := range p {
			if rng.IntN(2) == 0 {
				p[i] = 1
			}
		}
		return p
	}
	bin := []struct {
		name string
		f    func(a, b *Var) *Var
	}{{"Add", Add}, {"Sub", Sub}, {"Mul", Mul}, {"Div", Div}}
	for i := range 40 {
		s := shape(rng.IntN(5))
		p := partner(s)
		if rng.IntN(2) == 0 {
			s, p = p, s
		}
		op := bin[i%len(bin)]
		b := uniform(uint64(i), 0.5, 1.5, p...)
		checkGrad(t, gradCase{
			name:   fmt.Sprintf("%s%v%v", op.name, s, p),
			inputs: []*tensor.Tensor{randn(uint64(100+i), s...), b},
			f:      func(x []*Var) *Var { return op.f(x[0], x[1]) },
		})
	}
	for i := range 30 {
		s := shape(1 + rng.IntN(4))
		axes := rng.Perm(len(s))[:1+rng.IntN(len(s))]
		keep := rng.IntN(2) == 0
		axis := rng.IntN(len(s)) - len(s)*rng.IntN(2)
		perm := rng.Perm(len(s))
		in := []*tensor.Tensor{randn(uint64(200+i), s...)}
		checkGrad(t, gradCase{name: fmt.Sprintf("SumAxes%v%v", s, axes), inputs: in,
			f: func(x []*Var) *Var { return SumAxes(x[0], keep, axes...) }})
		checkGrad(t, gradCase{name: fmt.Sprintf("MeanAxes%v%v", s, axes), inputs: in,
			f: func(x []*Var) *Var { return MeanAxes(x[0], keep, axes...) }})
		checkGrad(t, gradCase{name: fmt.Sprintf("LogSoftmax%v/%d", s, axis), inputs: in,
			f: func(x []*Var) *Var { return LogSoftmax(x[0], axis) }})
		checkGrad(t, gradCase{name: fmt.Sprintf("Permute%v%v", s, perm), inputs: in,
			f: func(x []*Var) *Var { return Mul(Permute(x[0], perm...), Permute(x[0], perm...)) }})
	}
}

// TestBinaryFastPaths compares the specialised broadcasting loops with the
// general element-wise path on random shape pairs.
func TestBinaryFastPaths(t *testing.T) {
	rng := tensor.NewRNG(7).Rand()
	fs := []func(x, y float32) float32{
		func(x, y float32) float32 { return x + y },
		func(x, y float32) float32 { return x - y },
		func(x, y float32) float32 { return x * y },
		func(x, y float32) float32 { return x / y },
	}
	for i := range 200 {
		s := make([]int, rng.IntN(5))
		for j := range s {
			s[j] = 1 + rng.IntN(3)
		}
		p := append([]int{}, s[rng.IntN(len(s)+1):]...)
		for j := range p {
			if rng.IntN(2) == 0 {
				p[j] = 1
			}
		}
		if rng.IntN(2) == 0 {
			s, p = p, s
		}
		a, b := randn(uint64(i), s...), uniform(uint64(i+500), 0.5, 1.5, p...)
		k := binKind(i % 4)
		got, want := binary(a, b, k), tensor.Binary(a, b, fs[k])
		if !tensor.EqualShapes(got.Shape(), want.Shape()) {
			t.Fatalf("%v op%d %v: shape %v, want %v", s, k, p, got.Shape(), want.Shape())
		}
		for j, v := range want.Data() {
			if got.Data()[j] != v {
				t.Fatalf("%v op%d %v: element %d = %v, want %v", s, k, p, j, got.Data()[j], v)
			}
		}
		if sum := tensor.SumTo(want, p); !tensor.EqualShapes(sum.Shape(), p) {
			t.Fatalf("SumTo shape %v, want %v", sum.Shape(), p)
		}
	}
}

// TestLargeElementwise runs the element-wise ops on tensors big enough to be
// split over goroutines and checks every element.
func TestLargeElementwise(t *testing.T) {
	const n = 5*chunk + 123
	x := Param(randn(1, n))
	h := ReLU(x)
	y := Add(Mul(h, h), Dropout(h, 0.5, true, tensor.NewRNG(2)))
	y.Backward()
	xd, hd, yd, gd := x.Value().Data(), h.Value().Data(), y.Value().Data(), x.Grad().Data()
	for i, v := range xd {
		r := max(v, 0)
		if hd[i] != r {
			t.Fatalf("ReLU[%d] = %v, want %v", i, hd[i], r)
		}
		drop := yd[i] - r*r // 0 or 2r
		var want float32
		if v > 0 {
			want = 2 * r
			if drop != 0 {
				want += 2
			}
		}
		if d := gd[i] - want; d > 1e-5 || d < -1e-5 {
			t.Fatalf("grad[%d] = %v, want %v (x %v, y %v)", i, gd[i], want, v, yd[i])
		}
	}
}
