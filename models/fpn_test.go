package models

import (
	"math"
	"slices"
	"testing"

	"argus/autograd"
	"argus/checkpoint"
	"argus/compiler/executor"
	"argus/compiler/onnx"
	"argus/compiler/trace"
	"argus/compiler/xgraph"
	"argus/internal/golden"
	"argus/nn"
	"argus/tensor"
)

// sampled is a strided sample of a tensor, as tools/golden/models/fpn.py
// writes it: elements 0, step, 2·step, ...
type sampled struct {
	Shape []int
	Step  int
	Data  []float64
}

type fpnGolden struct {
	InputShape []int `json:"input_shape"`
	InputIndex int   `json:"input_index"`
	Archs      map[string]struct {
		Keys  []string
		C, P  []sampled
		PSums []float64 `json:"p_sums"`
		Grads map[string]sampled
	}
}

// compareSample checks got against a strided sample: every element within
// tol of the sample's largest magnitude, and the whole sample within rel
// in relative L2 norm.
func compareSample(t *testing.T, what string, got *tensor.Tensor, want sampled, tol, rel float64) {
	t.Helper()
	if !tensor.EqualShapes(got.Shape(), want.Shape) {
		t.Fatalf("%s: shape %v, torchvision %v", what, got.Shape(), want.Shape)
	}
	scale, norm, errs := 0.0, 0.0, 0.0
	for _, w := range want.Data {
		scale = math.Max(scale, math.Abs(w))
		norm += w * w
	}
	for i, w := range want.Data {
		g := float64(got.Data()[i*want.Step])
		d := math.Abs(g - w)
		if !(d <= tol*scale+1e-6) {
			t.Fatalf("%s: element %d = %.6g, torchvision %.6g (scale %.3g)", what, i*want.Step, g, w, scale)
		}
		errs += d * d
	}
	if math.Sqrt(errs) > rel*math.Sqrt(norm)+1e-6 {
		t.Fatalf("%s: relative L2 error %.3g, more than %.3g", what, math.Sqrt(errs/norm), rel)
	}
}

// TestResNetFPNMatchesTorchvision compares C2–C5, P2–P5 and gradients of
// a weighted sum of P2–P5 with torchvision's IntermediateLayerGetter and
// FeaturePyramidNetwork under the same weights.
func TestResNetFPNMatchesTorchvision(t *testing.T) {
	var g fpnGolden
	golden.Load(t, "testdata/fpn.json", &g)
	for _, arch := range []string{"resnet18", "resnet34", "resnet50"} {
		want := g.Archs[arch]
		t.Run(arch, func(t *testing.T) {
			if arch != "resnet18" && testing.Short() {
				t.Skip("deeper backbones only without -short")
			}
			m, err := NewResNetFPN(tensor.NewRNG(1), depths[arch], 256)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, s := range nn.StateDict(m) {
				names = append(names, s.Name)
			}
			if !slices.Equal(names, want.Keys) {
				t.Fatalf("state dict names differ from torchvision's:\n%v\n%v", names, want.Keys)
			}
			if err := checkpoint.LoadModel(formulaFile(t, m), m); err != nil {
				t.Fatal(err)
			}
			nn.Train(m, false)
			x := autograd.Param(tensor.Zeros(g.InputShape...))
			for i, u := range hashUniform(g.InputIndex, x.Value().Len()) {
				x.Value().Data()[i] = float32(2*u - 1)
			}
			cs := m.Body.Stages(x)
			ps := m.Features(x)
			for l, c := range cs {
				compareSample(t, "C"+string(rune('2'+l)), c.Value(), want.C[l], 1e-4, 1e-5)
			}
			var loss *autograd.Var
			for l, p := range ps {
				compareSample(t, "P"+string(rune('2'+l)), p.Value(), want.P[l], 1e-4, 1e-5)
				var sum float64
				for _, v := range p.Value().Data() {
					sum += float64(v)
				}
				if d := math.Abs(sum - want.PSums[l]); d > 1e-4*math.Abs(want.PSums[l])+1e-2 {
					t.Errorf("sum of P%d = %.6g, torchvision %.6g", l+2, sum, want.PSums[l])
				}
				w := tensor.Zeros(p.Shape()...)
				for i, u := range hashUniform(777+l, w.Len()) {
					w.Data()[i] = float32(2*u - 1)
				}
				term := autograd.Sum(autograd.Mul(p, autograd.Const(w)))
				if loss == nil {
					loss = term
				} else {
					loss = autograd.Add(loss, term)
				}
			}
			loss.Backward()
			params := map[string]*autograd.Var{}
			for _, p := range nn.Parameters(m) {
				params[p.Name] = p.Var
			}
			for name, s := range want.Grads {
				v := x
				if name != "input" {
					v = params[name]
				}
				if v == nil || v.Grad() == nil {
					t.Fatalf("no gradient for %s", name)
				}
				// The golden input keeps its pre-activations clear of
				// ReLU's kink (see the script), where float32 rounding
				// could switch a ReLU and move the gradients by 1%.
				compareSample(t, "gradient of "+name, v.Grad(), s, 1e-3, 1e-4)
			}
		})
	}
}

// TestResNetFPNExport traces the ResNet-18 FPN backbone with its four
// pyramid levels as the graph's outputs, writes it as ONNX and reads it
// back, and checks the executor's P2–P5 against the model's at the traced
// batch and at another.
func TestResNetFPNExport(t *testing.T) {
	rng := tensor.NewRNG(5)
	m, err := NewResNetFPN(rng, 18, 64)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"p2", "p3", "p4", "p5"}
	x := rng.Uniform(-1, 1, 2, 3, 64, 64)
	res, err := trace.Outputs(m, x, m.Features, names, trace.Options{Name: "resnet18-fpn", DynamicBatch: true})
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
	if _, err := executor.Optimize(g); err != nil {
		t.Fatal(err)
	}
	e, err := executor.New(g)
	if err != nil {
		t.Fatal(err)
	}
	x3 := rng.Uniform(-1, 1, 3, 3, 64, 64)
	out, err := e.Run(map[string]*xgraph.Tensor{"input": xgraph.FromDense(x3)})
	if err != nil {
		t.Fatal(err)
	}
	var want []*autograd.Var
	nn.NoGrad(m, func() { want = m.Features(autograd.Const(x3)) })
	for l, name := range names {
		if g.Outputs[l].Name != name {
			t.Fatalf("output %d is %q, want %q", l, g.Outputs[l].Name, name)
		}
		compareSample(t, name, out[l].Dense(), sampled{Shape: want[l].Shape(), Step: 1, Data: float64s(want[l].Value().Data())}, 1e-5, 1e-5)
	}
}

func float64s(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}
