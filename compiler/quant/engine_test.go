package quant_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"argus/compiler/executor"
	"argus/compiler/quant"
	"argus/compiler/xgraph"
	"argus/dpu/ref"
)

// graph assembles small graphs of one N×C×H×W input "x" whose constants
// lie on coarse power-of-two grids, so that float32 computes every layer
// exactly and the quantiser represents every weight exactly.
type graph struct {
	g    *xgraph.Graph
	vals map[string]*xgraph.Value
	rng  *rand.Rand
}

func newGraph(c, h, w int) *graph {
	b := &graph{g: &xgraph.Graph{Name: "t", Opset: 13}, vals: map[string]*xgraph.Value{}, rng: rand.New(rand.NewPCG(22, 1))}
	x := b.v("x")
	x.DType, x.Shape, x.Ranked = xgraph.Float32, []int{-1, c, h, w}, true
	b.g.Inputs = []*xgraph.Value{x}
	return b
}

func (b *graph) v(name string) *xgraph.Value {
	if v, ok := b.vals[name]; ok {
		return v
	}
	v := &xgraph.Value{Name: name}
	b.vals[name] = v
	return v
}

// grid returns n values k/2^frac with |k| < 2^bits.
func (b *graph) grid(n, bits, frac int) []float32 {
	f := make([]float32, n)
	for i := range f {
		f[i] = float32(b.rng.IntN(1<<(bits+1))-(1<<bits)) / float32(int(1)<<frac)
	}
	return f
}

func (b *graph) constant(name string, t *xgraph.Tensor) string {
	v := b.v(name)
	v.Const, v.DType, v.Shape, v.Ranked = t, t.DType, t.Shape, true
	return name
}

func (b *graph) node(op string, ins []string, out string, attrs map[string]*xgraph.Attr) string {
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

func ints(v ...int64) *xgraph.Attr { return &xgraph.Attr{Kind: xgraph.AttrInts, Ints: v} }
func one(v int64) *xgraph.Attr     { return &xgraph.Attr{Kind: xgraph.AttrInt, I: v} }

// conv adds a convolution of m filters over c channels with weights in
// steps of 1/16 below 1 and biases in steps of 1/8.
func (b *graph) conv(in, out string, c, m, k, stride int, pads []int64, group int) string {
	w := b.constant(out+".w", xgraph.NewFloat(b.grid(m*c/group*k*k, 4, 4), m, c/group, k, k))
	bias := b.constant(out+".b", xgraph.NewFloat(b.grid(m, 3, 3), m))
	return b.node("Conv", []string{in, w, bias}, out, map[string]*xgraph.Attr{
		"kernel_shape": ints(int64(k), int64(k)), "strides": ints(int64(stride), int64(stride)),
		"pads": ints(pads...), "group": one(int64(group)),
	})
}

func (b *graph) outputs(names ...string) *xgraph.Graph {
	for _, s := range names {
		b.g.Outputs = append(b.g.Outputs, b.v(s))
	}
	return b.g
}

// inputs returns n images on the grid of 1/8 in [−4, 4).
func (b *graph) inputs(n, c, h, w int) samples {
	var s samples
	for i := 0; i < n; i++ {
		s = append(s, xgraph.NewFloat(b.grid(c*h*w, 5, 3), c, h, w))
	}
	return s
}

// TestLayersExact holds every layer of the quant-ref engine to the float
// executor: for each node, the executor's result on the engine's own
// (dequantised) inputs, rounded onto the output's grid with DPU rounding,
// must equal the engine's int8 output bit for bit. The graphs' weights and
// inputs lie on grids the quantiser represents exactly and float32
// computes exactly, so any difference is a mistake in lowering (weight
// layouts, windows), in the shifts or in the engine.
func TestLayersExact(t *testing.T) {
	pad1 := []int64{1, 1, 1, 1}
	tests := []struct {
		name  string
		build func(b *graph) *xgraph.Graph
		c, hw int
		ops   []quant.Op // the layers the graph must lower to
		// tol is the difference allowed in LSBs (the sigmoid's table is
		// computed in float64, the executor's in float32).
		tol int
	}{
		{"conv 3x3 + relu", func(b *graph) *xgraph.Graph {
			b.conv("x", "c", 3, 4, 3, 1, pad1, 1)
			return b.outputs(b.node("Relu", []string{"c"}, "y", nil))
		}, 3, 6, []quant.Op{quant.OpConv}, 0},
		{"conv stride 2, padding at the end only", func(b *graph) *xgraph.Graph {
			return b.outputs(b.conv("x", "y", 3, 5, 3, 2, []int64{0, 0, 1, 1}, 1))
		}, 3, 7, []quant.Op{quant.OpConv}, 0},
		{"depthwise + relu6", func(b *graph) *xgraph.Graph {
			b.conv("x", "c", 4, 4, 3, 1, pad1, 4)
			lo := b.constant("lo", xgraph.NewFloat([]float32{0}))
			hi := b.constant("hi", xgraph.NewFloat([]float32{6}))
			return b.outputs(b.node("Clip", []string{"c", lo, hi}, "y", nil))
		}, 4, 5, []quant.Op{quant.OpDepthwise}, 0},
		{"max pooling 3x3 stride 2 pad 1, standalone relu", func(b *graph) *xgraph.Graph {
			b.conv("x", "c", 3, 4, 1, 1, []int64{0, 0, 0, 0}, 1)
			b.node("MaxPool", []string{"c"}, "p", map[string]*xgraph.Attr{
				"kernel_shape": ints(3, 3), "strides": ints(2, 2), "pads": ints(1, 1, 1, 1)})
			return b.outputs(b.node("Relu", []string{"p"}, "y", nil))
		}, 3, 7, []quant.Op{quant.OpConv, quant.OpMaxPool, quant.OpReLU}, 0},
		{"max pooling 3x3 stride 2 ceil mode", func(b *graph) *xgraph.Graph {
			b.conv("x", "c", 3, 4, 1, 1, []int64{0, 0, 0, 0}, 1)
			return b.outputs(b.node("MaxPool", []string{"c"}, "y", map[string]*xgraph.Attr{
				"kernel_shape": ints(3, 3), "strides": ints(2, 2), "ceil_mode": one(1)}))
		}, 3, 8, []quant.Op{quant.OpConv, quant.OpMaxPool}, 0},
		{"residual add + relu", func(b *graph) *xgraph.Graph {
			b.conv("x", "a", 3, 4, 3, 1, pad1, 1)
			b.conv("a", "bb", 4, 4, 3, 1, pad1, 1)
			b.node("Add", []string{"a", "bb"}, "s", nil)
			return b.outputs(b.node("Relu", []string{"s"}, "y", nil))
		}, 3, 5, []quant.Op{quant.OpConv, quant.OpConv, quant.OpAdd}, 0},
		{"product", func(b *graph) *xgraph.Graph {
			b.conv("x", "a", 2, 3, 1, 1, []int64{0, 0, 0, 0}, 1)
			b.conv("x", "bb", 2, 3, 3, 1, pad1, 1)
			return b.outputs(b.node("Mul", []string{"a", "bb"}, "y", nil))
		}, 2, 4, []quant.Op{quant.OpConv, quant.OpConv, quant.OpMul}, 0},
		{"concat", func(b *graph) *xgraph.Graph {
			b.conv("x", "a", 2, 3, 1, 1, []int64{0, 0, 0, 0}, 1)
			b.conv("x", "bb", 2, 5, 3, 1, pad1, 1)
			return b.outputs(b.node("Concat", []string{"a", "bb"}, "y", map[string]*xgraph.Attr{"axis": one(1)}))
		}, 2, 4, []quant.Op{quant.OpConv, quant.OpConv, quant.OpConcat}, 0},
		{"global average, flatten, fully connected", func(b *graph) *xgraph.Graph {
			b.conv("x", "c", 3, 6, 3, 1, pad1, 1)
			b.node("GlobalAveragePool", []string{"c"}, "g", nil)
			b.node("Flatten", []string{"g"}, "f", map[string]*xgraph.Attr{"axis": one(1)})
			w := b.constant("fc.w", xgraph.NewFloat(b.grid(5*6, 4, 4), 5, 6))
			bias := b.constant("fc.b", xgraph.NewFloat(b.grid(5, 3, 3), 5))
			return b.outputs(b.node("Gemm", []string{"f", w, bias}, "y", map[string]*xgraph.Attr{"transB": one(1)}))
		}, 3, 4, []quant.Op{quant.OpConv, quant.OpAvgPool, quant.OpFlatten, quant.OpFC}, 0},
		{"flatten of a feature map, fully connected without transpose", func(b *graph) *xgraph.Graph {
			b.conv("x", "c", 2, 3, 1, 1, []int64{0, 0, 0, 0}, 1)
			b.node("Flatten", []string{"c"}, "f", map[string]*xgraph.Attr{"axis": one(1)})
			w := b.constant("fc.w", xgraph.NewFloat(b.grid(27*4, 4, 4), 27, 4))
			b.node("Gemm", []string{"f", w}, "fc", nil)
			return b.outputs(b.node("Relu", []string{"fc"}, "y", nil))
		}, 2, 3, []quant.Op{quant.OpConv, quant.OpFlatten, quant.OpFC}, 0},
		{"conv + leaky relu (the DPU's slope 26/256)", func(b *graph) *xgraph.Graph {
			b.conv("x", "c", 3, 4, 3, 1, pad1, 1)
			return b.outputs(b.node("LeakyRelu", []string{"c"}, "y", map[string]*xgraph.Attr{"alpha": {Kind: xgraph.AttrFloat, F: 0.1}}))
		}, 3, 5, []quant.Op{quant.OpConv}, 0},
		{"sigmoid", func(b *graph) *xgraph.Graph {
			b.conv("x", "c", 2, 3, 1, 1, []int64{0, 0, 0, 0}, 1)
			return b.outputs(b.node("Sigmoid", []string{"c"}, "y", nil))
		}, 2, 4, []quant.Op{quant.OpConv, quant.OpSigmoid}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newGraph(tt.c, tt.hw, tt.hw)
			g := tt.build(b)
			src := b.inputs(6, tt.c, tt.hw, tt.hw)
			m, _, err := quant.Quantize(g, src, quant.Options{BatchSize: 2})
			if err != nil {
				t.Fatal(err)
			}
			var ops []quant.Op
			for _, l := range m.Layers {
				ops = append(ops, l.Op)
			}
			if fmt.Sprint(ops) != fmt.Sprint(tt.ops) {
				t.Fatalf("layers %v, want %v", ops, tt.ops)
			}
			for i := range src {
				checkLayers(t, g, m, src[i], tt.tol)
			}
		})
	}
}

// checkLayers runs the engine on image x and every node of g in float32
// on the dequantised engine tensors, and compares each model tensor with
// the float result rounded onto its grid.
func checkLayers(t *testing.T, g *xgraph.Graph, m *quant.Model, x *xgraph.Tensor, tol int) {
	t.Helper()
	batch := x.Reshaped(append([]int{1}, x.Shape...))
	tr, err := m.Trace(m.QuantizeInput(batch, 0))
	if err != nil {
		t.Fatal(err)
	}
	deq := func(v *xgraph.Value) *xgraph.Tensor {
		name := v.Name
		q := tr[name]
		shape := m.Tensor(name).Shape
		f := xgraph.Zero(xgraph.Float32, 1, shape[0], shape[1], shape[2])
		if len(v.Shape) == 2 {
			f = xgraph.Zero(xgraph.Float32, 1, shape[0])
		}
		s := math.Exp2(-float64(m.Tensor(name).Pos))
		for c := 0; c < q.C; c++ {
			for y := 0; y < q.H; y++ {
				for xx := 0; xx < q.W; xx++ {
					f.F[(c*q.H+y)*q.W+xx] = float32(float64(q.Data[(y*q.W+xx)*q.C+c]) * s)
				}
			}
		}
		return f
	}
	env := map[*xgraph.Value]*xgraph.Tensor{g.Inputs[0]: deq(g.Inputs[0])}
	for _, n := range g.Nodes {
		in := make([]*xgraph.Tensor, len(n.Inputs))
		for j, v := range n.Inputs {
			if v.Const != nil {
				in[j] = v.Const
			} else {
				in[j] = env[v]
			}
		}
		out, err := executor.Eval(g.Opset, n, in)
		if err != nil {
			t.Fatal(err)
		}
		if n.Op == "LeakyRelu" {
			// The DPU's slope is 26/256, not the model's 0.1.
			out[0] = in[0].Clone()
			for i, v := range out[0].F {
				if v < 0 {
					out[0].F[i] = v * 26 / 256
				}
			}
		}
		o := n.Outputs[0]
		env[o] = out[0]
		mt := m.Tensor(o.Name)
		if mt == nil {
			continue // inside a fused layer
		}
		got := tr[o.Name]
		for c := 0; c < got.C; c++ {
			for y := 0; y < got.H; y++ {
				for xx := 0; xx < got.W; xx++ {
					want := quant.Fix(float64(out[0].F[(c*got.H+y)*got.W+xx]), mt.Pos, ref.RoundDPU)
					q := got.Data[(y*got.W+xx)*got.C+c]
					if d := int(q) - int(want); d > tol || d < -tol {
						t.Fatalf("node %s: element (%d, %d, %d) = %d, float reference %d (position %d)", n.Label(), c, y, xx, q, want, mt.Pos)
					}
				}
			}
		}
		env[o] = deq(o)
	}
}

// TestAvgPoolFactor checks average pooling with a window the DPU cannot
// divide by exactly: the engine's 3×3 mean is the window sum times 7/64,
// rounded, not the float mean.
func TestAvgPoolFactor(t *testing.T) {
	b := newGraph(2, 6, 6)
	b.conv("x", "c", 2, 3, 1, 1, []int64{0, 0, 0, 0}, 1)
	g := b.outputs(b.node("AveragePool", []string{"c"}, "y", map[string]*xgraph.Attr{"kernel_shape": ints(3, 3), "strides": ints(3, 3)}))
	src := b.inputs(4, 2, 6, 6)
	m, _, err := quant.Quantize(g, src, quant.Options{})
	if err != nil {
		t.Fatal(err)
	}
	l := m.Layers[1]
	if l.Op != quant.OpAvgPool || l.AvgMult != 7 || l.ShiftCut != 6 {
		t.Fatalf("layer %+v, want avgpool 7/2^6", l)
	}
	batch := src[0].Reshaped([]int{1, 2, 6, 6})
	tr, err := m.Trace(m.QuantizeInput(batch, 0))
	if err != nil {
		t.Fatal(err)
	}
	c, y := tr["c"], tr["y"]
	differs := false
	for oy := 0; oy < 2; oy++ {
		for ox := 0; ox < 2; ox++ {
			for ch := 0; ch < 3; ch++ {
				sum := 0
				for ky := 0; ky < 3; ky++ {
					for kx := 0; kx < 3; kx++ {
						sum += int(c.At(oy*3+ky, ox*3+kx, ch))
					}
				}
				want := int8(min(max(math.Floor(float64(sum)*7/64+0.5), -128), 127))
				if got := y.At(oy, ox, ch); got != want {
					t.Errorf("(%d, %d, %d) = %d, want %d (sum %d)", oy, ox, ch, got, want, sum)
				}
				if want != int8(math.Floor(float64(sum)/9+0.5)) {
					differs = true
				}
			}
		}
	}
	if !differs {
		t.Log("no window where 7/64 and 1/9 round apart")
	}
}

func TestQuantizeErrors(t *testing.T) {
	tests := []struct {
		name  string
		build func(b *graph) *xgraph.Graph
		src   int
		want  string
	}{
		{"no samples", func(b *graph) *xgraph.Graph {
			return b.outputs(b.conv("x", "y", 2, 2, 1, 1, []int64{0, 0, 0, 0}, 1))
		}, 0, "no calibration samples"},
		{"unsupported operator", func(b *graph) *xgraph.Graph {
			b.conv("x", "c", 2, 2, 1, 1, []int64{0, 0, 0, 0}, 1)
			return b.outputs(b.node("Softmax", []string{"c"}, "y", map[string]*xgraph.Attr{"axis": one(1)}))
		}, 2, "node y (Softmax): operator Softmax: operator not supported by the quantiser"},
		{"grouped convolution", func(b *graph) *xgraph.Graph {
			return b.outputs(b.conv("x", "y", 2, 4, 1, 1, []int64{0, 0, 0, 0}, 2))
		}, 2, "grouped convolution of 2 groups"},
		{"dilation", func(b *graph) *xgraph.Graph {
			w := b.constant("w", xgraph.NewFloat(b.grid(2*2*9, 4, 4), 2, 2, 3, 3))
			return b.outputs(b.node("Conv", []string{"x", w}, "y", map[string]*xgraph.Attr{"dilations": ints(2, 2), "pads": ints(1, 1, 1, 1)}))
		}, 2, "dilation [2 2]"},
		{"broadcast add", func(b *graph) *xgraph.Graph {
			b.conv("x", "c", 2, 2, 1, 1, []int64{0, 0, 0, 0}, 1)
			b.node("GlobalAveragePool", []string{"c"}, "g", nil)
			return b.outputs(b.node("Add", []string{"c", "g"}, "y", nil))
		}, 2, "broadcasting"},
		{"clip to other bounds", func(b *graph) *xgraph.Graph {
			b.conv("x", "c", 2, 2, 1, 1, []int64{0, 0, 0, 0}, 1)
			lo := b.constant("lo", xgraph.NewFloat([]float32{-1}))
			hi := b.constant("hi", xgraph.NewFloat([]float32{1}))
			b.node("Clip", []string{"c", lo, hi}, "k", nil)
			return b.outputs(b.node("Relu", []string{"k"}, "y", nil))
		}, 2, "bounds other than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newGraph(2, 4, 4)
			g := tt.build(b)
			_, _, err := quant.Quantize(g, b.inputs(tt.src, 2, 4, 4), quant.Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %v, want one line containing %q", err, tt.want)
			}
		})
	}
}
