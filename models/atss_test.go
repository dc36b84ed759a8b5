package models

import (
	"slices"
	"testing"

	"argus/autograd"
	"argus/checkpoint"
	"argus/internal/golden"
	"argus/nn"
	"argus/tensor"
)

// TestResNetFPNP3P7MatchesTorchvision compares P3–P7 of ResNet-18's
// RetinaNet pyramid, and gradients of a weighted sum of them, with
// torchvision's BackboneWithFPN and LastLevelP6P7 under the same weights,
// and the ATSS detectors' parameter counts with the PyTorch build's.
func TestResNetFPNP3P7MatchesTorchvision(t *testing.T) {
	var g struct {
		InputShape []int `json:"input_shape"`
		InputIndex int   `json:"input_index"`
		Keys       []string
		P          []sampled
		Grads      map[string]sampled
		ATSSParams map[string]int `json:"atss_params"`
	}
	golden.Load(t, "testdata/fpn_p3p7.json", &g)
	m, err := NewResNetFPNP3P7(tensor.NewRNG(1), 18, 256)
	if err != nil {
		t.Fatal(err)
	}
	if s := m.Strides(); !slices.Equal(s, []int{8, 16, 32, 64, 128}) {
		t.Fatalf("strides %v", s)
	}
	var names []string
	for _, s := range nn.StateDict(m) {
		names = append(names, s.Name)
	}
	if !slices.Equal(names, g.Keys) {
		t.Fatalf("state dict names differ from torchvision's:\n%v\n%v", names, g.Keys)
	}
	if err := checkpoint.LoadModel(formulaFile(t, m), m); err != nil {
		t.Fatal(err)
	}
	nn.Train(m, false)
	x := autograd.Param(tensor.Zeros(g.InputShape...))
	for i, u := range hashUniform(g.InputIndex, x.Value().Len()) {
		x.Value().Data()[i] = float32(2*u - 1)
	}
	ps := m.Features(x)
	if len(ps) != 5 {
		t.Fatalf("%d levels, want 5", len(ps))
	}
	var loss *autograd.Var
	for l, p := range ps {
		compareSample(t, "P"+string(rune('3'+l)), p.Value(), g.P[l], 1e-4, 1e-5)
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
	for name, s := range g.Grads {
		v := x
		if name != "input" {
			v = params[name]
		}
		if v == nil || v.Grad() == nil {
			t.Fatalf("no gradient for %s", name)
		}
		compareSample(t, "gradient of "+name, v.Grad(), s, 1e-3, 1e-4)
	}
	for name, want := range map[string]int{"atss-r18": g.ATSSParams["resnet18"], "atss-r50": g.ATSSParams["resnet50"]} {
		if testing.Short() && name == "atss-r50" {
			continue
		}
		d, err := New(name, tensor.NewRNG(1))
		if err != nil {
			t.Fatal(err)
		}
		if n := nn.NumParams(d); n != want {
			t.Errorf("%s: %d parameters, the PyTorch build %d", name, n, want)
		}
	}
}

// TestATSSForward checks the shape of the detector's raw output on a
// non-square image whose sides the last stride does not divide.
func TestATSSForward(t *testing.T) {
	d, err := NewATSS(tensor.NewRNG(2), 18, 7)
	if err != nil {
		t.Fatal(err)
	}
	var out *autograd.Var
	nn.NoGrad(d, func() { out = d.Forward(autograd.Const(tensor.NewRNG(3).Uniform(0, 1, 1, 3, 160, 128))) })
	// P3 20×16, P4 10×8, P5 5×4, P6 3×2, P7 2×1.
	if s := out.Shape(); !slices.Equal(s, []int{1, 320 + 80 + 20 + 6 + 2, 7 + 5}) {
		t.Fatalf("output shape %v", s)
	}
}
