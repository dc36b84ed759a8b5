package sparsercnn

import (
	"math"
	"testing"

	"argus/autograd"
	"argus/nn"
	"argus/tensor"
)

// TestDPG checks that the mixture weights are a softmax per proposal,
// that the initial mixture is the experts' mean, and that a training step
// under DPG gives finite losses and gradients reaching the experts and
// the gate.
func TestDPG(t *testing.T) {
	g, d, x, targets := loadStep(t)
	rng := tensor.NewRNG(3)
	dpg, err := NewDPG(rng, 3, g.Proposals, g.Hidden, 4)
	if err != nil {
		t.Fatal(err)
	}
	feats := d.Backbone.Features(autograd.Const(x))
	w := dpg.Weights(feats).Value()
	for i := range w.Shape()[0] {
		var s float32
		for e := range 3 {
			s += w.Data()[i*3+e]
		}
		if math.Abs(float64(s)-1) > 1e-6 {
			t.Fatalf("weights of proposal %d sum to %v", i, s)
		}
	}
	_, pro := dpg.Generate(feats)
	fd := dpg.Features.Value().Data()
	n, h := g.Proposals, g.Hidden
	for i := range n * h {
		mean := (fd[i] + fd[n*h+i] + fd[2*n*h+i]) / 3
		if got := pro.Value().Data()[i]; math.Abs(float64(got-mean)) > 1e-5 {
			t.Fatalf("initial feature %d = %v, experts' mean %v", i, got, mean)
		}
	}
	d.Proposals = dpg
	defer func() { d.Proposals = nil }()
	terms, _, err := DefaultCriterion().Loss(d.Forward(autograd.Const(x), g.Sizes), targets)
	if err != nil {
		t.Fatal(err)
	}
	total := terms[0].Loss
	for _, tm := range terms[1:] {
		total = autograd.Add(total, tm.Loss)
	}
	total.Backward()
	for _, p := range nn.Parameters(dpg) {
		gr := p.Var.Grad()
		if gr == nil {
			t.Fatalf("%s has no gradient", p.Name)
		}
		nonzero := false
		for _, v := range gr.Data() {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("gradient of %s is %v", p.Name, v)
			}
			nonzero = nonzero || v != 0
		}
		// The gate's last layer starts at zero, so no gradient reaches
		// its first layer in the first step.
		if !nonzero && p.Name != "gate1.weight" && p.Name != "gate1.bias" {
			t.Errorf("gradient of %s is zero", p.Name)
		}
	}
}
