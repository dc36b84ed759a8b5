package tensor

import (
	"slices"
	"testing"
)

func TestBroadcastShapes(t *testing.T) {
	cases := []struct {
		a, b, want []int
		ok         bool
	}{
		{[]int{2, 3}, []int{3}, []int{2, 3}, true},
		{[]int{2, 1, 4}, []int{3, 1}, []int{2, 3, 4}, true},
		{[]int{}, []int{2, 2}, []int{2, 2}, true},
		{[]int{0, 1}, []int{1, 5}, []int{0, 5}, true},
		{[]int{2, 3}, []int{4}, nil, false},
	}
	for _, c := range cases {
		got, err := BroadcastShapes(c.a, c.b)
		if (err == nil) != c.ok || (c.ok && !slices.Equal(got, c.want)) {
			t.Errorf("BroadcastShapes(%v, %v) = %v, %v; want %v", c.a, c.b, got, err, c.want)
		}
	}
}

func TestBinarySumToBroadcastTo(t *testing.T) {
	a := FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	b := FromSlice([]float32{10, 20}, 2, 1)
	got := Binary(a, b, func(x, y float32) float32 { return x + y })
	if want := []float32{11, 12, 13, 24, 25, 26}; !slices.Equal(got.Data(), want) {
		t.Fatalf("Binary = %v, want %v", got.Data(), want)
	}
	if s := SumTo(a, []int{2, 1}); !slices.Equal(s.Data(), []float32{6, 15}) {
		t.Errorf("SumTo rows = %v", s.Data())
	}
	if s := SumTo(a, []int{3}); !slices.Equal(s.Data(), []float32{5, 7, 9}) {
		t.Errorf("SumTo columns = %v", s.Data())
	}
	bt := BroadcastTo(b, []int{2, 2, 3})
	if want := []float32{10, 10, 10, 20, 20, 20, 10, 10, 10, 20, 20, 20}; !slices.Equal(bt.Data(), want) {
		t.Errorf("BroadcastTo = %v, want %v", bt.Data(), want)
	}
}

func TestPermute(t *testing.T) {
	x := Zeros(2, 3, 4)
	for i := range x.Data() {
		x.Data()[i] = float32(i)
	}
	p := Permute(x, 2, 0, 1)
	if !slices.Equal(p.Shape(), []int{4, 2, 3}) {
		t.Fatalf("shape %v", p.Shape())
	}
	for i := range 2 {
		for j := range 3 {
			for k := range 4 {
				if p.At(k, i, j) != x.At(i, j, k) {
					t.Fatalf("Permute(%d,%d,%d) = %v, want %v", k, i, j, p.At(k, i, j), x.At(i, j, k))
				}
			}
		}
	}
	if back := Permute(p, 1, 2, 0); !slices.Equal(back.Data(), x.Data()) {
		t.Fatal("inverse permutation does not restore the tensor")
	}
}

func TestInferShape(t *testing.T) {
	if s, err := InferShape(12, []int{3, -1}); err != nil || !slices.Equal(s, []int{3, 4}) {
		t.Errorf("InferShape = %v, %v", s, err)
	}
	for _, bad := range [][]int{{5, -1}, {-1, -1}, {2, 2}, {-2, 6}} {
		if _, err := InferShape(12, bad); err == nil {
			t.Errorf("InferShape(12, %v) accepted", bad)
		}
	}
}

func TestRNGDeterministic(t *testing.T) {
	a, b := NewRNG(7).Normal(0, 1, 5), NewRNG(7).Normal(0, 1, 5)
	if !slices.Equal(a.Data(), b.Data()) {
		t.Fatal("same seed gave different draws")
	}
	g := NewRNG(3)
	g.Uniform(0, 1, 4)
	state, err := g.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	want := g.Uniform(0, 1, 4)
	h := NewRNG(99)
	if err := h.UnmarshalBinary(state); err != nil {
		t.Fatal(err)
	}
	if got := h.Uniform(0, 1, 4); !slices.Equal(got.Data(), want.Data()) {
		t.Fatal("restored generator diverged")
	}
}

func TestSplit3NormAxis(t *testing.T) {
	o, n, i := Split3([]int{2, 3, 4, 5}, 2)
	if o != 6 || n != 4 || i != 5 {
		t.Errorf("Split3 = %d %d %d", o, n, i)
	}
	if NormAxis(-1, 3) != 2 {
		t.Error("NormAxis(-1, 3) != 2")
	}
	defer func() {
		if recover() == nil {
			t.Error("NormAxis(3, 3) did not panic")
		}
	}()
	NormAxis(3, 3)
}

// TestSumToRandom checks SumTo against summation by multi-index on random
// shape pairs, and BroadcastTo as its adjoint.
func TestSumToRandom(t *testing.T) {
	r := NewRNG(5).Rand()
	for range 200 {
		big := make([]int, r.IntN(5))
		for i := range big {
			big[i] = 1 + r.IntN(3)
		}
		small := append([]int{}, big[r.IntN(len(big)+1):]...)
		for i := range small {
			if r.IntN(2) == 0 {
				small[i] = 1
			}
		}
		x := NewRNG(uint64(r.IntN(1000))).Normal(0, 1, big...)
		got := SumTo(x, small)
		want := Zeros(small...)
		idx := make([]int, len(big))
		for _, v := range x.Data() {
			off := 0
			for j, d := range small {
				i := idx[len(big)-len(small)+j]
				if d == 1 {
					i = 0
				}
				off = off*d + i
			}
			want.Data()[off] += v
			for d := len(big) - 1; d >= 0; d-- {
				idx[d]++
				if idx[d] < big[d] {
					break
				}
				idx[d] = 0
			}
		}
		for i, v := range want.Data() {
			if d := got.Data()[i] - v; d > 1e-4 || d < -1e-4 {
				t.Fatalf("SumTo(%v -> %v)[%d] = %v, want %v", big, small, i, got.Data()[i], v)
			}
		}
		b := BroadcastTo(want, big)
		if !EqualShapes(b.Shape(), big) {
			t.Fatalf("BroadcastTo shape %v, want %v", b.Shape(), big)
		}
	}
}

func TestBroadcastToMatchesBinary(t *testing.T) {
	r := NewRNG(6).Rand()
	for range 100 {
		big := make([]int, r.IntN(5))
		for i := range big {
			big[i] = 1 + r.IntN(3)
		}
		small := append([]int{}, big[r.IntN(len(big)+1):]...)
		for i := range small {
			if r.IntN(2) == 0 {
				small[i] = 1
			}
		}
		x := NewRNG(uint64(r.IntN(1000))).Normal(0, 1, small...)
		got := BroadcastTo(x, big)
		want := Binary(Zeros(big...), x, func(_, y float32) float32 { return y })
		if !slices.Equal(got.Data(), want.Data()) {
			t.Fatalf("BroadcastTo(%v -> %v) = %v, want %v", small, big, got.Data(), want.Data())
		}
	}
}

func TestNarrowIsAView(t *testing.T) {
	x := Zeros(4, 2, 3)
	for i := range x.Data() {
		x.Data()[i] = float32(i)
	}
	v := x.Narrow(1, 3)
	if !slices.Equal(v.Shape(), []int{2, 2, 3}) || v.At(0, 0, 0) != 6 || v.At(1, 1, 2) != 17 {
		t.Fatalf("Narrow = %v", v)
	}
	v.Set(-1, 0, 0, 0)
	if x.At(1, 0, 0) != -1 {
		t.Fatal("Narrow copied instead of sharing storage")
	}
	if e := x.Narrow(2, 2); e.Len() != 0 || e.Dim(0) != 0 {
		t.Fatalf("empty Narrow = %v", e.Shape())
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Narrow past the end did not panic")
		}
	}()
	x.Narrow(3, 5)
}
