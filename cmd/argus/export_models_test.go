package main

import (
	"math"
	"strconv"
	"strings"
	"testing"

	"argus/autograd"
	"argus/compiler/executor"
	"argus/compiler/onnx"
	"argus/compiler/trace"
	"argus/compiler/xgraph"
	"argus/internal/cputime"
	"argus/models"
	"argus/nn"
	"argus/tensor"
)

// The model-level export tests live with the command: the compiler layer
// imports no models.

// evalForward runs m in evaluation mode without recording.
func evalForward(m nn.Layer, x *tensor.Tensor) *tensor.Tensor {
	nn.Train(m, false)
	var y *autograd.Var
	nn.NoGrad(m, func() { y = m.Forward(autograd.Const(x)) })
	return y.Value()
}

// exportGraph traces m on x with a dynamic batch, encodes the graph as ONNX
// and reads it back, as `argus export` and `argus run` do.
func exportGraph(t testing.TB, m nn.Layer, x *tensor.Tensor) (*xgraph.Graph, *trace.Result) {
	t.Helper()
	res, err := trace.Model(m, x, trace.Options{Name: "model", DynamicBatch: true})
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

// execute runs g on x, after the standard passes when optimize is set.
func execute(t testing.TB, g *xgraph.Graph, x *tensor.Tensor, optimize bool) (*tensor.Tensor, *executor.Executor) {
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

// closeTo fails unless got equals want within 1e-5 of want's largest
// magnitude (at least 1).
func closeTo(t *testing.T, what string, got, want *tensor.Tensor) {
	t.Helper()
	if !tensor.EqualShapes(got.Shape(), want.Shape()) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape(), want.Shape())
	}
	scale, worst := 1.0, 0.0
	for i, w := range want.Data() {
		scale = math.Max(scale, math.Abs(float64(w)))
		worst = math.Max(worst, math.Abs(float64(got.Data()[i]-w)))
	}
	t.Logf("%s: max abs difference %.3g (largest magnitude %.3g)", what, worst, scale)
	if !(worst <= 1e-5*scale) {
		t.Errorf("%s: max abs difference %.3g, more than 1e-5 × %.3g", what, worst, scale)
	}
}

// randomState gives every batch norm running statistics and an affine
// transform that are not the identity, so that the export must carry them.
func randomState(m nn.Module, rng *tensor.RNG) {
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

// nodeByNode returns a copy of g that the executor cannot compile, an
// Identity node after its output, so that its other nodes run one by one
// as an ONNX runtime would run them.
func nodeByNode(g *xgraph.Graph) *xgraph.Graph {
	c := *g
	out := g.Outputs[0]
	id := &xgraph.Value{Name: out.Name + "_identity", DType: out.DType, Shape: out.Shape, Ranked: out.Ranked}
	c.Nodes = append(append([]*xgraph.Node{}, g.Nodes...), &xgraph.Node{Name: "identity", Op: "Identity",
		Inputs: []*xgraph.Value{out}, Outputs: []*xgraph.Value{id}, Attrs: map[string]*xgraph.Attr{}})
	c.Outputs = []*xgraph.Value{id}
	return &c
}

// TestExportModels exports every registered model with seeded random
// weights and batch-norm statistics and checks that the executor, as
// imported, node by node, and after the standard passes (compiled for the
// ResNets), gives the Argus model's outputs, at the traced batch of 2 and at 3. With -short
// only the MNIST CNN and ResNet-18 at 64×64 run; without, every model at
// its smallest size (deit-tiny for the ViTs) and ResNet-18 at 224×224.
func TestExportModels(t *testing.T) {
	type tc struct {
		name string
		size int
	}
	cases := []tc{{"mnist-cnn", 28}, {"resnet18", 64}}
	if !testing.Short() {
		cases = append(cases, tc{"resnet18", 224})
		for _, name := range models.Names() {
			// deit-tiny stands for the ViTs: deit-small and vit-base are
			// the same graph, wider, at 224×224 (tens of seconds each).
			if spec, _ := models.Lookup(name); name != "mnist-cnn" && name != "resnet18" && name != "deit-small" && name != "vit-base" {
				cases = append(cases, tc{name, spec.MinSize})
			}
		}
	}
	for _, c := range cases {
		t.Run(c.name+"/"+strconv.Itoa(c.size), func(t *testing.T) {
			rng := tensor.NewRNG(7)
			spec, err := models.Lookup(c.name)
			if err != nil {
				t.Fatal(err)
			}
			m, err := spec.New(rng)
			if err != nil {
				t.Fatal(err)
			}
			randomState(m, rng)
			h, w := c.size, c.size
			if spec.FixedSize {
				h, w = spec.Height, spec.Width
			}
			x := rng.Uniform(-1, 1, 2, spec.Channels, h, w)
			g, res := exportGraph(t, m, x)
			// The initialisers carry the state dict's (torchvision's) names.
			inits := map[string]bool{}
			for _, v := range g.Values() {
				if v.Const != nil {
					inits[v.Name] = true
				}
			}
			_, reid := m.(*models.ReID)
			_, psp := m.(*models.PSPNet)
			for _, st := range nn.StateDict(m) {
				// A re-ID network's classifier serves training only: in
				// evaluation it gives the neck's feature. So does PSPNet's
				// auxiliary head.
				if reid && strings.HasPrefix(st.Name, "classifier.") || psp && strings.HasPrefix(st.Name, "auxiliary_head.") {
					continue
				}
				if !st.Integer && !inits[st.Name] {
					t.Fatalf("state %s is not an initialiser of the export", st.Name)
				}
			}
			want := evalForward(m, x)
			closeTo(t, "trace", res.Output, want)
			got, _ := execute(t, g, x, false)
			closeTo(t, "executor", got, want)
			got, e := execute(t, nodeByNode(g), x, false)
			closeTo(t, "node by node", got, want)
			if e.Compiled() == nil {
				t.Error("the graph with an Identity at its end runs compiled")
			}
			got, e = execute(t, g, x, true)
			closeTo(t, "optimised", got, want)
			if strings.HasPrefix(c.name, "resnet") && e.Compiled() != nil {
				t.Errorf("the exported ResNet %v", e.Compiled())
			}
			x3 := rng.Uniform(-1, 1, 3, spec.Channels, h, w)
			got, _ = execute(t, g, x3, true)
			closeTo(t, "batch 3", got, evalForward(m, x3))
		})
	}
}

// BenchmarkExportInference times the exports of ResNet-18 (batch 1,
// 224×224) and of the MNIST CNN (batch 1 and 64) on the executor, as
// `argus run` executes them, beside MNISTNet.Inference, the hand-written
// translation that the MNIST export does not yet match. Until commit
// 519b3ae ResNet-18 ran beside models.ResNet.Inference, which its export
// replaced at the same speed (docs/perf/onnx.md).
func BenchmarkExportInference(b *testing.B) {
	r18, _ := models.NewResNet(tensor.NewRNG(1), 18, 1000)
	mnist := models.NewMNISTNet(tensor.NewRNG(1))
	nn.Train(mnist, false)
	exported := func(b *testing.B, m nn.Layer, x *tensor.Tensor) {
		g, _ := exportGraph(b, m, x)
		_, e := execute(b, g, x, true)
		in := map[string]*xgraph.Tensor{g.Inputs[0].Name: xgraph.FromDense(x)}
		timeCalls(b, func() error { _, err := e.Run(in); return err })
	}
	b.Run("resnet18/export/batch=1", func(b *testing.B) {
		exported(b, r18, tensor.NewRNG(2).Uniform(0, 1, 1, 3, 224, 224))
	})
	for _, n := range []int{1, 64} {
		x := tensor.NewRNG(2).Uniform(0, 1, n, 1, 28, 28)
		b.Run("mnist-cnn/hand-written/batch="+strconv.Itoa(n), func(b *testing.B) {
			net, err := mnist.Inference()
			if err != nil {
				b.Fatal(err)
			}
			timeCalls(b, func() error { _, err := net.Run(x); return err })
		})
		b.Run("mnist-cnn/export/batch="+strconv.Itoa(n), func(b *testing.B) { exported(b, mnist, x) })
	}
}

// timeCalls runs fn in the benchmark loop and reports wall and CPU
// milliseconds per call (one batch); on a shared machine the CPU time is
// the steadier.
func timeCalls(b *testing.B, fn func() error) {
	cpu0 := cputime.Now()
	for b.Loop() {
		if err := fn(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/batch")
	if cputime.Known {
		b.ReportMetric(float64(cputime.Now()-cpu0)/1e6/float64(b.N), "cpu-ms/batch")
	}
}
