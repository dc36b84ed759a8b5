package models

import (
	"math"
	"slices"
	"strings"
	"testing"

	"argus/autograd"
	"argus/checkpoint"
	"argus/internal/golden"
	"argus/nn"
	"argus/tensor"
)

type reidGolden struct {
	Keys  [][3]any
	Train struct {
		InputShape []int `json:"input_shape"`
		P          float32
		Feature    []float64
		Neck       []float64
		Logits     []float64
		Weights    [][]float32
		Grads      map[string][]float64
	}
	Eval struct {
		Neck []float64
	}
}

// closeTo fails unless got matches want within tol of want's largest
// magnitude (float32 against PyTorch's float64).
func closeTo(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	scale := 0.0
	for _, w := range want {
		scale = math.Max(scale, math.Abs(w))
	}
	for i, w := range want {
		if d := math.Abs(float64(got[i]) - w); d > tol*scale+1e-6 {
			t.Fatalf("%s[%d] = %.6g, PyTorch %.6g (scale %.3g)", what, i, got[i], w, scale)
		}
	}
}

// TestReIDStateDictMatchesStrongBaseline checks the names, order and shapes
// of the ResNet-50 re-ID network against the PyTorch module of
// tools/golden/models/reid.py.
func TestReIDStateDictMatchesStrongBaseline(t *testing.T) {
	var g reidGolden
	golden.Load(t, "testdata/reid.json", &g)
	m, err := NewReIDResNet(tensor.NewRNG(1), 50, 751)
	if err != nil {
		t.Fatal(err)
	}
	sd := nn.StateDict(m)
	if len(sd) != len(g.Keys) {
		t.Fatalf("%d entries, PyTorch %d", len(sd), len(g.Keys))
	}
	for i, k := range g.Keys {
		var shape []int
		for _, d := range k[1].([]any) {
			shape = append(shape, int(d.(float64)))
		}
		if sd[i].Name != k[0] || !slices.Equal(sd[i].Value.Shape(), shape) || sd[i].Integer != (k[2] == "I64") {
			t.Fatalf("entry %d: %s %v, PyTorch %s %v", i, sd[i].Name, sd[i].Value.Shape(), k[0], shape)
		}
	}
	if m.Bottleneck.Bias.RequiresGrad() || !m.Bottleneck.Weight.RequiresGrad() || !m.Pool.P.RequiresGrad() {
		t.Error("the neck's bias should be frozen, its weight and GeM's p trainable")
	}
	if m.Classifier.Bias != nil {
		t.Error("the classifier has a bias")
	}
	if p := m.Pool.P.Value().Data()[0]; p != 3 {
		t.Errorf("GeM p initialised to %g, want 3", p)
	}
}

// TestReIDMatchesTorch runs the reduced ResNet-18 network in training mode
// (batch statistics) and compares its three outputs and the gradients of a
// weighted sum of them with PyTorch's, then its evaluation output.
func TestReIDMatchesTorch(t *testing.T) {
	var g reidGolden
	golden.Load(t, "testdata/reid.json", &g)
	m, err := NewReIDResNet(tensor.NewRNG(1), 18, 5)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkpoint.LoadModel(formulaFile(t, m), m); err != nil {
		t.Fatal(err)
	}
	m.Pool.P.Value().Data()[0] = g.Train.P
	x := autograd.Const(hashInput(g.Train.InputShape))
	out := m.Outputs(x)
	// The neck divides by the standard deviation over a batch of 4, which
	// for some channels is a thirtieth of the feature's scale: float32
	// rounding of the backbone grows by as much after it.
	closeTo(t, "feature", out.Feature.Value().Data(), g.Train.Feature, 1e-4)
	closeTo(t, "neck", out.Neck.Value().Data(), g.Train.Neck, 1e-3)
	closeTo(t, "logits", out.Logits.Value().Data(), g.Train.Logits, 1e-3)
	var loss *autograd.Var
	for i, v := range []*autograd.Var{out.Feature, out.Neck, out.Logits} {
		w := autograd.Const(tensor.Wrap(g.Train.Weights[i], v.Shape()...))
		s := autograd.Sum(autograd.Mul(v, w))
		if loss == nil {
			loss = s
		} else {
			loss = autograd.Add(loss, s)
		}
	}
	loss.Backward()
	params := map[string]*autograd.Var{}
	for _, p := range nn.Parameters(m) {
		params[p.Name] = p.Var
	}
	for name, want := range g.Train.Grads {
		grad := params[name].Grad()
		if grad == nil {
			t.Fatalf("no gradient for %s", name)
		}
		closeTo(t, "grad "+name, grad.Data(), want, 1e-3)
	}
	if params["bottleneck.bias"].Grad() != nil {
		t.Error("the frozen neck bias received a gradient")
	}
	nn.Train(m, false)
	var y *autograd.Var
	nn.NoGrad(m, func() { y = m.Forward(x) })
	closeTo(t, "eval output", y.Value().Data(), g.Eval.Neck, 1e-4)
}

// TestReIDForwardModes checks the output shapes of each registered re-ID
// model in both modes.
func TestReIDForwardModes(t *testing.T) {
	tests := []struct {
		name string
		dim  int
		h, w int
	}{
		{"reid-resnet18", 512, 64, 32},
		{"reid-deit-tiny", 192, 256, 128},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Lookup(tc.name)
			if err != nil {
				t.Fatal(err)
			}
			s, _ = s.WithClasses(7)
			l, err := s.New(tensor.NewRNG(1))
			if err != nil {
				t.Fatal(err)
			}
			m := l.(*ReID)
			x := autograd.Const(tensor.NewRNG(2).Uniform(-1, 1, 2, 3, tc.h, tc.w))
			var train, eval *autograd.Var
			nn.NoGrad(m, func() { train = m.Forward(x) })
			nn.Train(m, false)
			nn.NoGrad(m, func() { eval = m.Forward(x) })
			if !slices.Equal(train.Shape(), []int{2, 7}) || !slices.Equal(eval.Shape(), []int{2, tc.dim}) {
				t.Errorf("training output %v, evaluation %v; want [2 7] and [2 %d]", train.Shape(), eval.Shape(), tc.dim)
			}
		})
	}
}

// TestResNetLastStride checks that a last stride of 1 doubles C5's
// resolution and keeps the state dict.
func TestResNetLastStride(t *testing.T) {
	for _, depth := range []int{18, 50} {
		r, _ := NewResNet(tensor.NewRNG(1), depth, 0)
		before := len(nn.StateDict(r))
		if err := r.SetLastStride(1); err != nil {
			t.Fatal(err)
		}
		var c5 *autograd.Var
		nn.NoGrad(r, func() { c5 = r.Stages(autograd.Const(tensor.Zeros(1, 3, 64, 32)))[3] })
		if s := c5.Shape(); s[2] != 4 || s[3] != 2 {
			t.Errorf("resnet%d: C5 %v, want 4×2 (stride 16)", depth, s)
		}
		if len(nn.StateDict(r)) != before {
			t.Errorf("resnet%d: the state dict changed", depth)
		}
	}
	r, _ := NewResNet(tensor.NewRNG(1), 18, 0)
	if err := r.SetLastStride(3); err == nil {
		t.Error("last stride 3 accepted")
	}
}

// TestLoadBackbone loads a torchvision classifier's state dict into the
// re-ID backbone: fc.* is skipped and named, anything else that does not
// fit fails.
func TestLoadBackbone(t *testing.T) {
	src, _ := NewResNet(tensor.NewRNG(1), 18, 1000)
	f := formulaFile(t, src)
	m, _ := NewReIDResNet(tensor.NewRNG(2), 18, 5)
	ignored, err := LoadBackbone(f, m)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ignored, []string{"fc.bias", "fc.weight"}) {
		t.Errorf("ignored %v, want fc.bias and fc.weight", ignored)
	}
	want := f.Tensors["layer4.1.conv2.weight"]
	w, _ := want.Float32()
	got := m.Base.(*ResNet).Layers[3].Layers[1].(*Block).Conv2.Weight.Value()
	if !slices.Equal(got.Data(), w.Data()) {
		t.Error("layer4.1.conv2.weight not loaded")
	}

	bad := checkpoint.NewFile()
	for _, name := range f.Names {
		if name != "layer1.0.conv1.weight" {
			bad.Add(name, f.Tensors[name])
		}
	}
	if _, err := LoadBackbone(bad, m); err == nil || !strings.Contains(err.Error(), "missing: layer1.0.conv1.weight") {
		t.Errorf("a state dict without layer1.0.conv1.weight: %v", err)
	}
}

// TestLoadBackboneViT loads a timm DeiT-tiny state dict (a 14×14 grid)
// into reid-deit-tiny (16×8): head.* is skipped and named, the position
// embedding is resampled.
func TestLoadBackboneViT(t *testing.T) {
	src, err := New("deit-tiny", tensor.NewRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	f := checkpoint.NewFile()
	for _, s := range nn.StateDict(src) {
		if err := f.Add(s.Name, checkpoint.Float32Entry(s.Value)); err != nil {
			t.Fatal(err)
		}
	}
	l, _ := New("reid-deit-tiny", tensor.NewRNG(2))
	m := l.(*ReID)
	ignored, err := LoadBackbone(f, m)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ignored, []string{"head.bias", "head.weight"}) {
		t.Errorf("ignored %v, want head.bias and head.weight", ignored)
	}
	v := m.Base.(*ViT)
	if !slices.Equal(v.ClsToken.Value().Data(), src.(*ViT).ClsToken.Value().Data()) {
		t.Error("cls_token not loaded")
	}
	if s := v.PosEmbed.Shape(); !slices.Equal(s, []int{1, 1 + 16*8, 192}) {
		t.Errorf("pos_embed %v after loading, want [1 129 192]", s)
	}
	if !slices.Equal(v.PosEmbed.Value().Data()[:192], src.(*ViT).PosEmbed.Value().Data()[:192]) {
		t.Error("the class token's position embedding was not kept")
	}
}
