package trace_test

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"argus/autograd"
	"argus/compiler/executor"
	"argus/compiler/onnx"
	"argus/compiler/trace"
	"argus/compiler/xgraph"
	"argus/nn"
	"argus/tensor"
)

// maxError is the agreement with the Argus model that the export must
// reach, relative to the output's largest magnitude (at least 1).
const maxError = 1e-5

// layer is a model made of a function and the parameters it reads.
type layer struct {
	params []nn.Parameter
	f      func(x *autograd.Var) *autograd.Var
}

func (l layer) Members() nn.Members                   { return nn.Members{Params: l.params} }
func (l layer) Forward(x *autograd.Var) *autograd.Var { return l.f(x) }

// forward runs m in evaluation mode without recording.
func forward(m nn.Layer, x *tensor.Tensor) *tensor.Tensor {
	nn.Train(m, false)
	var y *autograd.Var
	nn.NoGrad(m, func() { y = m.Forward(autograd.Const(x)) })
	return y.Value()
}

// exported traces m on x, writes the graph as ONNX bytes and reads them
// back, as `argus export` and `argus run` do.
func exported(t testing.TB, m nn.Layer, x *tensor.Tensor, opt trace.Options) (*xgraph.Graph, *trace.Result) {
	t.Helper()
	res, err := trace.Model(m, x, opt)
	if err != nil {
		t.Fatal(err)
	}
	data, err := onnx.Encode(res.Graph)
	if err != nil {
		t.Fatal(err)
	}
	g, err := onnx.Read(data)
	if err != nil {
		t.Fatal(err)
	}
	return g, res
}

// run executes g on x, after the standard passes when optimize is set.
func run(t testing.TB, g *xgraph.Graph, x *tensor.Tensor, optimize bool) (*tensor.Tensor, *executor.Executor) {
	t.Helper()
	if optimize {
		if _, err := executor.Optimize(g); err != nil {
			t.Fatal(err)
		}
	}
	e, err := executor.New(g)
	if err != nil {
		t.Fatal(err)
	}
	out, err := e.Run(map[string]*xgraph.Tensor{g.Inputs[0].Name: xgraph.FromDense(x)})
	if err != nil {
		t.Fatal(err)
	}
	return out[0].Dense(), e
}

// compare fails unless got equals want within maxError relative to
// want's largest magnitude.
func compare(t *testing.T, what string, got, want *tensor.Tensor) {
	t.Helper()
	if !tensor.EqualShapes(got.Shape(), want.Shape()) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape(), want.Shape())
	}
	scale := 1.0
	for _, w := range want.Data() {
		scale = math.Max(scale, math.Abs(float64(w)))
	}
	worst := 0.0
	for i, w := range want.Data() {
		worst = math.Max(worst, math.Abs(float64(got.Data()[i]-w)))
	}
	t.Logf("%s: max abs difference %.3g (largest magnitude %.3g)", what, worst, scale)
	if !(worst <= maxError*scale) {
		t.Errorf("%s: max abs difference %.3g, more than %.0e × %.3g", what, worst, maxError, scale)
	}
}

// randomStats gives every batch norm of m running statistics and an
// affine transform that are not the identity (and every bias a value),
// so that the export must carry them.
func randomStats(m nn.Module, rng *tensor.RNG) {
	for _, s := range nn.StateDict(m) {
		d := s.Value.Data()
		switch {
		case s.Integer:
		case strings.HasSuffix(s.Name, "running_var"):
			copy(d, rng.Uniform(0.5, 1.5, len(d)).Data())
		case strings.HasSuffix(s.Name, "running_mean"), strings.HasSuffix(s.Name, "bias"):
			copy(d, rng.Uniform(-0.2, 0.2, len(d)).Data())
		case strings.HasSuffix(s.Name, "weight") && s.Value.Dims() == 1:
			copy(d, rng.Uniform(0.8, 1.2, len(d)).Data())
		}
	}
}

// tiny is a small residual network of nn layers: convolution, batch norm,
// ReLU, max pooling, a residual block, global pooling and a linear
// classifier, as a ResNet has them.
type tiny struct {
	Conv  *nn.Conv2d
	BN    *nn.BatchNorm2d
	Block *nn.Sequential
	FC    *nn.Linear
}

func newTiny(rng *tensor.RNG) *tiny {
	same := autograd.Conv2dOptions{Padding: []int{1, 1}}
	m := &tiny{
		Conv:  nn.NewConv2d(rng, 3, 8, 3, autograd.Conv2dOptions{Stride: []int{2, 2}, Padding: []int{1, 1}}, false),
		BN:    nn.NewBatchNorm2d(8),
		Block: nn.NewSequential(nn.NewConv2d(rng, 8, 8, 3, same, false), nn.NewBatchNorm2d(8)),
		FC:    nn.NewLinear(rng, 8, 5, true),
	}
	randomStats(m, rng)
	return m
}

func (m *tiny) Members() nn.Members {
	return nn.Members{Children: []nn.Child{{Name: "conv1", Module: m.Conv}, {Name: "bn1", Module: m.BN}, {Name: "block", Module: m.Block}, {Name: "fc", Module: m.FC}}}
}

func (m *tiny) Forward(x *autograd.Var) *autograd.Var {
	x = autograd.ReLU(m.BN.Forward(m.Conv.Forward(x)))
	x = autograd.MaxPool2d(x, autograd.MaxPool2dOptions{Kernel: [2]int{3, 3}, Stride: [2]int{2, 2}, Padding: [2]int{1, 1}})
	x = autograd.ReLU(autograd.Add(m.Block.Forward(x), x))
	return m.FC.Forward(autograd.Flatten(autograd.AdaptiveAvgPool2d(x, 1, 1), 1, -1))
}

// TestModel exports the small residual network and checks that the
// executor, node by node and compiled, gives the model's outputs, at the
// traced batch and at another.
func TestModel(t *testing.T) {
	rng := tensor.NewRNG(7)
	m := newTiny(rng)
	x := rng.Uniform(-1, 1, 2, 3, 16, 16)
	g, res := exported(t, m, x, trace.Options{Name: "tiny", OutputName: "logits", DynamicBatch: true})
	want := forward(m, x)
	compare(t, "trace", res.Output, want)
	if s := g.Inputs[0].Shape; s[0] != -1 || s[1] != 3 || g.Outputs[0].Name != "logits" || g.Name != "tiny" {
		t.Errorf("graph %q, input shape %v, output %q", g.Name, s, g.Outputs[0].Name)
	}
	got, e := run(t, g, x, true)
	compare(t, "optimised", got, want)
	if err := e.Compiled(); err != nil {
		t.Errorf("the export %v", err)
	}
	x3 := rng.Uniform(-1, 1, 3, 3, 16, 16)
	got, _ = run(t, g, x3, false)
	compare(t, "batch 3", got, forward(m, x3))
}

// TestNames checks that constants carry the state-dict names and that
// nodes are named after their modules.
func TestNames(t *testing.T) {
	m := newTiny(tensor.NewRNG(1))
	res, err := trace.Model(m, tensor.NewRNG(2).Uniform(0, 1, 1, 3, 16, 16), trace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]bool{}
	for _, v := range res.Graph.Values() {
		if v.Const != nil {
			consts[v.Name] = true
		}
	}
	for _, s := range nn.StateDict(m) {
		if !s.Integer && !consts[s.Name] {
			t.Errorf("state %s is not a constant of the graph", s.Name)
		}
	}
	if n := len(consts); n != 12 {
		t.Errorf("%d constants, want the 12 float entries of the state dict", n)
	}
	nodes := map[string]string{}
	for _, n := range res.Graph.Nodes {
		nodes[n.Name] = n.Op
	}
	for name, op := range map[string]string{"conv1": "Conv", "bn1": "BatchNormalization", "block.0": "Conv", "block.1": "BatchNormalization",
		"fc": "Gemm", "MaxPool": "MaxPool", "Relu": "Relu", "Relu_1": "Relu"} {
		if nodes[name] != op {
			t.Errorf("node %s is %q, want %s", name, nodes[name], op)
		}
	}
	if g := res.Graph; g.Inputs[0].Name != "input" || g.Outputs[0].Name != "output" || g.Inputs[0].Shape[0] != 1 {
		t.Errorf("input %s %v, output %s", g.Inputs[0].Name, g.Inputs[0].Shape, g.Outputs[0].Name)
	}
}

// TestOps traces small functions of each describable kind and checks the
// exported graph against autograd, at the traced batch of 2 and at 3.
// With ARGUS_EXPORT_DIR set it also writes each export there, for
// tools/onnx/check_export.py.
func TestOps(t *testing.T) {
	dir := os.Getenv("ARGUS_EXPORT_DIR")
	rng := tensor.NewRNG(3)
	p := func(name string, shape ...int) nn.Parameter {
		return nn.Parameter{Name: name, Var: autograd.Param(rng.Normal(0, 0.5, shape...))}
	}
	w, b := p("conv.weight", 4, 3, 3, 3), p("conv.bias", 4)
	dw := p("dw.weight", 6, 1, 3, 3)
	lw, lb := p("fc.weight", 5, 12), p("fc.bias", 5)
	mw := p("m.weight", 8, 4)
	bias4 := p("bias", 4, 1, 1)
	mean, vari := rng.Uniform(-1, 1, 3), rng.Uniform(0.5, 2, 3)
	tw, tb := p("up.weight", 3, 2, 3, 3), p("up.bias", 2)
	nw, nb := p("ln.weight", 6), p("ln.bias", 6)
	gw, gb := p("gn.weight", 4), p("gn.bias", 4)
	image := []int{3, 8, 8}
	cases := []struct {
		name   string
		shape  []int // of one item
		params []nn.Parameter
		f      func(x *autograd.Var) *autograd.Var
	}{
		{"conv", image, []nn.Parameter{w, b}, func(x *autograd.Var) *autograd.Var {
			return autograd.Conv2d(x, w.Var, b.Var, autograd.Conv2dOptions{Stride: []int{2, 1}, Padding: []int{1, 2}, Dilation: []int{1, 2}})
		}},
		{"depthwise", image, []nn.Parameter{dw}, func(x *autograd.Var) *autograd.Var {
			return autograd.Conv2d(x, dw.Var, nil, autograd.Conv2dOptions{Padding: []int{1, 1}, Groups: 3})
		}},
		{"pools", image, nil, func(x *autograd.Var) *autograd.Var {
			a := autograd.MaxPool2d(x, autograd.MaxPool2dOptions{Kernel: [2]int{3, 3}, Stride: [2]int{2, 2}, Padding: [2]int{1, 1}})
			c := autograd.AvgPool2d(x, autograd.AvgPool2dOptions{Kernel: [2]int{3, 3}, Stride: [2]int{2, 2}, Padding: [2]int{1, 1}})
			d := autograd.AvgPool2d(x, autograd.AvgPool2dOptions{Kernel: [2]int{3, 3}, Stride: [2]int{2, 2}, Padding: [2]int{1, 1}, ExcludePad: true})
			e := autograd.AdaptiveAvgPool2d(x, 4, 4)
			return autograd.Add(autograd.Add(a, c), autograd.Sub(d, autograd.Mul(e, e)))
		}},
		{"ceil pool", []int{3, 7, 7}, nil, func(x *autograd.Var) *autograd.Var {
			return autograd.MaxPool2d(x, autograd.MaxPool2dOptions{Kernel: [2]int{2, 2}, CeilMode: true})
		}},
		{"global pool", image, nil, func(x *autograd.Var) *autograd.Var {
			return autograd.Flatten(autograd.AdaptiveAvgPool2d(x, 1, 1), 1, -1)
		}},
		{"elementwise", image, []nn.Parameter{bias4}, func(x *autograd.Var) *autograd.Var {
			y := autograd.Conv2d(x, w.Var, nil, autograd.Conv2dOptions{})
			y = autograd.Div(autograd.Add(y, bias4.Var), autograd.AddScalar(autograd.Abs(y), 1))
			y = autograd.Add(autograd.Sigmoid(y), autograd.Tanh(autograd.Scale(y, 2)))
			y = autograd.Add(y, autograd.LeakyReLU(y, 0.1))
			y = autograd.Add(autograd.Clamp(y, -0.5, 0.5), autograd.Clamp(y, 0, float32(math.Inf(1))))
			y = autograd.Add(autograd.Exp(autograd.Neg(y)), autograd.Softplus(y))
			y = autograd.Add(autograd.Log(autograd.AddScalar(autograd.Sqrt(autograd.Pow(y, 2)), 1)), autograd.GELU(y))
			return autograd.ReLU(y)
		}},
		{"attention", []int{2, 5, 4}, nil, func(x *autograd.Var) *autograd.Var {
			out, _ := autograd.Attention(x, autograd.Tanh(x), autograd.Scale(x, 2), 0.7)
			return out
		}},
		{"linear", []int{12}, []nn.Parameter{lw, lb}, func(x *autograd.Var) *autograd.Var {
			return autograd.LogSoftmax(autograd.Linear(x, lw.Var, lb.Var), -1)
		}},
		{"linear 3-D", []int{2, 12}, []nn.Parameter{lw}, func(x *autograd.Var) *autograd.Var {
			return autograd.Softmax(autograd.Linear(x, lw.Var, nil), 1)
		}},
		{"batch norm", image, nil, func(x *autograd.Var) *autograd.Var {
			return autograd.BatchNorm2d(x, nil, nil, mean, vari, autograd.BatchNormOptions{Eps: 1e-3})
		}},
		{"shapes", image, nil, func(x *autograd.Var) *autograd.Var {
			y := autograd.Permute(x, 0, 2, 3, 1)         // N×8×8×3
			y = autograd.Reshape(y, x.Shape()[0], 8, 24) // N×8×24
			y = autograd.Concat([]*autograd.Var{autograd.Slice(y, 2, 10, 24), autograd.Slice(y, 2, 0, 10)}, 2)
			return autograd.Flatten(autograd.Reshape(y, x.Shape()[0], 8, 4, 6), 2, 3)
		}},
		{"reductions", image, nil, func(x *autograd.Var) *autograd.Var {
			a := autograd.MeanAxes(x, false, 2, 3)                            // N×3
			b := autograd.SumAxes(autograd.MeanAxes(x, true, 3), false, 1, 2) // N
			return autograd.Add(a, autograd.Reshape(b, x.Shape()[0], 1))
		}},
		{"conv transpose", image, []nn.Parameter{tw, tb}, func(x *autograd.Var) *autograd.Var {
			return autograd.ConvTranspose2d(x, tw.Var, tb.Var, autograd.ConvTranspose2dOptions{Stride: [2]int{2, 2}, Padding: [2]int{1, 0}, OutputPadding: [2]int{1, 0}})
		}},
		{"layer norm", []int{5, 6}, []nn.Parameter{nw, nb}, func(x *autograd.Var) *autograd.Var {
			return autograd.Add(autograd.LayerNorm(x, []int{6}, nw.Var, nb.Var, 1e-6), autograd.LayerNorm(x, []int{5, 6}, nil, nil, 0))
		}},
		{"group norm", []int{4, 3, 3}, []nn.Parameter{gw, gb}, func(x *autograd.Var) *autograd.Var {
			return autograd.Add(autograd.GroupNorm(x, 2, gw.Var, gb.Var, 0), autograd.GroupNorm(x, 4, nil, nil, 0))
		}},
		{"resize", image, nil, func(x *autograd.Var) *autograd.Var {
			return autograd.Add(autograd.ResizeBilinear(x, 11, 5, false), autograd.ResizeBilinear(x, 11, 5, true))
		}},
		{"resize to 1", image, nil, func(x *autograd.Var) *autograd.Var {
			return autograd.ResizeBilinear(x, 1, 3, false)
		}},
		{"matmul", []int{4}, []nn.Parameter{mw}, func(x *autograd.Var) *autograd.Var {
			return autograd.MatMul(x, autograd.Transpose(mw.Var, 0, 1))
		}},
		{"batched matmul", []int{3, 4}, []nn.Parameter{mw}, func(x *autograd.Var) *autograd.Var {
			return autograd.BatchMatMul(x, autograd.Transpose(mw.Var, 0, 1))
		}},
		{"nearest", image, nil, func(x *autograd.Var) *autograd.Var {
			up := autograd.ResizeNearest(autograd.ResizeNearest(x, 5, 11), 16, 16)
			return autograd.Add(up, autograd.ResizeNearest(x, 16, 16))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := layer{params: c.params, f: c.f}
			x := rng.Uniform(-2, 2, append([]int{2}, c.shape...)...)
			g, res := exported(t, m, x, trace.Options{DynamicBatch: true})
			if dir != "" {
				if err := onnx.Save(filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".onnx"), res.Graph); err != nil {
					t.Fatal(err)
				}
			}
			compare(t, "trace", res.Output, forward(m, x))
			got, _ := run(t, g, x, false)
			compare(t, "executor", got, res.Output)
			x3 := rng.Uniform(-2, 2, append([]int{3}, c.shape...)...)
			got, _ = run(t, g, x3, true)
			compare(t, "batch 3", got, forward(m, x3))
		})
	}
}

// TestOutputs traces a model of two outputs, one computed from the
// other, and checks both from the executor.
func TestOutputs(t *testing.T) {
	rng := tensor.NewRNG(4)
	w := nn.Parameter{Name: "conv.weight", Var: autograd.Param(rng.Normal(0, 0.5, 4, 3, 3, 3))}
	m := layer{params: []nn.Parameter{w}}
	two := func(x *autograd.Var) []*autograd.Var {
		a := autograd.ReLU(autograd.Conv2d(x, w.Var, nil, autograd.Conv2dOptions{Padding: []int{1, 1}}))
		b := autograd.MaxPool2d(a, autograd.MaxPool2dOptions{Kernel: [2]int{2, 2}})
		return []*autograd.Var{a, b}
	}
	x := rng.Uniform(-1, 1, 2, 3, 6, 6)
	res, err := trace.Outputs(m, x, two, []string{"fine", "coarse"}, trace.Options{DynamicBatch: true})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(res.Graph.Outputs); n != 2 || res.Graph.Outputs[0].Name != "fine" || res.Graph.Outputs[1].Name != "coarse" {
		t.Fatalf("graph outputs %v", res.Graph.Outputs)
	}
	e, err := executor.New(res.Graph)
	if err != nil {
		t.Fatal(err)
	}
	x3 := rng.Uniform(-1, 1, 3, 3, 6, 6)
	out, err := e.Run(map[string]*xgraph.Tensor{"input": xgraph.FromDense(x3)})
	if err != nil {
		t.Fatal(err)
	}
	var want []*autograd.Var
	nn.NoGrad(m, func() { want = two(autograd.Const(x3)) })
	for i, name := range []string{"fine", "coarse"} {
		compare(t, name, out[i].Dense(), want[i].Value())
	}
	if _, err := trace.Outputs(m, x, two, []string{"a", "a"}, trace.Options{}); err == nil {
		t.Error("two outputs of one name traced")
	}
	if _, err := trace.Outputs(m, x, two, []string{"a"}, trace.Options{}); err == nil {
		t.Error("two outputs under one name traced")
	}
}

// TestRoIAlign exports RoIAlign on one map (aligned=False, adaptive
// sampling) and on a two-level pyramid whose levels reorder the boxes
// (aligned), writes them as ONNX and checks the executor's output.
func TestRoIAlign(t *testing.T) {
	rng := tensor.NewRNG(6)
	w := nn.Parameter{Name: "conv.weight", Var: autograd.Param(rng.Normal(0, 0.5, 4, 3, 3, 3))}
	boxes := tensor.FromSlice([]float32{
		2, 3, 30, 28, // large: the coarse level
		1, 1, 6, 7,
		-3, 20, 9, 40, // over the border
		10, 10, 12, 11,
	}, 4, 4)
	batch := []int{1, 0, 0, 1}
	cases := []struct {
		name  string
		opset int
		f     func(x *autograd.Var) *autograd.Var
	}{
		{"single", 16, func(x *autograd.Var) *autograd.Var {
			y := autograd.Conv2d(x, w.Var, nil, autograd.Conv2dOptions{Stride: []int{2, 2}, Padding: []int{1, 1}})
			return autograd.RoIAlign(y, boxes, batch, autograd.RoIAlignOptions{OutputSize: [2]int{3, 2}, SpatialScale: 0.5})
		}},
		{"pyramid", 16, func(x *autograd.Var) *autograd.Var {
			p2 := autograd.Conv2d(x, w.Var, nil, autograd.Conv2dOptions{Stride: []int{2, 2}, Padding: []int{1, 1}})
			p3 := autograd.MaxPool2d(p2, autograd.MaxPool2dOptions{Kernel: [2]int{2, 2}})
			return autograd.MultiLevelRoIAlign([]*autograd.Var{p2, p3}, boxes, batch, autograd.PoolerOptions{
				RoIAlignOptions: autograd.RoIAlignOptions{OutputSize: [2]int{2, 2}, SamplingRatio: 2, Aligned: true},
				MinLevel:        1, CanonicalLevel: 2, CanonicalSize: 12, Eps: 1e-6})
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := layer{params: []nn.Parameter{w}, f: c.f}
			x := rng.Uniform(-1, 1, 2, 3, 32, 32)
			if _, err := trace.Model(m, x, trace.Options{DynamicBatch: true}); err == nil || !strings.Contains(err.Error(), "fixed batch") {
				t.Errorf("dynamic batch: error %v, want one asking for a fixed batch", err)
			}
			g, res := exported(t, m, x, trace.Options{})
			if g.Opset != c.opset {
				t.Errorf("operator set %d, want %d", g.Opset, c.opset)
			}
			compare(t, "trace", res.Output, forward(m, x))
			got, _ := run(t, g, x, true)
			compare(t, "executor", got, res.Output)
		})
	}
}

// opaque is an op that does not describe itself.
type opaque struct{ x *autograd.Var }

func (o opaque) Operands() []*autograd.Var { return []*autograd.Var{o.x} }
func (o opaque) Forward() *tensor.Tensor   { return o.x.Value().Clone() }
func (o opaque) Backward(g *tensor.Tensor) []*tensor.Tensor {
	return []*tensor.Tensor{g}
}

func TestErrors(t *testing.T) {
	rng := tensor.NewRNG(4)
	cases := []struct {
		name    string
		m       nn.Layer
		shape   []int
		dynamic bool
		want    string
	}{
		{"opaque op", layer{f: func(x *autograd.Var) *autograd.Var {
			return autograd.ReLU(autograd.Apply(opaque{x}))
		}}, []int{1, 3}, false, "operation trace_test.opaque cannot be exported: it does not describe itself"},
		{"training dropout", layer{f: func(x *autograd.Var) *autograd.Var {
			return autograd.Dropout(x, 0.5, true, rng)
		}}, []int{1, 3}, false, "Dropout on [1 3]: dropout in training mode"},
		{"loss", layer{f: func(x *autograd.Var) *autograd.Var {
			return autograd.SmoothL1Loss(x, autograd.Const(tensor.Zeros(1, 3)), 1, autograd.ReduceNone)
		}}, []int{1, 3}, false, "SmoothL1 on [1 3]: no ONNX translation for SmoothL1"},
		{"batch into features", layer{f: func(x *autograd.Var) *autograd.Var {
			return autograd.Reshape(x, 1, -1)
		}}, []int{2, 3}, true, "reshaping [2 3] to [1 6] moves the batch axis: trace with a fixed batch"},
		{"batch-sized constant", layer{f: func(x *autograd.Var) *autograd.Var {
			return autograd.Add(x, autograd.Const(tensor.Ones(2, 3)))
		}}, []int{2, 3}, true, "holds one row per traced batch item"},
		{"reduction over the batch", layer{f: func(x *autograd.Var) *autograd.Var {
			return autograd.Sum(x)
		}}, []int{2, 3}, true, "a reduction over the batch axis: trace with a fixed batch"},
		{"unexportable op", layer{f: func(x *autograd.Var) *autograd.Var {
			return autograd.IndexSelect(x, 1, []int{0, 2})
		}}, []int{2, 3}, false, "operation *autograd.indexSelectOp cannot be exported: it does not describe itself"},
		{"independent output", layer{f: func(x *autograd.Var) *autograd.Var {
			return autograd.Const(tensor.Zeros(1))
		}}, []int{2, 3}, false, "does not depend on its input"},
		{"identity", layer{f: func(x *autograd.Var) *autograd.Var { return x }}, []int{2, 3}, false, "does not depend on its input"},
		{"wrong input size", newTiny(rng), []int{1, 1, 16, 16}, false, "forward pass on an input of shape [1 1 16 16]: autograd: Conv2d"},
		{"uneven adaptive pool", layer{f: func(x *autograd.Var) *autograd.Var {
			return autograd.AdaptiveAvgPool2d(x, 2, 2)
		}}, []int{1, 1, 5, 5}, false, "windows of different sizes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := trace.Model(c.m, rng.Uniform(0, 1, c.shape...), trace.Options{DynamicBatch: c.dynamic})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			if !strings.HasPrefix(err.Error(), "trace: ") {
				t.Errorf("error %q does not say where it comes from", err)
			}
		})
	}
	for _, opt := range []trace.Options{
		{InputName: "x", OutputName: "x"},
		{OutputName: "fc.bias"},
		{DynamicBatch: true},
	} {
		if _, err := trace.Model(newTiny(rng), tensor.Zeros(1, 3, 16, 16), opt); err == nil {
			t.Errorf("options %+v accepted", opt)
		}
	}
}

// TestCompile checks the executor that Compile returns against the model,
// and that it keeps its own weights.
func TestCompile(t *testing.T) {
	rng := tensor.NewRNG(8)
	m := newTiny(rng)
	e, err := trace.Compile(m, []int{1, 3, 16, 16})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Compiled(); err != nil {
		t.Errorf("the compiled network %v", err)
	}
	x := rng.Uniform(-1, 1, 2, 3, 16, 16)
	want := forward(m, x)
	m.FC.Weight.Value().Data()[0] += 10
	out, err := e.Run(map[string]*xgraph.Tensor{"input": xgraph.FromDense(x)})
	if err != nil {
		t.Fatal(err)
	}
	compare(t, "compiled", out[0].Dense(), want)
}
