package models

import (
	"math"
	"testing"

	"argus/autograd"
	"argus/nn"
	"argus/optim"
	"argus/tensor"
)

func TestMNISTNetNames(t *testing.T) {
	m := NewMNISTNet(tensor.NewRNG(1))
	want := []string{"conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}
	ps := nn.Parameters(m)
	if len(ps) != len(want) {
		t.Fatalf("%d parameters", len(ps))
	}
	for i, p := range ps {
		if p.Name != want[i] {
			t.Errorf("parameter %d named %s, want %s", i, p.Name, want[i])
		}
	}
	if n := nn.NumParams(m); n != 1199882 {
		t.Errorf("%d parameters, want 1199882 as in PyTorch", n)
	}
}

// BenchmarkMNISTNetTrainStep times one AdamW training step at batch 64;
// tools/golden/train_step/bench_mnist.py times the same step in PyTorch.
func BenchmarkMNISTNetTrainStep(b *testing.B) {
	rng := tensor.NewRNG(1)
	m := NewMNISTNet(rng)
	x := autograd.Const(rng.Normal(0, 1, 64, 1, 28, 28))
	y := make([]int, 64)
	for i := range y {
		y[i] = i % 10
	}
	o := optim.NewAdamW(0.9, 0.999, 1e-8, optim.NewGroup(1e-3, 0.01, nn.Parameters(m)...))
	for b.Loop() {
		optim.ZeroGrad(o)
		loss := autograd.CrossEntropy(m.Forward(x), y, autograd.CrossEntropyOptions{})
		loss.Backward()
		o.Step()
	}
	b.ReportMetric(float64(64*b.N)/b.Elapsed().Seconds(), "img/s")
}

func TestMNISTNetInference(t *testing.T) {
	m := NewMNISTNet(tensor.NewRNG(1))
	nn.Train(m, false)
	x := tensor.NewRNG(2).Uniform(0, 1, 3, 1, 28, 28)
	var want *autograd.Var
	nn.NoGrad(m, func() { want = m.Forward(autograd.Const(x)) })
	net, err := m.Inference()
	if err != nil {
		t.Fatal(err)
	}
	got, err := net.Run(x)
	if err != nil {
		t.Fatal(err)
	}
	if !got.SameShape(want.Value()) {
		t.Fatalf("shape %v, want %v", got.Shape(), want.Value().Shape())
	}
	for i, w := range want.Value().Data() {
		if g := got.Data()[i]; math.Abs(float64(g-w)) > 1e-4*(1+math.Abs(float64(w))) {
			t.Fatalf("logit %d = %v, want %v", i, g, w)
		}
	}
}
