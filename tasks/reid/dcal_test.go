package reid

import (
	"math"
	"testing"

	"argus/autograd"
	"argus/dcal"
	"argus/models"
	"argus/nn"
	rid "argus/reid"
	"argus/tensor"
)

// tinyDCAL returns a 2-block re-ID ViT on a 4×2 grid of 8-pixel patches
// with the DCAL branches o, for 4 identities.
func tinyDCAL(t *testing.T, o models.DCALOptions) *models.ReID {
	t.Helper()
	c := models.ViTConfig{Patch: 8, Dim: 16, Depth: 2, Heads: 2, MLP: 32, Classes: 4, GridH: 4, GridW: 2}
	net, err := models.NewReIDDCAL(tensor.NewRNG(7), c, o, 4)
	if err != nil {
		t.Fatal(err)
	}
	return net
}

// TestDCALLosses checks the re-ID DCAL terms against their definition: each
// branch's label-smoothed cross-entropy plus batch-hard triplet on its own
// outputs, weighted 0.5·(exp(−s)·L + s) with s = 0 at the start, and that
// every branch's weights get a gradient.
func TestDCALLosses(t *testing.T) {
	net := tinyDCAL(t, models.DCALOptions{GLCA: true, PWCA: true, GLCARatio: 0.3})
	x := tensor.NewRNG(3).Normal(0, 1, 8, 3, 32, 16)
	labels := []int{0, 0, 1, 1, 2, 2, 3, 3}
	terms, err := Losses(net, x, labels, 0.1, 0.3, 0, tensor.NewRNG(5))
	if err != nil {
		t.Fatal(err)
	}
	if len(terms) != 3 || terms[0].Name != "sa" || terms[1].Name != "glca" || terms[2].Name != "pwca" {
		t.Fatalf("terms %v, want sa, glca, pwca", terms)
	}
	// The same branches again from the same partners, by hand.
	want := net.BranchOutputs(autograd.Const(x), dcal.Partners(tensor.NewRNG(5), 8))
	for i, o := range want {
		ce := autograd.CrossEntropy(o.Logits, labels, autograd.CrossEntropyOptions{LabelSmoothing: 0.1})
		tri, _, err := rid.BatchHardTriplet(o.Feature, labels, 0.3)
		if err != nil {
			t.Fatal(err)
		}
		w := 0.5 * float64(ce.Value().Data()[0]+tri.Value().Data()[0])
		if got := float64(terms[i].Loss.Value().Data()[0]); math.Abs(got-w) > 1e-5*math.Abs(w) {
			t.Errorf("%s: %v, want %v", terms[i].Name, got, w)
		}
	}
	var total *autograd.Var
	for _, tm := range terms {
		if total == nil {
			total = tm.Loss
		} else {
			total = autograd.Add(total, tm.Loss)
		}
	}
	total.Backward()
	for _, p := range nn.Parameters(net) {
		if !p.Var.RequiresGrad() {
			continue
		}
		g := p.Var.Grad()
		if g == nil {
			t.Errorf("%s has no gradient", p.Name)
			continue
		}
		nonzero := false
		for _, v := range g.Data() {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("%s: non-finite gradient", p.Name)
			}
			nonzero = nonzero || v != 0
		}
		if !nonzero {
			t.Errorf("%s: zero gradient", p.Name)
		}
	}
}

// TestDCALInference checks the evaluated feature: the SA and GLCA necks'
// outputs side by side, and nothing of PWCA (a model without the branch,
// built from the same seed and so with the same weights, since PWCA adds
// none, gives the same bits).
func TestDCALInference(t *testing.T) {
	both := tinyDCAL(t, models.DCALOptions{GLCA: true, PWCA: true, GLCARatio: 0.3})
	glca := tinyDCAL(t, models.DCALOptions{GLCA: true, GLCARatio: 0.3})
	nn.Train(both, false)
	nn.Train(glca, false)
	x := tensor.NewRNG(4).Normal(0, 1, 3, 3, 32, 16)
	a := both.Forward(autograd.Const(x)).Value()
	b := glca.Forward(autograd.Const(x)).Value()
	if s := a.Shape(); s[0] != 3 || s[1] != 32 {
		t.Fatalf("feature shape %v, want [3 32]", s)
	}
	for i, v := range a.Data() {
		if v != b.Data()[i] {
			t.Fatalf("value %d: %v with PWCA, %v without", i, v, b.Data()[i])
		}
	}
}
