package xgraph_test

import (
	"encoding/xml"
	"strings"
	"testing"

	"argus/compiler/executor"
	"argus/compiler/xgraph"
)

// builder assembles small graphs for the tests.
type builder struct {
	g    *xgraph.Graph
	vals map[string]*xgraph.Value
}

func newBuilder() *builder {
	return &builder{g: &xgraph.Graph{Name: "t", Opset: 13}, vals: map[string]*xgraph.Value{}}
}

func (b *builder) v(name string) *xgraph.Value {
	if name == "" {
		return nil
	}
	if v, ok := b.vals[name]; ok {
		return v
	}
	v := &xgraph.Value{Name: name}
	b.vals[name] = v
	return v
}

func (b *builder) input(name string, shape ...int) {
	v := b.v(name)
	v.DType, v.Shape, v.Ranked = xgraph.Float32, shape, true
	b.g.Inputs = append(b.g.Inputs, v)
}

func (b *builder) constant(name string, t *xgraph.Tensor) {
	v := b.v(name)
	v.Const, v.DType, v.Shape, v.Ranked = t, t.DType, t.Shape, true
}

func (b *builder) node(op string, ins, outs []string, attrs map[string]*xgraph.Attr) {
	n := &xgraph.Node{Name: op + "_" + outs[0], Op: op, Attrs: attrs}
	if n.Attrs == nil {
		n.Attrs = map[string]*xgraph.Attr{}
	}
	for _, s := range ins {
		n.Inputs = append(n.Inputs, b.v(s))
	}
	for _, s := range outs {
		n.Outputs = append(n.Outputs, b.v(s))
	}
	b.g.Nodes = append(b.g.Nodes, n)
}

func (b *builder) output(names ...string) {
	for _, s := range names {
		b.g.Outputs = append(b.g.Outputs, b.v(s))
	}
}

func ints(v ...int64) *xgraph.Attr { return &xgraph.Attr{Kind: xgraph.AttrInts, Ints: v} }

func TestSort(t *testing.T) {
	b := newBuilder()
	b.input("x", 1)
	b.node("Relu", []string{"b"}, []string{"c"}, nil)
	b.node("Neg", []string{"x"}, []string{"b"}, nil)
	b.output("c")
	if err := b.g.Sort(); err != nil {
		t.Fatal(err)
	}
	if b.g.Nodes[0].Op != "Neg" {
		t.Errorf("order %s, %s", b.g.Nodes[0].Op, b.g.Nodes[1].Op)
	}
	cyc := newBuilder()
	cyc.input("x", 1)
	cyc.node("Add", []string{"x", "b"}, []string{"a"}, nil)
	cyc.node("Neg", []string{"a"}, []string{"b"}, nil)
	cyc.output("b")
	if err := cyc.g.Sort(); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("cycle: error %v", err)
	}
}

func TestInferShapes(t *testing.T) {
	b := newBuilder()
	b.input("x", -1, 3, 32, 32)
	b.constant("w", xgraph.Zero(xgraph.Float32, 8, 3, 3, 3))
	b.constant("shape", xgraph.NewInt(xgraph.Int64, []int64{0, -1}, 2))
	b.node("Conv", []string{"x", "w"}, []string{"c"}, map[string]*xgraph.Attr{"strides": ints(2, 2), "pads": ints(1, 1, 1, 1)})
	b.node("MaxPool", []string{"c"}, []string{"p"}, map[string]*xgraph.Attr{"kernel_shape": ints(3, 3), "strides": ints(2, 2), "pads": ints(1, 1, 1, 1)})
	b.node("GlobalAveragePool", []string{"p"}, []string{"g"}, nil)
	b.node("Reshape", []string{"g", "shape"}, []string{"r"}, nil)
	b.node("Shape", []string{"r"}, []string{"s"}, nil)
	b.output("r", "s")
	xgraph.InferShapes(b.g)
	for name, want := range map[string]string{
		"c": "float32[? 8 16 16]", "p": "float32[? 8 8 8]", "g": "float32[? 8 1 1]",
		"r": "float32[? 8]", "s": "int64[2]",
	} {
		if got := b.v(name).ShapeString(); got != want {
			t.Errorf("%s: %s, want %s", name, got, want)
		}
	}
}

// convBN builds x -> Conv -> BatchNormalization -> Identity -> Dropout ->
// Relu with a dead branch and a constant subgraph feeding an Add.
func convBN() *builder {
	b := newBuilder()
	b.input("x", -1, 2, 5, 5)
	w := xgraph.Zero(xgraph.Float32, 3, 2, 3, 3)
	for i := range w.F {
		w.F[i] = float32(i%7)/7 - 0.4
	}
	b.constant("w", w)
	b.constant("cb", xgraph.NewFloat([]float32{0.1, 0.2, -0.3}, 3))
	b.constant("scale", xgraph.NewFloat([]float32{1.5, 0.5, 2}, 3))
	b.constant("beta", xgraph.NewFloat([]float32{0, 1, -1}, 3))
	b.constant("mean", xgraph.NewFloat([]float32{0.2, -0.1, 0}, 3))
	b.constant("var", xgraph.NewFloat([]float32{1, 0.25, 4}, 3))
	b.constant("one", xgraph.NewFloat([]float32{1}, 1))
	b.node("Conv", []string{"x", "w", "cb"}, []string{"c"}, map[string]*xgraph.Attr{"pads": ints(1, 1, 1, 1)})
	b.node("BatchNormalization", []string{"c", "scale", "beta", "mean", "var"}, []string{"bn"}, nil)
	b.node("Identity", []string{"bn"}, []string{"id"}, nil)
	b.node("Dropout", []string{"id"}, []string{"dr"}, nil)
	b.node("Add", []string{"one", "one"}, []string{"two"}, nil)
	b.node("Mul", []string{"dr", "two"}, []string{"m"}, nil)
	b.node("Exp", []string{"x"}, []string{"dead"}, nil)
	b.node("Relu", []string{"m"}, []string{"y"}, nil)
	b.output("y")
	return b
}

func TestStandardPassesPreserveOutputs(t *testing.T) {
	ref := convBN().g
	opt := convBN().g
	stats, err := xgraph.Optimize(opt, xgraph.Standard(executor.Eval)...)
	if err != nil {
		t.Fatal(err)
	}
	ops := opt.Summarize().Ops
	if len(ops) != 3 || ops["Conv"] != 1 || ops["Mul"] != 1 || ops["Relu"] != 1 {
		t.Errorf("optimised ops %v (passes %v), want Conv, Mul, Relu", ops, stats)
	}
	if opt.Outputs[0].Name != "y" {
		t.Errorf("output renamed to %q", opt.Outputs[0].Name)
	}
	x := xgraph.Zero(xgraph.Float32, 2, 2, 5, 5)
	for i := range x.F {
		x.F[i] = float32((i*13)%17)/8 - 1
	}
	run := func(g *xgraph.Graph) *xgraph.Tensor {
		e, err := executor.New(g)
		if err != nil {
			t.Fatal(err)
		}
		out, err := e.Run(map[string]*xgraph.Tensor{"x": x})
		if err != nil {
			t.Fatal(err)
		}
		return out[0]
	}
	a, b := run(ref), run(opt)
	for i := range a.F {
		if d := a.F[i] - b.F[i]; d > 1e-5 || d < -1e-5 {
			t.Fatalf("element %d: %g before, %g after optimisation", i, a.F[i], b.F[i])
		}
	}
}

func TestIdentityToOutputKeepsName(t *testing.T) {
	b := newBuilder()
	b.input("x", 2)
	b.node("Neg", []string{"x"}, []string{"n"}, nil)
	b.node("Identity", []string{"n"}, []string{"out"}, nil)
	b.node("Identity", []string{"x"}, []string{"passthrough"}, nil)
	b.output("out", "passthrough")
	if _, err := xgraph.Optimize(b.g, xgraph.RemoveIdentity(), xgraph.RemoveDead()); err != nil {
		t.Fatal(err)
	}
	if b.g.Outputs[0].Name != "out" || b.g.Outputs[1].Name != "passthrough" {
		t.Errorf("outputs %q %q", b.g.Outputs[0].Name, b.g.Outputs[1].Name)
	}
	if ops := b.g.Summarize().Ops; ops["Identity"] != 1 || ops["Neg"] != 1 {
		t.Errorf("ops %v: want the Identity between input and output kept", ops)
	}
}

func TestDumpDOTSVG(t *testing.T) {
	g := convBN().g
	xgraph.InferShapes(g)
	var dump, dot, svg strings.Builder
	if err := g.Dump(&dump); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"input  %x: float32[? 2 5 5]", "%c = Conv(%x, @w, @cb) {pads=[1 1 1 1]} : float32[? 3 5 5]", "output %y"} {
		if !strings.Contains(dump.String(), want) {
			t.Errorf("dump lacks %q:\n%s", want, dump.String())
		}
	}
	if err := g.DOT(&dot); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(dot.String(), "digraph") || strings.Count(dot.String(), "->") != 9 {
		t.Errorf("DOT:\n%s", dot.String())
	}
	if err := g.SVG(&svg); err != nil {
		t.Fatal(err)
	}
	// The SVG must be well-formed XML with one box per node, input and
	// output.
	dec := xml.NewDecoder(strings.NewReader(svg.String()))
	rects := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "rect" {
			rects++
		}
	}
	if rects != len(g.Nodes)+2 {
		t.Errorf("SVG has %d boxes, want %d", rects, len(g.Nodes)+2)
	}
}
