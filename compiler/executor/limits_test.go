package executor

import (
	"errors"
	"strings"
	"testing"

	"argus/compiler/xgraph"
)

// TestSizeLimits: a node asked for an output larger than the memory limit
// of one tensor, or one whose size overflows an int, fails with an error
// naming the node and the shape before allocating anything, instead of
// exhausting memory or returning a tensor whose shape and data disagree.
func TestSizeLimits(t *testing.T) {
	i64 := func(v ...int64) *xgraph.Tensor { return xgraph.NewInt(xgraph.Int64, v, len(v)) }
	f := func(shape ...int) *xgraph.Tensor { return xgraph.Zero(xgraph.Float32, shape...) }
	const huge, big = 1 << 32, 1 << 20
	named := func(n *xgraph.Node) *xgraph.Node { n.Name = "n0"; return n }
	for _, c := range []struct {
		name string
		n    *xgraph.Node
		in   []*xgraph.Tensor
		want string
	}{
		{"ConstantOfShape overflow", node("ConstantOfShape", nil, 1), []*xgraph.Tensor{i64(huge, huge)}, "output shape [4294967296 4294967296] has more elements than memory can hold"},
		{"ConstantOfShape too large", node("ConstantOfShape", nil, 1), []*xgraph.Tensor{i64(big, big)}, "output shape [1048576 1048576] needs 4096.0 GiB, over the limit of 4.0 GiB"},
		{"ConstantOfShape negative", node("ConstantOfShape", nil, 1), []*xgraph.Tensor{i64(-1, 4)}, "negative dimension"},
		{"Expand overflow", node("Expand", nil, 1), []*xgraph.Tensor{f(1), i64(huge, huge)}, "more elements than memory can hold"},
		{"Expand too large", node("Expand", nil, 1), []*xgraph.Tensor{f(1, 1), i64(big, big)}, "over the limit"},
		{"Expand negative", node("Expand", nil, 1), []*xgraph.Tensor{f(1, 1), i64(-3, 2)}, "negative dimension"},
		{"Tile overflow", node("Tile", nil, 1), []*xgraph.Tensor{f(2, 2), i64(1<<62, 1<<62)}, "more elements than memory can hold"},
		{"Tile product overflow", node("Tile", nil, 1), []*xgraph.Tensor{f(2, 2), i64(huge, huge)}, "more elements than memory can hold"},
		{"Tile too large", node("Tile", nil, 1), []*xgraph.Tensor{f(2, 2), i64(big, big)}, "over the limit"},
		{"Reshape overflow", node("Reshape", nil, 1), []*xgraph.Tensor{f(4), i64(huge, huge, huge, 4)}, "cannot reshape [4] to"},
		{"Pad too large", node("Pad", nil, 1), []*xgraph.Tensor{f(2, 2), i64(0, 0, big*big, big)}, "more elements than memory can hold"},
		{"Pad overflow", node("Pad", nil, 1), []*xgraph.Tensor{f(2, 2), i64(0, 0, 1<<62, 1<<62)}, "more elements than memory can hold"},
		{"Resize sizes", node("Resize", nil, 1), []*xgraph.Tensor{f(1, 1, 2, 2), nil, nil, i64(1, 1, big, big)}, "over the limit"},
		{"Resize scales", node("Resize", nil, 1), []*xgraph.Tensor{f(1, 1, 2, 2), nil, xgraph.NewFloat([]float32{1, 1, 1e30, 1e30}, 4)}, "bad output size"},
		{"Add broadcast", node("Add", nil, 1), []*xgraph.Tensor{f(big, 1), f(1, big)}, "output shape [1048576 1048576]"},
		{"Where broadcast", node("Where", nil, 1), []*xgraph.Tensor{xgraph.Zero(xgraph.Bool, big, 1), f(1, big), f(1)}, "over the limit"},
		{"MatMul broadcast", node("MatMul", nil, 1), []*xgraph.Tensor{f(big, 1, 1, 1), f(1, big, 1, 1)}, "over the limit"},
		{"MaxPool pads", node("MaxPool", map[string]*xgraph.Attr{"kernel_shape": ints64(2, 2), "pads": ints64(0, 0, 1<<40, 1<<40)}, 1), []*xgraph.Tensor{f(1, 1, 4, 4)}, "out of range"},
		{"MaxPool kernel", node("MaxPool", map[string]*xgraph.Attr{"kernel_shape": ints64(1<<40, 1)}, 1), []*xgraph.Tensor{f(1, 1, 4, 4)}, "out of range"},
		{"AveragePool output", node("AveragePool", map[string]*xgraph.Attr{"kernel_shape": ints64(1, 1), "pads": ints64(0, 0, 1<<23, 1<<23)}, 1), []*xgraph.Tensor{f(64, 64, 4, 4)}, "over the limit"},
		{"ConvTranspose output", node("ConvTranspose", map[string]*xgraph.Attr{"strides": ints64(1<<23, 1<<23)}, 1), []*xgraph.Tensor{f(1, 1, 4, 4), f(1, 1, 1, 1)}, "over the limit"},
		{"named node", named(node("ConstantOfShape", nil, 1)), []*xgraph.Tensor{i64(big, big)}, "node n0 (ConstantOfShape): output shape"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := Eval(13, c.n, c.in)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q (outputs %v)", err, c.want, out)
			}
			var tl *TooLargeError
			if strings.Contains(c.want, "limit") && !errors.As(err, &tl) {
				t.Errorf("error %T is not a *TooLargeError", err)
			}
		})
	}
}

// TestMaxTensorBytes: the limit is the executor's option, applied to every
// node of a run, and constant folding never computes a constant larger
// than it would keep.
func TestMaxTensorBytes(t *testing.T) {
	shape := &xgraph.Value{Name: "shape", DType: xgraph.Int64, Shape: []int{1}, Ranked: true}
	out := &xgraph.Value{Name: "y"}
	g := &xgraph.Graph{Opset: 13, Inputs: []*xgraph.Value{shape}, Outputs: []*xgraph.Value{out},
		Nodes: []*xgraph.Node{{Name: "fill", Op: "ConstantOfShape", Inputs: []*xgraph.Value{shape}, Outputs: []*xgraph.Value{out}, Attrs: map[string]*xgraph.Attr{}}}}
	e, err := NewWith(g, Options{MaxTensorBytes: 1024})
	if err != nil {
		t.Fatal(err)
	}
	feed := func(n int64) map[string]*xgraph.Tensor {
		return map[string]*xgraph.Tensor{"shape": xgraph.NewInt(xgraph.Int64, []int64{n}, 1)}
	}
	if res, err := e.Run(feed(256)); err != nil || res[0].Len() != 256 {
		t.Errorf("256 floats under a 1 KiB limit: %v, %v", res, err)
	}
	if _, err := e.Run(feed(257)); err == nil || err.Error() != "node fill (ConstantOfShape): output shape [257] needs 1028 bytes, over the limit of 1024 bytes for one tensor" {
		t.Errorf("257 floats under a 1 KiB limit: %v", err)
	}
	// Folding a ConstantOfShape of a huge constant shape leaves the node
	// to the executor instead of computing it.
	c := &xgraph.Value{Name: "c", DType: xgraph.Int64, Shape: []int{2}, Ranked: true, Const: xgraph.NewInt(xgraph.Int64, []int64{1 << 16, 1 << 16}, 2)}
	y := &xgraph.Value{Name: "y"}
	g2 := &xgraph.Graph{Opset: 13, Outputs: []*xgraph.Value{y},
		Nodes: []*xgraph.Node{{Name: "fill", Op: "ConstantOfShape", Inputs: []*xgraph.Value{c}, Outputs: []*xgraph.Value{y}, Attrs: map[string]*xgraph.Attr{}}}}
	if _, err := Optimize(g2); err != nil {
		t.Fatal(err)
	}
	if len(g2.Nodes) != 1 || y.Const != nil {
		t.Errorf("a 16 GiB constant was folded")
	}
	e2, err := NewWith(g2, Options{MaxTensorBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e2.Run(nil); err == nil || !strings.Contains(err.Error(), "output shape [65536 65536] needs 16.0 GiB, over the limit of 1.0 MiB") {
		t.Errorf("run: %v", err)
	}
}

// TestCompileHugeImage: a model declaring a huge image input is not
// compiled (the compiled network would size its buffers from it) but left
// to node-by-node evaluation, which checks every tensor it makes.
func TestCompileHugeImage(t *testing.T) {
	in := &xgraph.Value{Name: "x", DType: xgraph.Float32, Shape: []int{-1, 3, 1 << 20, 1 << 20}, Ranked: true}
	out := &xgraph.Value{Name: "y"}
	g := &xgraph.Graph{Opset: 13, Inputs: []*xgraph.Value{in}, Outputs: []*xgraph.Value{out},
		Nodes: []*xgraph.Node{{Name: "r", Op: "Relu", Inputs: []*xgraph.Value{in}, Outputs: []*xgraph.Value{out}, Attrs: map[string]*xgraph.Attr{}}}}
	e, err := New(g)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Compiled(); err == nil || !strings.Contains(err.Error(), "too large to compile") {
		t.Errorf("Compiled() = %v", err)
	}
}
