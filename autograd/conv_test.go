package autograd

import (
	"math"
	"testing"

	"argus/tensor"
)

// naiveConv2d is the direct definition of a grouped, strided, padded and
// dilated cross-correlation.
func naiveConv2d(x, w *tensor.Tensor, opt Conv2dOptions) *tensor.Tensor {
	st, pd, dl := pairOr(opt.Stride, 1), pairOr(opt.Padding, 0), pairOr(opt.Dilation, 1)
	pe := pd
	if opt.PadEnd != nil {
		pe = pairOr(opt.PadEnd, 0)
	}
	groups := max(opt.Groups, 1)
	xs, ws := x.Shape(), w.Shape()
	n, h, wd := xs[0], xs[2], xs[3]
	cout, cinG, kh, kw := ws[0], ws[1], ws[2], ws[3]
	coutG := cout / groups
	oh := (h+pd[0]+pe[0]-dl[0]*(kh-1)-1)/st[0] + 1
	ow := (wd+pd[1]+pe[1]-dl[1]*(kw-1)-1)/st[1] + 1
	out := tensor.Zeros(n, cout, oh, ow)
	for b := 0; b < n; b++ {
		for oc := 0; oc < cout; oc++ {
			g := oc / coutG
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					var s float64
					for ic := 0; ic < cinG; ic++ {
						for ky := 0; ky < kh; ky++ {
							for kx := 0; kx < kw; kx++ {
								y := oy*st[0] - pd[0] + ky*dl[0]
								xx := ox*st[1] - pd[1] + kx*dl[1]
								if y < 0 || y >= h || xx < 0 || xx >= wd {
									continue
								}
								s += float64(x.At(b, g*cinG+ic, y, xx)) * float64(w.At(oc, ic, ky, kx))
							}
						}
					}
					out.Set(float32(s), b, oc, oy, ox)
				}
			}
		}
	}
	return out
}

// pairOr returns the two values of v, or def twice when v is nil.
func pairOr(v []int, def int) [2]int {
	if v == nil {
		return [2]int{def, def}
	}
	return [2]int(v)
}

// TestConvRandomGeometries compares Conv2d with the direct definition, and
// ConvTranspose2d with the adjoint of Conv2d, on random geometries.
func TestConvRandomGeometries(t *testing.T) {
	r := tensor.NewRNG(11).Rand()
	adjoint := 0
	for i := range 60 {
		groups := 1 + r.IntN(3)
		cinG, coutG := 1+r.IntN(3), 1+r.IntN(3)
		kh, kw := 1+r.IntN(3), 1+r.IntN(3)
		opt := Conv2dOptions{
			Stride:   []int{1 + r.IntN(3), 1 + r.IntN(3)},
			Padding:  []int{r.IntN(3), r.IntN(3)},
			Dilation: []int{1 + r.IntN(2), 1 + r.IntN(2)},
			Groups:   groups,
		}
		if i%3 == 0 {
			opt.PadEnd = []int{r.IntN(3), r.IntN(3)}
		}
		h := opt.Dilation[0]*(kh-1) + 1 + r.IntN(5)
		w := opt.Dilation[1]*(kw-1) + 1 + r.IntN(5)
		x := randn(uint64(i), 1+r.IntN(2), cinG*groups, h, w)
		wt := randn(uint64(i+100), coutG*groups, cinG, kh, kw)
		got := Conv2d(Const(x), Const(wt), nil, opt).Value()
		want := naiveConv2d(x, wt, opt)
		if !tensor.EqualShapes(got.Shape(), want.Shape()) {
			t.Fatalf("case %d %+v: shape %v, want %v", i, opt, got.Shape(), want.Shape())
		}
		for j, v := range want.Data() {
			if math.Abs(float64(got.Data()[j]-v)) > 1e-4*(1+math.Abs(float64(v))) {
				t.Fatalf("case %d %+v: element %d = %v, want %v", i, opt, j, got.Data()[j], v)
			}
		}
		// ConvTranspose2d with the same weights (read as Cin×Cout/G) is
		// the adjoint: <conv(x), y> = <x, convT(y)>, with the output
		// padding that restores x's size; its padding is symmetric.
		if opt.PadEnd != nil {
			continue
		}
		oh, ow := want.Dim(2), want.Dim(3)
		op := [2]int{
			h - ((oh-1)*opt.Stride[0] - 2*opt.Padding[0] + opt.Dilation[0]*(kh-1) + 1),
			w - ((ow-1)*opt.Stride[1] - 2*opt.Padding[1] + opt.Dilation[1]*(kw-1) + 1),
		}
		if op[0] >= opt.Stride[0] || op[1] >= opt.Stride[1] {
			continue
		}
		y := randn(uint64(i+200), want.Shape()...)
		back := ConvTranspose2d(Const(y), Const(wt), nil, ConvTranspose2dOptions{
			Stride: [2]int(opt.Stride), Padding: [2]int(opt.Padding), OutputPadding: op, Dilation: [2]int(opt.Dilation), Groups: groups}).Value()
		if !tensor.EqualShapes(back.Shape(), x.Shape()) {
			t.Fatalf("case %d: ConvTranspose2d shape %v, want %v", i, back.Shape(), x.Shape())
		}
		var lhs, rhs float64
		for j, v := range want.Data() {
			lhs += float64(v) * float64(y.Data()[j])
		}
		for j, v := range x.Data() {
			rhs += float64(v) * float64(back.Data()[j])
		}
		if math.Abs(lhs-rhs) > 1e-3*(1+math.Abs(lhs)) {
			t.Fatalf("case %d: <conv(x), y> = %v, <x, convT(y)> = %v", i, lhs, rhs)
		}
		adjoint++
	}
	if adjoint < 20 {
		t.Fatalf("only %d geometries reached the adjoint check", adjoint)
	}
}

// checkConvBilinear checks Conv2d's value against the direct definition
// and its gradients through bilinearity: with the output gradient y,
// <gx, dx> = <y, conv(dx, w)> and <gw, dw> = <y, conv(x, dw)>.
func checkConvBilinear(t *testing.T, name string, x, w *tensor.Tensor, opt Conv2dOptions, seed uint64) {
	t.Helper()
	xv, wv := Param(x), Param(w)
	out := Conv2d(xv, wv, nil, opt)
	want := naiveConv2d(x, w, opt)
	for j, v := range want.Data() {
		if math.Abs(float64(out.Value().Data()[j]-v)) > 1e-4*(1+math.Abs(float64(v))) {
			t.Fatalf("%s: element %d = %v, want %v", name, j, out.Value().Data()[j], v)
		}
	}
	y := randn(seed, want.Shape()...)
	out.Backward(WithGrad(y))
	dot := func(a, b *tensor.Tensor) float64 {
		var s float64
		for j, v := range a.Data() {
			s += float64(v) * float64(b.Data()[j])
		}
		return s
	}
	dx, dw := randn(seed+1, x.Shape()...), randn(seed+2, w.Shape()...)
	for _, c := range []struct {
		what      string
		got, want float64
	}{
		{"input", dot(xv.Grad(), dx), dot(y, naiveConv2d(dx, w, opt))},
		{"weight", dot(wv.Grad(), dw), dot(y, naiveConv2d(x, dw, opt))},
	} {
		if math.Abs(c.got-c.want) > 1e-3*(1+math.Abs(c.want)) {
			t.Errorf("%s: <%s gradient, d> = %v, want %v", name, c.what, c.got, c.want)
		}
	}
}

// TestConvPaths runs the images-side-by-side path in one chunk (keeping the
// column matrix) and in several, the image-by-image path of 1×1
// convolutions over large images, and the direct depthwise kernels.
func TestConvPaths(t *testing.T) {
	saved := colBudget
	defer func() { colBudget = saved }()
	pad := Conv2dOptions{Padding: []int{1, 1}}
	for i, c := range []struct {
		name   string
		budget int
		xs, ws []int
		opt    Conv2dOptions
	}{
		{"one chunk", saved, []int{5, 3, 6, 7}, []int{4, 3, 3, 3}, pad},
		{"chunks of 2", 2 * 27 * 42, []int{5, 3, 6, 7}, []int{4, 3, 3, 3}, pad},
		{"chunks of 1", 1, []int{3, 4, 5, 5}, []int{6, 2, 3, 3}, Conv2dOptions{Stride: []int{2, 1}, Groups: 2}},
		{"1x1 stride 2", saved, []int{4, 6, 7, 7}, []int{5, 6, 1, 1}, Conv2dOptions{Stride: []int{2, 2}}},
		{"1x1 per image", saved, []int{2, 3, 32, 33}, []int{4, 3, 1, 1}, Conv2dOptions{}},
		{"1x1 one image", saved, []int{1, 3, 4, 5}, []int{4, 3, 1, 1}, Conv2dOptions{}},
		{"channel-major", saved, []int{2, 2, 3, 3}, []int{40, 2, 3, 3}, Conv2dOptions{}},
		{"channel-major chunks", 1, []int{2, 2, 4, 3}, []int{40, 2, 3, 3}, Conv2dOptions{}},
		{"depthwise", saved, []int{3, 4, 7, 6}, []int{4, 1, 3, 3}, Conv2dOptions{Padding: []int{1, 1}, Groups: 4}},
		{"depthwise x2 strided", saved, []int{2, 3, 9, 8}, []int{6, 1, 3, 2}, Conv2dOptions{Stride: []int{2, 3}, Padding: []int{2, 1}, Dilation: []int{2, 1}, Groups: 3}},
	} {
		colBudget = c.budget
		checkConvBilinear(t, c.name, randn(uint64(300+i), c.xs...), randn(uint64(400+i), c.ws...), c.opt, uint64(500+10*i))
	}
}

// TestLeafAdoptsOwnedGradient checks that a leaf keeping an op's fresh
// gradient without a copy still accumulates correctly and shares nothing.
func TestLeafAdoptsOwnedGradient(t *testing.T) {
	x := Const(randn(1, 2, 3, 5, 5))
	w := Param(randn(2, 4, 3, 3, 3))
	b := Param(randn(3, 4))
	step := func() *Var { return Sum(Conv2d(x, w, b, Conv2dOptions{Padding: []int{1, 1}})) }
	step().Backward()
	first := w.Grad().Clone()
	firstB := b.Grad().Clone()
	out := step()
	out.Backward()
	for j, v := range w.Grad().Data() {
		if d := v - 2*first.Data()[j]; d > 1e-3 || d < -1e-3 {
			t.Fatalf("weight gradient %d after two passes = %v, want %v", j, v, 2*first.Data()[j])
		}
	}
	for j, v := range b.Grad().Data() {
		if d := v - 2*firstB.Data()[j]; d > 1e-3 || d < -1e-3 {
			t.Fatalf("bias gradient %d after two passes = %v, want %v", j, v, 2*firstB.Data()[j])
		}
	}
	// A weight used twice sums two fresh gradients into one it owns.
	w.ZeroGrad()
	Sum(Conv2d(x, w, nil, Conv2dOptions{})).Backward()
	single := w.Grad().Clone()
	w.ZeroGrad()
	Sum(Add(Conv2d(x, w, nil, Conv2dOptions{}), Conv2d(x, w, nil, Conv2dOptions{}))).Backward()
	for j, v := range w.Grad().Data() {
		if d := v - 2*single.Data()[j]; d > 1e-3 || d < -1e-3 {
			t.Fatalf("shared weight gradient %d = %v, want %v", j, v, 2*single.Data()[j])
		}
	}
}
