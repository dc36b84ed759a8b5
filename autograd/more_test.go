package autograd

import (
	"slices"
	"testing"

	"argus/tensor"
)

func moreCases() []gradCase {
	one := func(name string, in *tensor.Tensor, f func(*Var) *Var) gradCase {
		return gradCase{name: name, inputs: []*tensor.Tensor{in}, f: func(x []*Var) *Var { return f(x[0]) }}
	}
	two := func(name string, a, b *tensor.Tensor, f func(a, b *Var) *Var) gradCase {
		return gradCase{name: name, inputs: []*tensor.Tensor{a, b}, f: func(x []*Var) *Var { return f(x[0], x[1]) }}
	}
	idx := tensor.Make[int32](2, 2, 3)
	for i := range idx.Data() {
		idx.Data()[i] = int32((i * 7) % 4)
	}
	mask := []bool{true, false, false, true, true, false, true, true, false, false, true, false}
	tgt := tensor.FromSlice([]float32{1, 0, 0, 1, 0.3, 1, 0, 0, 1, 0, 1, 0}, 3, 4)
	return []gradCase{
		one("Slice", randn(80, 3, 5, 2), func(x *Var) *Var { return Slice(x, 1, 1, 4) }),
		one("Split", randn(81, 4, 5), func(x *Var) *Var {
			p := Split(x, 1, 2, 0, 3)
			return Concat([]*Var{Scale(p[2], 2), p[0], p[1]}, 1)
		}),
		two("Concat", randn(82, 2, 3, 2), randn(83, 2, 1, 2), func(a, b *Var) *Var { return Concat([]*Var{a, b, a}, 1) }),
		two("Stack", randn(84, 2, 3), randn(85, 2, 3), func(a, b *Var) *Var { return Stack([]*Var{a, b}, 1) }),
		one("IndexSelect", randn(86, 3, 4), func(x *Var) *Var { return IndexSelect(x, 1, []int{3, 0, 3}) }),
		one("Gather", randn(87, 2, 4, 3), func(x *Var) *Var { return Gather(x, 1, idx) }),
		two("Where", randn(88, 3, 4), randn(89, 4), func(a, b *Var) *Var { return Where(mask, a, b) }),
		one("MaskedFill", randn(90, 3, 4), func(x *Var) *Var { return MaskedFill(x, mask, -1e9) }),
		one("Embedding", randn(91, 5, 3), func(w *Var) *Var { return Embedding(w, []int{4, 1, 1, 0}, 2, 2) }),
		one("Max", distinct(92, 2, 5, 3), func(x *Var) *Var { v, _ := Max(x, 1, false); return v }),
		one("Max/keep", distinct(93, 3, 4), func(x *Var) *Var { v, _ := Max(x, -1, true); return v }),
		one("TopK", distinct(94, 2, 6), func(x *Var) *Var { v, _ := TopK(x, 3, 1, true); return v }),
		one("TopK/smallest", distinct(95, 5, 2), func(x *Var) *Var { v, _ := TopK(x, 2, 0, false); return v }),
		one("ResizeBilinear", randn(96, 1, 2, 3, 4), func(x *Var) *Var { return ResizeBilinear(x, 5, 7, false) }),
		one("ResizeBilinear/down", randn(97, 1, 1, 6, 5), func(x *Var) *Var { return ResizeBilinear(x, 4, 2, false) }),
		one("ResizeBilinear/align", randn(98, 2, 1, 3, 3), func(x *Var) *Var { return ResizeBilinear(x, 5, 4, true) }),
		one("ResizeNearest", randn(120, 1, 2, 3, 4), func(x *Var) *Var { return ResizeNearest(x, 6, 8) }),
		one("ResizeNearest/odd", randn(121, 2, 1, 5, 3), func(x *Var) *Var { return ResizeNearest(x, 3, 7) }),
		two("L1Loss", randn(99, 3, 4), awayFrom(100, nil, 0, 3, 4), func(a, b *Var) *Var { return L1Loss(a, b, ReduceMean) }),
		two("MSELoss", randn(101, 3, 4), randn(102, 3, 4), func(a, b *Var) *Var { return MSELoss(a, b, ReduceSum) }),
		two("SmoothL1Loss", randn(103, 3, 4), randn(104, 3, 4), func(a, b *Var) *Var { return SmoothL1Loss(a, b, 0.5, ReduceNone) }),
		one("BCEWithLogits", randn(105, 3, 4), func(x *Var) *Var {
			return BCEWithLogits(x, tgt, BCEOptions{Weight: uniform(106, 0.5, 1.5, 4), PosWeight: tensor.FromSlice([]float32{1, 2, 0.5, 3})})
		}),
		one("SigmoidFocalLoss", randn(107, 3, 4), func(x *Var) *Var { return SigmoidFocalLoss(x, tgt, 0.25, 2, ReduceSum) }),
		one("SigmoidFocalLoss/gamma", randn(108, 3, 4), func(x *Var) *Var { return SigmoidFocalLoss(x, tgt, -1, 1.5, ReduceNone) }),
	}
}

func TestTopKIndices(t *testing.T) {
	x := Const(tensor.FromSlice([]float32{3, 1, 4, 1, 5, 9, 2, 6}, 2, 4))
	v, idx := TopK(x, 2, 1, true)
	if want := []int{2, 0, 1, 3}; !slices.Equal(idx, want) {
		t.Errorf("TopK indices = %v, want %v", idx, want)
	}
	if want := []float32{4, 3, 9, 6}; !slices.Equal(v.Value().Data(), want) {
		t.Errorf("TopK values = %v, want %v", v.Value().Data(), want)
	}
	if got := Argmax(x.Value(), 0); !slices.Equal(got, []int{1, 1, 0, 1}) {
		t.Errorf("Argmax = %v", got)
	}
	m, mi := Max(x, 1, false)
	if !slices.Equal(mi, []int{2, 1}) || !slices.Equal(m.Value().Data(), []float32{4, 9}) || len(m.Shape()) != 1 {
		t.Errorf("Max = %v %v", m.Value(), mi)
	}
}
