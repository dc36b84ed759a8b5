package executor

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"argus/compiler/xgraph"
	"argus/tensor"
)

func ints64(v ...int64) *xgraph.Attr   { return &xgraph.Attr{Kind: xgraph.AttrInts, Ints: v} }
func int64Attr(v int64) *xgraph.Attr   { return &xgraph.Attr{Kind: xgraph.AttrInt, I: v} }
func strAttr(s string) *xgraph.Attr    { return &xgraph.Attr{Kind: xgraph.AttrString, S: s} }
func floatAttr(v float32) *xgraph.Attr { return &xgraph.Attr{Kind: xgraph.AttrFloat, F: v} }
func node(op string, attrs map[string]*xgraph.Attr, nout int) *xgraph.Node {
	n := &xgraph.Node{Op: op, Attrs: attrs}
	if n.Attrs == nil {
		n.Attrs = map[string]*xgraph.Attr{}
	}
	for i := 0; i < nout; i++ {
		n.Outputs = append(n.Outputs, &xgraph.Value{Name: fmt.Sprintf("y%d", i)})
	}
	return n
}

func randTensor(rng *tensor.RNG, shape ...int) *xgraph.Tensor {
	return xgraph.FromDense(rng.Normal(0, 1, shape...))
}

// naiveConv is the direct definition of a grouped 2-D convolution.
func naiveConv(x, w *xgraph.Tensor, stride, pad, dil [2]int, group int) *xgraph.Tensor {
	N, C, H, W := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	M, KH, KW := w.Shape[0], w.Shape[2], w.Shape[3]
	OH := (H+2*pad[0]-dil[0]*(KH-1)-1)/stride[0] + 1
	OW := (W+2*pad[1]-dil[1]*(KW-1)-1)/stride[1] + 1
	y := xgraph.Zero(xgraph.Float32, N, M, OH, OW)
	cg, mg := C/group, M/group
	for n := 0; n < N; n++ {
		for m := 0; m < M; m++ {
			g := m / mg
			for oy := 0; oy < OH; oy++ {
				for ox := 0; ox < OW; ox++ {
					var s float64
					for c := 0; c < cg; c++ {
						for ky := 0; ky < KH; ky++ {
							for kx := 0; kx < KW; kx++ {
								iy := oy*stride[0] - pad[0] + ky*dil[0]
								ix := ox*stride[1] - pad[1] + kx*dil[1]
								if iy < 0 || iy >= H || ix < 0 || ix >= W {
									continue
								}
								s += float64(x.F[((n*C+g*cg+c)*H+iy)*W+ix]) * float64(w.F[((m*cg+c)*KH+ky)*KW+kx])
							}
						}
					}
					y.F[((n*M+m)*OH+oy)*OW+ox] = float32(s)
				}
			}
		}
	}
	return y
}

func maxDiff(a, b *xgraph.Tensor) float64 {
	var d float64
	for i := range a.F {
		d = math.Max(d, math.Abs(float64(a.F[i]-b.F[i])))
	}
	return d
}

func TestConvMatchesDirect(t *testing.T) {
	rng := tensor.NewRNG(1)
	cases := []struct {
		n, c, h, w, m, k, group int
		stride, pad, dil        [2]int
	}{
		{1, 3, 8, 8, 4, 3, 1, [2]int{1, 1}, [2]int{1, 1}, [2]int{1, 1}},
		{2, 4, 9, 7, 6, 3, 2, [2]int{2, 1}, [2]int{0, 2}, [2]int{1, 2}},
		{1, 6, 5, 5, 6, 3, 6, [2]int{1, 1}, [2]int{1, 1}, [2]int{1, 1}},
		{2, 5, 4, 6, 3, 1, 1, [2]int{1, 1}, [2]int{0, 0}, [2]int{1, 1}},
		{1, 2, 7, 7, 2, 5, 1, [2]int{3, 3}, [2]int{2, 2}, [2]int{1, 1}},
	}
	for i, c := range cases {
		x := randTensor(rng, c.n, c.c, c.h, c.w)
		w := randTensor(rng, c.m, c.c/c.group, c.k, c.k)
		n := node("Conv", map[string]*xgraph.Attr{
			"strides": ints64(int64(c.stride[0]), int64(c.stride[1])), "group": int64Attr(int64(c.group)),
			"pads":      ints64(int64(c.pad[0]), int64(c.pad[1]), int64(c.pad[0]), int64(c.pad[1])),
			"dilations": ints64(int64(c.dil[0]), int64(c.dil[1])),
		}, 1)
		out, err := Eval(13, n, []*xgraph.Tensor{x, w})
		if err != nil {
			t.Fatal(err)
		}
		want := naiveConv(x, w, c.stride, c.pad, c.dil, c.group)
		if fmt.Sprint(out[0].Shape) != fmt.Sprint(want.Shape) {
			t.Fatalf("case %d: shape %v, want %v", i, out[0].Shape, want.Shape)
		}
		if d := maxDiff(out[0], want); d > 1e-4 {
			t.Errorf("case %d: max difference %g", i, d)
		}
	}
}

// TestConvTransposeIsAdjoint checks <conv(x), y> = <x, convT(y)> with the
// same weights, strides, pads and dilations.
func TestConvTransposeIsAdjoint(t *testing.T) {
	rng := tensor.NewRNG(2)
	for i, c := range []struct{ s, p, d, k int }{{1, 0, 1, 3}, {2, 1, 1, 3}, {2, 0, 2, 2}, {3, 2, 1, 4}} {
		attrs := map[string]*xgraph.Attr{
			"strides": ints64(int64(c.s), int64(c.s)), "pads": ints64(int64(c.p), int64(c.p), int64(c.p), int64(c.p)),
			"dilations": ints64(int64(c.d), int64(c.d)),
		}
		x := randTensor(rng, 1, 3, 11, 11)
		w := randTensor(rng, 4, 3, c.k, c.k)
		cy, err := Eval(13, node("Conv", attrs, 1), []*xgraph.Tensor{x, w})
		if err != nil {
			t.Fatal(err)
		}
		y := randTensor(rng, cy[0].Shape...)
		// The transposed convolution's output must come back to 11×11;
		// output_padding covers the rows the strided convolution skipped.
		span := 11 + 2*c.p - (c.k-1)*c.d - 1
		op := int64(span % c.s)
		attrs["output_padding"] = ints64(op, op)
		tx, err := Eval(13, node("ConvTranspose", attrs, 1), []*xgraph.Tensor{y, w})
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(tx[0].Shape) != fmt.Sprint(x.Shape) {
			t.Fatalf("case %d: transposed shape %v, want %v", i, tx[0].Shape, x.Shape)
		}
		var a, b float64
		for j := range y.F {
			a += float64(cy[0].F[j]) * float64(y.F[j])
		}
		for j := range x.F {
			b += float64(x.F[j]) * float64(tx[0].F[j])
		}
		if math.Abs(a-b) > 1e-3*math.Max(1, math.Abs(a)) {
			t.Errorf("case %d: <conv x, y> = %g, <x, convT y> = %g", i, a, b)
		}
	}
}

func TestShapeOps(t *testing.T) {
	iota := func(n int, shape ...int) *xgraph.Tensor {
		f := make([]float32, n)
		for i := range f {
			f[i] = float32(i)
		}
		return xgraph.NewFloat(f, shape...)
	}
	i64 := func(v ...int64) *xgraph.Tensor { return xgraph.NewInt(xgraph.Int64, v, len(v)) }
	cases := []struct {
		name string
		n    *xgraph.Node
		in   []*xgraph.Tensor
		want string
	}{
		{"reshape 0 and -1", node("Reshape", nil, 1), []*xgraph.Tensor{iota(6, 2, 3), i64(0, -1)}, "float32[2 3]{0 1 2 3 4 5}"},
		{"slice negative step", node("Slice", nil, 1), []*xgraph.Tensor{iota(5, 5), i64(-1), i64(-10), i64(0), i64(-2)}, "float32[3]{4 2 0}"},
		{"gather negative", node("Gather", map[string]*xgraph.Attr{"axis": int64Attr(1)}, 1), []*xgraph.Tensor{iota(6, 2, 3), i64(-1, 0)}, "float32[2 2]{2 0 5 3}"},
		{"transpose", node("Transpose", nil, 1), []*xgraph.Tensor{iota(6, 2, 3)}, "float32[3 2]{0 3 1 4 2 5}"},
		{"concat ints", node("Concat", map[string]*xgraph.Attr{"axis": int64Attr(0)}, 1), []*xgraph.Tensor{i64(1, 2), i64(3)}, "int64[3]{1 2 3}"},
		{"shape", node("Shape", map[string]*xgraph.Attr{"start": int64Attr(-2)}, 1), []*xgraph.Tensor{iota(6, 1, 2, 3)}, "int64[2]{2 3}"},
		{"range", node("Range", nil, 1), []*xgraph.Tensor{i64(5), i64(0), i64(-2)}, "int64[3]{5 3 1}"},
		{"expand", node("Expand", nil, 1), []*xgraph.Tensor{iota(2, 2, 1), i64(2, 3)}, "float32[2 3]{0 0 0 1 1 1}"},
		{"where", node("Where", nil, 1), []*xgraph.Tensor{xgraph.NewInt(xgraph.Bool, []int64{1, 0}, 2), iota(2, 2), xgraph.NewFloat([]float32{9}, 1)}, "float32[2]{0 9}"},
		{"equal", node("Equal", nil, 1), []*xgraph.Tensor{i64(1, 2), i64(2)}, "bool[2]{0 1}"},
		{"cast", node("Cast", map[string]*xgraph.Attr{"to": int64Attr(int64(xgraph.Int32))}, 1), []*xgraph.Tensor{xgraph.NewFloat([]float32{-1.7, 2.9}, 2)}, "int32[2]{-1 2}"},
		{"pad reflect", node("Pad", map[string]*xgraph.Attr{"mode": strAttr("reflect")}, 1), []*xgraph.Tensor{iota(3, 3), i64(2, 1)}, "float32[6]{2 1 0 1 2 1}"},
		{"pad edge", node("Pad", map[string]*xgraph.Attr{"mode": strAttr("edge")}, 1), []*xgraph.Tensor{iota(3, 3), i64(1, 2)}, "float32[6]{0 0 1 2 2 2}"},
		{"reduce mean", node("ReduceMean", map[string]*xgraph.Attr{"axes": ints64(1), "keepdims": int64Attr(0)}, 1), []*xgraph.Tensor{iota(6, 2, 3)}, "float32[2]{1 4}"},
		{"softmax", node("Softmax", nil, 1), []*xgraph.Tensor{xgraph.NewFloat([]float32{0, 0}, 1, 2)}, "float32[1 2]{0.5 0.5}"},
		{"resize nearest", node("Resize", map[string]*xgraph.Attr{"mode": strAttr("nearest"), "coordinate_transformation_mode": strAttr("asymmetric")}, 1),
			[]*xgraph.Tensor{iota(2, 1, 2), nil, xgraph.NewFloat([]float32{1, 2}, 2)}, "float32[1 4]{0 0 1 1}"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := Eval(13, c.n, c.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := out[0].String(); got != c.want {
				t.Errorf("got %s, want %s", got, c.want)
			}
		})
	}
}

func TestUnsupportedNamesNodeOpAttr(t *testing.T) {
	x := xgraph.NewFloat([]float32{1, 2, 3}, 3)
	cases := []struct {
		n    *xgraph.Node
		in   []*xgraph.Tensor
		op   string
		attr string
	}{
		{&xgraph.Node{Name: "n1", Op: "NonMaxSuppression"}, []*xgraph.Tensor{x}, "NonMaxSuppression", ""},
		{&xgraph.Node{Name: "n2", Op: "Relu", Attrs: map[string]*xgraph.Attr{"fancy": int64Attr(1)}}, []*xgraph.Tensor{x}, "Relu", "fancy"},
		{&xgraph.Node{Name: "n3", Op: "Pad", Attrs: map[string]*xgraph.Attr{"mode": strAttr("wrap")}}, []*xgraph.Tensor{x, xgraph.NewInt(xgraph.Int64, []int64{1, 1}, 2)}, "Pad", "mode"},
		{&xgraph.Node{Name: "n4", Op: "Resize", Attrs: map[string]*xgraph.Attr{"mode": strAttr("area")}}, []*xgraph.Tensor{x, nil, xgraph.NewFloat([]float32{2}, 1)}, "Resize", "mode"},
		{&xgraph.Node{Name: "n5", Op: "Relu", Domain: "com.example"}, []*xgraph.Tensor{x}, "Relu", ""},
	}
	for _, c := range cases {
		_, err := Eval(13, c.n, c.in)
		var ue *xgraph.UnsupportedError
		if !errors.As(err, &ue) {
			t.Errorf("%s: error %v, want UnsupportedError", c.n.Name, err)
			continue
		}
		if !strings.Contains(ue.Node, c.n.Name) || ue.Op != c.op || ue.Attr != c.attr {
			t.Errorf("%s: got node %q op %q attr %q, want op %q attr %q", c.n.Name, ue.Node, ue.Op, ue.Attr, c.op, c.attr)
		}
	}
}

func TestBadInputsGiveErrors(t *testing.T) {
	// Inconsistent inputs must produce errors, never panics.
	x := xgraph.NewFloat([]float32{1, 2, 3, 4}, 1, 1, 2, 2)
	cases := []struct {
		n  *xgraph.Node
		in []*xgraph.Tensor
	}{
		{node("Conv", nil, 1), []*xgraph.Tensor{x, xgraph.NewFloat([]float32{1, 2}, 2)}},
		{node("Conv", map[string]*xgraph.Attr{"pads": ints64(1)}, 1), []*xgraph.Tensor{x, x}},
		{node("Reshape", nil, 1), []*xgraph.Tensor{x, xgraph.NewInt(xgraph.Int64, []int64{3}, 1)}},
		{node("Gather", nil, 1), []*xgraph.Tensor{x, xgraph.NewInt(xgraph.Int64, []int64{5}, 1)}},
		{node("Add", nil, 1), []*xgraph.Tensor{x, xgraph.NewFloat([]float32{1, 2, 3}, 3)}},
		{node("MatMul", nil, 1), []*xgraph.Tensor{x, x.Reshaped([]int{4})}},
		{node("Where", nil, 1), []*xgraph.Tensor{xgraph.NewInt(xgraph.Bool, []int64{1}, 1), x, xgraph.NewInt(xgraph.Int64, []int64{1}, 1)}},
		{node("Relu", nil, 1), []*xgraph.Tensor{nil}},
	}
	for i, c := range cases {
		if _, err := Eval(13, c.n, c.in); err == nil {
			t.Errorf("case %d (%s): no error", i, c.n.Op)
		}
	}
}

func TestExecutorInputs(t *testing.T) {
	in := &xgraph.Value{Name: "x", DType: xgraph.Float32, Shape: []int{-1, 2}, Ranked: true}
	out := &xgraph.Value{Name: "y"}
	g := &xgraph.Graph{Opset: 13, Inputs: []*xgraph.Value{in}, Outputs: []*xgraph.Value{out},
		Nodes: []*xgraph.Node{{Op: "Relu", Inputs: []*xgraph.Value{in}, Outputs: []*xgraph.Value{out}, Attrs: map[string]*xgraph.Attr{}}}}
	e, err := New(g)
	if err != nil {
		t.Fatal(err)
	}
	for _, batch := range []int{1, 4} {
		res, err := e.Run(map[string]*xgraph.Tensor{"x": xgraph.NewFloat(make([]float32, 2*batch), batch, 2)})
		if err != nil || res[0].Shape[0] != batch {
			t.Errorf("batch %d: %v %v", batch, res, err)
		}
	}
	for name, feed := range map[string]map[string]*xgraph.Tensor{
		"missing":     {},
		"wrong shape": {"x": xgraph.NewFloat(make([]float32, 3), 1, 3)},
		"wrong rank":  {"x": xgraph.NewFloat(make([]float32, 2), 2)},
		"wrong type":  {"x": xgraph.NewInt(xgraph.Int64, []int64{1, 2}, 1, 2)},
	} {
		if _, err := e.Run(feed); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func BenchmarkConv3x3(b *testing.B) {
	rng := tensor.NewRNG(3)
	x := randTensor(rng, 1, 64, 56, 56)
	w := randTensor(rng, 64, 64, 3, 3)
	n := node("Conv", map[string]*xgraph.Attr{"pads": ints64(1, 1, 1, 1)}, 1)
	in := []*xgraph.Tensor{x, w}
	for b.Loop() {
		if _, err := Eval(13, n, in); err != nil {
			b.Fatal(err)
		}
	}
	flops := 2.0 * 64 * 64 * 9 * 56 * 56
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

func BenchmarkDepthwise3x3(b *testing.B) {
	rng := tensor.NewRNG(4)
	x := randTensor(rng, 1, 144, 56, 56)
	w := randTensor(rng, 144, 1, 3, 3)
	n := node("Conv", map[string]*xgraph.Attr{"pads": ints64(1, 1, 1, 1), "group": int64Attr(144)}, 1)
	in := []*xgraph.Tensor{x, w}
	for b.Loop() {
		if _, err := Eval(13, n, in); err != nil {
			b.Fatal(err)
		}
	}
	flops := 2.0 * 144 * 9 * 56 * 56
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// TestReluFusion checks that folding a Relu into its producer changes no
// value, and that a producer whose output is also read elsewhere keeps
// its own output.
func TestReluFusion(t *testing.T) {
	rng := tensor.NewRNG(5)
	val := func(name string) *xgraph.Value { return &xgraph.Value{Name: name, DType: xgraph.Float32} }
	x, c, y, s, z := val("x"), val("c"), val("y"), val("s"), val("z")
	x.Shape, x.Ranked = []int{-1, 2, 4, 4}, true
	w := &xgraph.Value{Name: "w", Const: randTensor(rng, 3, 2, 3, 3)}
	b := &xgraph.Value{Name: "b", Const: randTensor(rng, 3)}
	attrs := map[string]*xgraph.Attr{"pads": ints64(1, 1, 1, 1)}
	g := &xgraph.Graph{Opset: 13, Inputs: []*xgraph.Value{x}, Outputs: []*xgraph.Value{z, c},
		Nodes: []*xgraph.Node{
			{Op: "Conv", Inputs: []*xgraph.Value{x, w, b}, Outputs: []*xgraph.Value{c}, Attrs: attrs},
			{Op: "Relu", Inputs: []*xgraph.Value{c}, Outputs: []*xgraph.Value{y}, Attrs: map[string]*xgraph.Attr{}},
			{Op: "Add", Inputs: []*xgraph.Value{y, y}, Outputs: []*xgraph.Value{s}, Attrs: map[string]*xgraph.Attr{}},
			{Op: "Relu", Inputs: []*xgraph.Value{s}, Outputs: []*xgraph.Value{z}, Attrs: map[string]*xgraph.Attr{}},
		}}
	xgraph.InferShapes(g)
	e, err := New(g)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.fused) != 1 || !e.fused[g.Nodes[2]] {
		t.Errorf("fused %v: want only the Add (the Conv output is a graph output)", e.fused)
	}
	in := randTensor(rng, 2, 2, 4, 4)
	out, err := e.Run(map[string]*xgraph.Tensor{"x": in})
	if err != nil {
		t.Fatal(err)
	}
	conv, _ := Eval(13, g.Nodes[0], []*xgraph.Tensor{in, w.Const, b.Const})
	negative := false
	for i, v := range conv[0].F {
		want := 2 * max(v, 0)
		if out[0].F[i] != want || out[1].F[i] != v {
			t.Fatalf("element %d: z=%g c=%g, want %g and %g", i, out[0].F[i], out[1].F[i], want, v)
		}
		negative = negative || v < 0
	}
	if !negative {
		t.Fatal("test input gives no negative convolution outputs")
	}
}
