package autograd

import (
	"testing"

	"argus/tensor"
)

// mnistNet holds the parameters of the pytorch/examples MNIST CNN: two 3×3
// convolutions (32 and 64 channels), 2×2 max pooling, and two linear layers.
type mnistNet struct {
	c1w, c1b, c2w, c2b, f1w, f1b, f2w, f2b *Var
}

func newMNISTNet(rng *tensor.RNG) *mnistNet {
	p := func(std float32, shape ...int) *Var { return Param(rng.Normal(0, std, shape...)) }
	return &mnistNet{
		c1w: p(0.3, 32, 1, 3, 3), c1b: p(0.01, 32),
		c2w: p(0.06, 64, 32, 3, 3), c2b: p(0.01, 64),
		f1w: p(0.01, 128, 9216), f1b: p(0.01, 128),
		f2w: p(0.09, 10, 128), f2b: p(0.01, 10),
	}
}

func (m *mnistNet) loss(x *Var, y []int, rng *tensor.RNG) *Var {
	h := ReLU(Conv2d(x, m.c1w, m.c1b, Conv2dOptions{}))
	h = ReLU(Conv2d(h, m.c2w, m.c2b, Conv2dOptions{}))
	h = MaxPool2d(h, MaxPool2dOptions{Kernel: [2]int{2, 2}})
	h = Dropout(h, 0.25, true, rng)
	h = ReLU(Linear(Flatten(h, 1, -1), m.f1w, m.f1b))
	h = Dropout(h, 0.5, true, rng)
	return CrossEntropy(Linear(h, m.f2w, m.f2b), y, CrossEntropyOptions{})
}

// BenchmarkMNISTStep measures one forward and backward pass of the MNIST CNN
// on a batch of 64 images of 28×28.
func BenchmarkMNISTStep(b *testing.B) {
	rng := tensor.NewRNG(1)
	m := newMNISTNet(rng)
	x := Const(rng.Uniform(0, 1, 64, 1, 28, 28))
	y := make([]int, 64)
	for i := range y {
		y[i] = i % 10
	}
	for b.Loop() {
		m.loss(x, y, rng).Backward()
	}
	b.ReportMetric(64*float64(b.N)/b.Elapsed().Seconds(), "img/s")
}

// BenchmarkConv2d measures the forward and backward pass of a 3×3
// convolution of 64 images of 32×26×26 to 64 channels.
func BenchmarkConv2d(b *testing.B) {
	rng := tensor.NewRNG(1)
	x := Param(rng.Normal(0, 1, 64, 32, 26, 26))
	w := Param(rng.Normal(0, 0.1, 64, 32, 3, 3))
	bias := Param(rng.Normal(0, 0.1, 64))
	flops := 3 * 2 * 64 * 64 * 24 * 24 * 32 * 9.0
	for b.Loop() {
		Sum(Conv2d(x, w, bias, Conv2dOptions{})).Backward()
	}
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkReLU measures the forward and backward pass of ReLU on the
// activations of the MNIST CNN's second convolution.
func BenchmarkReLU(b *testing.B) {
	x := Param(tensor.NewRNG(1).Normal(0, 1, 64, 64, 24, 24))
	g := tensor.Ones(x.Shape()...)
	for b.Loop() {
		ReLU(x).Backward(WithGrad(g))
	}
	b.ReportMetric(float64(x.Value().Len())*float64(b.N)/b.Elapsed().Seconds()/1e6, "Melem/s")
}

// BenchmarkMaxPool2d measures the forward and backward pass of 2×2 max
// pooling on the same activations.
func BenchmarkMaxPool2d(b *testing.B) {
	x := Param(tensor.NewRNG(1).Normal(0, 1, 64, 64, 24, 24))
	g := tensor.Ones(64, 64, 12, 12)
	for b.Loop() {
		MaxPool2d(x, MaxPool2dOptions{Kernel: [2]int{2, 2}}).Backward(WithGrad(g))
	}
	b.ReportMetric(float64(x.Value().Len())*float64(b.N)/b.Elapsed().Seconds()/1e6, "Melem/s")
}
