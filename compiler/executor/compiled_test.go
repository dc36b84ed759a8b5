package executor

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"argus/compiler/onnx"
	"argus/compiler/xgraph"
	"argus/tensor"
)

// graphBuilder builds small test graphs on one N×C×H×W input.
type graphBuilder struct {
	g   *xgraph.Graph
	x   *xgraph.Value
	rng *tensor.RNG
}

func newGraphBuilder(c, h, w int) *graphBuilder {
	x := &xgraph.Value{Name: "x", DType: xgraph.Float32, Shape: []int{-1, c, h, w}, Ranked: true}
	return &graphBuilder{g: &xgraph.Graph{Opset: 13, Inputs: []*xgraph.Value{x}}, x: x, rng: tensor.NewRNG(11)}
}

// op adds a node and returns its output.
func (b *graphBuilder) op(op string, attrs map[string]*xgraph.Attr, in ...*xgraph.Value) *xgraph.Value {
	if attrs == nil {
		attrs = map[string]*xgraph.Attr{}
	}
	out := &xgraph.Value{Name: fmt.Sprintf("v%d", len(b.g.Nodes)), DType: xgraph.Float32}
	b.g.Nodes = append(b.g.Nodes, &xgraph.Node{Op: op, Attrs: attrs, Inputs: in, Outputs: []*xgraph.Value{out}})
	return out
}

func (b *graphBuilder) constant(t *xgraph.Tensor) *xgraph.Value {
	return &xgraph.Value{Name: fmt.Sprintf("c%p", t), DType: t.DType, Shape: t.Shape, Ranked: true, Const: t}
}

// param returns a constant of normally distributed values.
func (b *graphBuilder) param(shape ...int) *xgraph.Value {
	return b.constant(randTensor(b.rng, shape...))
}

// conv adds a k×k convolution to m channels with a bias.
func (b *graphBuilder) conv(x *xgraph.Value, c, m, k int, attrs map[string]*xgraph.Attr) *xgraph.Value {
	return b.op("Conv", attrs, x, b.param(m, c, k, k), b.param(m))
}

// bn adds a batch normalisation of c channels.
func (b *graphBuilder) bn(x *xgraph.Value, c int) *xgraph.Value {
	return b.op("BatchNormalization", map[string]*xgraph.Attr{"epsilon": {Kind: xgraph.AttrFloat, F: 1e-3}},
		x, b.param(c), b.param(c), b.param(c), b.constant(xgraph.FromDense(b.rng.Uniform(0.5, 2, c))))
}

func (b *graphBuilder) relu(x *xgraph.Value) *xgraph.Value { return b.op("Relu", nil, x) }

// relErr returns the largest difference between got and want relative to
// want's largest magnitude.
func relErr(got, want *xgraph.Tensor) float64 {
	var d, m float64
	for i, w := range want.F {
		d = math.Max(d, math.Abs(float64(got.F[i]-w)))
		m = math.Max(m, math.Abs(float64(w)))
	}
	return d / math.Max(m, 1e-30)
}

// checkPaths runs e, compiled where it can, and node by node on the batch
// x and compares the outputs. It may be called from several goroutines.
func checkPaths(t *testing.T, e *Executor, x *xgraph.Tensor) {
	t.Helper()
	name := e.g.Inputs[0].Name
	nodes := *e
	nodes.net = nil
	got, err := e.Run(map[string]*xgraph.Tensor{name: x})
	if err != nil {
		t.Error(err)
		return
	}
	want, err := nodes.Run(map[string]*xgraph.Tensor{name: x})
	if err != nil {
		t.Error(err)
		return
	}
	if !slices.Equal(got[0].Shape, want[0].Shape) || got[0].DType != want[0].DType {
		t.Errorf("batch %d: output %s%v, node by node %s%v", x.Shape[0], got[0].DType, got[0].Shape, want[0].DType, want[0].Shape)
		return
	}
	if d := relErr(got[0], want[0]); d > 1e-4 {
		t.Errorf("batch %d: relative difference %g from node by node", x.Shape[0], d)
	}
}

// TestCompiledMatchesNodes builds graphs that infer can express, and some
// that it cannot, and checks which compile and that both paths agree.
func TestCompiledMatchesNodes(t *testing.T) {
	pads := func(p ...int64) map[string]*xgraph.Attr { return map[string]*xgraph.Attr{"pads": ints64(p...)} }
	pool := map[string]*xgraph.Attr{"kernel_shape": ints64(3, 3), "strides": ints64(2, 2), "pads": ints64(1, 1, 1, 1)}
	cases := []struct {
		name     string
		compiled bool
		build    func(b *graphBuilder) *xgraph.Value
	}{
		{"conv", true, func(b *graphBuilder) *xgraph.Value { return b.conv(b.x, 3, 5, 3, pads(1, 1, 1, 1)) }},
		{"conv bn relu strided dilated", true, func(b *graphBuilder) *xgraph.Value {
			c := b.conv(b.x, 3, 6, 3, map[string]*xgraph.Attr{"strides": ints64(2, 1), "dilations": ints64(2, 2), "pads": ints64(2, 1, 2, 1)})
			return b.relu(b.bn(c, 6))
		}},
		{"residual block with downsample", true, func(b *graphBuilder) *xgraph.Value {
			c1 := b.relu(b.bn(b.conv(b.x, 3, 8, 3, pads(1, 1, 1, 1)), 8))
			c2 := b.bn(b.conv(c1, 8, 8, 3, pads(1, 1, 1, 1)), 8)
			d := b.bn(b.op("Conv", nil, b.x, b.param(8, 3, 1, 1)), 8)
			return b.relu(b.op("Add", nil, c2, d))
		}},
		{"residual input", true, func(b *graphBuilder) *xgraph.Value {
			return b.relu(b.op("Add", nil, b.x, b.conv(b.x, 3, 3, 3, pads(1, 1, 1, 1))))
		}},
		{"classifier", true, func(b *graphBuilder) *xgraph.Value {
			c := b.relu(b.conv(b.x, 3, 8, 3, pads(1, 1, 1, 1)))
			p := b.op("GlobalAveragePool", nil, b.op("MaxPool", pool, c))
			f := b.op("Flatten", map[string]*xgraph.Attr{"axis": int64Attr(1)}, p)
			return b.op("Gemm", map[string]*xgraph.Attr{"transB": int64Attr(1)}, f, b.param(4, 8), b.param(4))
		}},
		{"reshape gemm", true, func(b *graphBuilder) *xgraph.Value {
			p := b.op("GlobalAveragePool", nil, b.conv(b.x, 3, 8, 1, nil))
			f := b.op("Reshape", nil, p, b.constant(xgraph.NewInt(xgraph.Int64, []int64{0, -1}, 2)))
			return b.op("Gemm", nil, f, b.param(8, 4), b.param(1, 4))
		}},
		{"matmul add", true, func(b *graphBuilder) *xgraph.Value {
			f := b.op("Flatten", nil, b.op("GlobalAveragePool", nil, b.x))
			return b.op("Add", nil, b.param(5), b.op("MatMul", nil, f, b.param(3, 5)))
		}},
		{"pooled output", true, func(b *graphBuilder) *xgraph.Value {
			return b.op("GlobalAveragePool", nil, b.conv(b.x, 3, 4, 3, nil))
		}},
		{"rectangular pool", true, func(b *graphBuilder) *xgraph.Value {
			return b.op("MaxPool", map[string]*xgraph.Attr{"kernel_shape": ints64(2, 3), "strides": ints64(2, 1), "auto_pad": strAttr("VALID")}, b.x)
		}},
		{"depthwise relu6 inverted residual", true, func(b *graphBuilder) *xgraph.Value {
			six := func() []*xgraph.Value {
				return []*xgraph.Value{b.constant(xgraph.NewFloat([]float32{0}, 1)), b.constant(xgraph.NewFloat([]float32{6}, 1))}
			}
			e := b.bn(b.conv(b.x, 3, 12, 1, nil), 12)
			e = b.op("Clip", nil, append([]*xgraph.Value{e}, six()...)...)
			d := b.bn(b.op("Conv", map[string]*xgraph.Attr{"group": int64Attr(12), "pads": ints64(1, 1, 1, 1)}, e, b.param(12, 1, 3, 3)), 12)
			d = b.op("Clip", nil, append([]*xgraph.Value{d}, six()...)...)
			return b.op("Add", nil, b.x, b.bn(b.conv(d, 12, 3, 1, nil), 3))
		}},
		{"clip attributes after relu", true, func(b *graphBuilder) *xgraph.Value {
			b.g.Opset = 10 // bounds as attributes
			c := b.relu(b.conv(b.x, 3, 4, 3, pads(1, 1, 1, 1)))
			return b.op("Clip", map[string]*xgraph.Attr{"max": floatAttr(0.5)}, c)
		}},
		{"relu after clip", false, func(b *graphBuilder) *xgraph.Value {
			return b.relu(b.op("Clip", map[string]*xgraph.Attr{"min": floatAttr(-1)}, b.conv(b.x, 3, 4, 3, nil)))
		}},
		{"asymmetric pads", true, func(b *graphBuilder) *xgraph.Value { return b.conv(b.x, 3, 4, 3, pads(0, 0, 1, 1)) }},
		{"asymmetric pool", true, func(b *graphBuilder) *xgraph.Value {
			return b.op("MaxPool", map[string]*xgraph.Attr{"kernel_shape": ints64(3, 2), "pads": ints64(0, 1, 1, 0)}, b.x)
		}},
		{"same upper depthwise", true, func(b *graphBuilder) *xgraph.Value {
			return b.op("Conv", map[string]*xgraph.Attr{"group": int64Attr(3), "auto_pad": strAttr("SAME_UPPER"), "strides": ints64(2, 2)}, b.x, b.param(3, 1, 4, 4))
		}},
		{"grouped", false, func(b *graphBuilder) *xgraph.Value {
			return b.op("Conv", map[string]*xgraph.Attr{"group": int64Attr(3)}, b.x, b.param(6, 1, 3, 3))
		}},
		{"sigmoid", false, func(b *graphBuilder) *xgraph.Value { return b.op("Sigmoid", nil, b.conv(b.x, 3, 4, 3, nil)) }},
		{"relu after pooling", false, func(b *graphBuilder) *xgraph.Value { return b.relu(b.op("MaxPool", pool, b.x)) }},
		{"ceil mode", false, func(b *graphBuilder) *xgraph.Value {
			return b.op("MaxPool", map[string]*xgraph.Attr{"kernel_shape": ints64(2, 2), "strides": ints64(2, 2), "ceil_mode": int64Attr(1)}, b.x)
		}},
		{"relu of a shared convolution", false, func(b *graphBuilder) *xgraph.Value {
			c := b.conv(b.x, 3, 4, 3, pads(1, 1, 1, 1))
			return b.op("Add", nil, b.relu(c), c)
		}},
		{"constant addend", false, func(b *graphBuilder) *xgraph.Value {
			return b.op("Add", nil, b.conv(b.x, 3, 4, 3, nil), b.param(4, 1, 1))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newGraphBuilder(3, 9, 10)
			b.g.Outputs = []*xgraph.Value{c.build(b)}
			e, err := New(b.g)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Compiled(); (err == nil) != c.compiled || (e.net != nil) != c.compiled {
				t.Fatalf("Compiled() = %v, want compiled %v", err, c.compiled)
			}
			for _, n := range []int{1, 3} {
				checkPaths(t, e, randTensor(b.rng, n, 3, 9, 10))
			}
		})
	}
}

// TestCompiledInputs checks that inputs the compiled network does not take
// go to the node-by-node path, which checks them.
func TestCompiledInputs(t *testing.T) {
	b := newGraphBuilder(2, 4, 4)
	b.g.Outputs = []*xgraph.Value{b.relu(b.conv(b.x, 2, 3, 3, nil))}
	e, err := New(b.g)
	if err != nil || e.net == nil {
		t.Fatalf("not compiled: %v", err)
	}
	x := randTensor(b.rng, 1, 2, 4, 4)
	float64s := *x
	float64s.DType = xgraph.Float64
	out, err := e.Run(map[string]*xgraph.Tensor{"x": &float64s})
	if err != nil || out[0].DType != xgraph.Float64 {
		t.Errorf("float64 input: %v, %v", out, err)
	}
	for name, feed := range map[string]map[string]*xgraph.Tensor{
		"missing":     {},
		"wrong shape": {"x": randTensor(b.rng, 1, 3, 4, 4)},
		"wrong type":  {"x": xgraph.NewInt(xgraph.Int64, make([]int64, 32), 1, 2, 4, 4)},
	} {
		if _, err := e.Run(feed); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestCompiledModels runs the reduced ResNet-18 and MobileNet-V2, as
// imported and with their batch norms folded, compiled and node by node,
// from several goroutines at once. As imported, MobileNet-V2's Clip bounds
// come from Constant nodes, which keep it node by node until Optimize folds
// them.
func TestCompiledModels(t *testing.T) {
	dir := filepath.Join("..", "onnx", "testdata", "models")
	for _, c := range []struct {
		model    string
		optimize bool
		compiled bool
	}{
		{"resnet18_small", false, true},
		{"resnet18_small", true, true},
		{"mobilenet_v2_small", false, false},
		{"mobilenet_v2_small", true, true},
	} {
		t.Run(fmt.Sprintf("%s/optimized=%v", c.model, c.optimize), func(t *testing.T) {
			g, err := onnx.Load(filepath.Join(dir, c.model, "model.onnx"))
			if err != nil {
				t.Fatal(err)
			}
			if c.optimize {
				if _, err := Optimize(g); err != nil {
					t.Fatal(err)
				}
			}
			e, err := New(g)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := compile(g); (err == nil) != c.compiled || (e.net != nil) != c.compiled {
				t.Fatalf("compile error %v, want compiled %v", err, c.compiled)
			}
			x, _, err := onnx.ReadTensor(filepath.Join(dir, c.model, "test_data_set_0", "input_0.pb"))
			if err != nil {
				t.Fatal(err)
			}
			first := xgraph.NewFloat(x.F[:x.Len()/x.Shape[0]], append([]int{1}, x.Shape[1:]...)...)
			var wg sync.WaitGroup
			for i := range 4 {
				wg.Go(func() {
					if i%2 == 0 {
						checkPaths(t, e, x)
					} else {
						checkPaths(t, e, first)
					}
				})
			}
			wg.Wait()
		})
	}
}
