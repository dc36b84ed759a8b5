package dpu_test

import (
	"math/rand/v2"
	"slices"
	"testing"

	"argus/compiler/dpu"
	"argus/compiler/fuse"
	"argus/compiler/partition"
	"argus/compiler/quant"
	"argus/compiler/xgraph"
	"argus/dpu/target"
)

// builder assembles a small float graph of one input "x" with random
// weights.
type builder struct {
	g    *xgraph.Graph
	vals map[string]*xgraph.Value
	rng  *rand.Rand
}

func newBuilder(c, h, w int) *builder {
	b := &builder{g: &xgraph.Graph{Name: "t", Opset: 13}, vals: map[string]*xgraph.Value{}, rng: rand.New(rand.NewPCG(3, 4))}
	x := b.v("x")
	x.DType, x.Shape, x.Ranked = xgraph.Float32, []int{1, c, h, w}, true
	b.g.Inputs = []*xgraph.Value{x}
	return b
}

func (b *builder) v(name string) *xgraph.Value {
	if v, ok := b.vals[name]; ok {
		return v
	}
	v := &xgraph.Value{Name: name}
	b.vals[name] = v
	return v
}

func (b *builder) constant(name string, shape ...int) string {
	n := 1
	for _, d := range shape {
		n *= d
	}
	f := make([]float32, n)
	for i := range f {
		f[i] = float32(b.rng.NormFloat64()) * 0.3
	}
	v := b.v(name)
	v.Const = xgraph.NewFloat(f, shape...)
	v.DType, v.Shape, v.Ranked = v.Const.DType, v.Const.Shape, true
	return name
}

func (b *builder) node(op string, ins []string, out string, attrs map[string]*xgraph.Attr) string {
	n := &xgraph.Node{Name: out, Op: op, Attrs: attrs}
	if n.Attrs == nil {
		n.Attrs = map[string]*xgraph.Attr{}
	}
	for _, s := range ins {
		n.Inputs = append(n.Inputs, b.v(s))
	}
	n.Outputs = []*xgraph.Value{b.v(out)}
	b.g.Nodes = append(b.g.Nodes, n)
	return out
}

func attrInts(v ...int64) *xgraph.Attr { return &xgraph.Attr{Kind: xgraph.AttrInts, Ints: v} }

// conv adds a k×k convolution (padding k/2) of m filters over c channels.
func (b *builder) conv(in, out string, c, m, k int) string {
	p := int64(k / 2)
	return b.node("Conv", []string{in, b.constant(out+".w", m, c, k, k), b.constant(out+".b", m)}, out, map[string]*xgraph.Attr{
		"kernel_shape": attrInts(int64(k), int64(k)), "pads": attrInts(p, p, p, p)})
}

// inception is a graph with every kind of fused group: a convolution and
// its pooling, branches joined by a concatenation, a residual sum and its
// pooling.
func inception(t *testing.T) *quant.Model {
	b := newBuilder(3, 12, 12)
	b.node("Relu", []string{b.conv("x", "c1", 3, 16, 3)}, "r1", nil)
	b.node("MaxPool", []string{"r1"}, "p1", map[string]*xgraph.Attr{"kernel_shape": attrInts(2, 2), "strides": attrInts(2, 2)})
	b.node("Relu", []string{b.conv("p1", "ba", 16, 8, 1)}, "ra", nil)
	b.node("Relu", []string{b.conv("p1", "bb", 16, 8, 3)}, "rb", nil)
	b.node("MaxPool", []string{"p1"}, "bp", map[string]*xgraph.Attr{"kernel_shape": attrInts(3, 3), "pads": attrInts(1, 1, 1, 1)})
	b.node("Concat", []string{"ra", "rb", "bp"}, "cat", map[string]*xgraph.Attr{"axis": {Kind: xgraph.AttrInt, I: 1}})
	b.conv("cat", "c2", 32, 32, 3)
	b.node("Add", []string{"c2", "cat"}, "s", nil)
	b.node("Relu", []string{"s"}, "rs", nil)
	b.node("AveragePool", []string{"rs"}, "y", map[string]*xgraph.Attr{"kernel_shape": attrInts(2, 2), "strides": attrInts(2, 2)})
	b.g.Outputs = []*xgraph.Value{b.v("y")}
	xgraph.InferShapes(b.g)
	m, _, err := quant.Quantize(b.g, noise{[3]int{3, 12, 12}, 4}, quant.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestFusion compiles a graph with every kind of group with and without
// fusion: both give the quant-ref engine's output bit for bit, and the
// fused program has each kind of group and takes fewer cycles and DDR
// bytes.
func TestFusion(t *testing.T) {
	m := inception(t)
	tg, err := target.Lookup("zu9")
	if err != nil {
		t.Fatal(err)
	}
	x, _ := noise{m.Tensor(m.Input).Shape, 1}.Sample(5)
	x.Shape = append([]int{1}, x.Shape...)
	in := m.QuantizeInput(x, 0)
	want, err := m.Eval(in)
	if err != nil {
		t.Fatal(err)
	}
	stats := map[bool]*dpu.Stats{}
	for _, off := range []bool{false, true} {
		p, err := dpu.Compile(m, tg, partition.Split(m, tg), dpu.Options{NoFusion: off})
		if err != nil {
			t.Fatal(err)
		}
		got, st, err := p.RunImage(in)
		if err != nil {
			t.Fatal(err)
		}
		if st.Hazards != 0 {
			t.Errorf("no-fusion %v: %d hazards", off, st.Hazards)
		}
		if !slices.Equal(got[0].Data, want[0].Data) {
			t.Errorf("no-fusion %v: sim and quant-ref differ", off)
		}
		kinds := map[fuse.Kind]int{}
		var names []string
		for _, g := range p.Groups {
			kinds[g.Kind]++
			names = append(names, g.String())
		}
		t.Logf("no-fusion %v: %d cycles, %d DDR bytes; groups %v", off, st.Cycles, st.DDRBytes, names)
		if !off && (kinds[fuse.Resident] < 2 || kinds[fuse.Addressed] < 2) {
			t.Errorf("fused groups %v: want the pooling, the sum and the concatenation fused", names)
		}
		stats[off] = st
	}
	if stats[false].Cycles >= stats[true].Cycles || stats[false].DDRBytes >= stats[true].DDRBytes {
		t.Errorf("fused %d cycles, %d bytes; unfused %d cycles, %d bytes", stats[false].Cycles, stats[false].DDRBytes, stats[true].Cycles, stats[true].DDRBytes)
	}
}
