package infer

import (
	"math"
	"strings"
	"sync"
	"testing"

	"argus/autograd"
	"argus/internal/geom"
	"argus/tensor"
)

// smallNet is a network with every kind of layer, built both as an infer
// Net and as the autograd expression it must reproduce.
type smallNet struct {
	w1, w2, w3, fc            *tensor.Tensor
	b2, fcb                   []float32
	gamma, beta, mu, variance []float32
}

func newSmallNet(rng *tensor.RNG) *smallNet {
	s := &smallNet{
		w1: rng.Normal(0, 0.3, 8, 3, 3, 3),
		w2: rng.Normal(0, 0.2, 8, 8, 3, 3),
		w3: rng.Normal(0, 0.3, 12, 8, 1, 1),
		fc: rng.Normal(0, 0.2, 5, 12),
	}
	vec := func(n int, lo, hi float32) []float32 { return rng.Uniform(lo, hi, n).Data() }
	s.b2, s.fcb = vec(8, -1, 1), vec(5, -1, 1)
	s.gamma, s.beta, s.mu, s.variance = vec(8, 0.5, 1.5), vec(8, -0.5, 0.5), vec(8, -0.3, 0.3), vec(8, 0.2, 2)
	return s
}

func (s *smallNet) build(h, w int, pooled bool) *Net {
	net, x := New(3, h, w)
	bn := &BatchNorm{Weight: s.gamma, Bias: s.beta, Mean: s.mu, Var: s.variance, Eps: 1e-5}
	y := net.Conv(x, s.w1, ConvOptions{Window: geom.Window{Stride: []int{2, 2}, Padding: []int{1, 1}}, Norm: bn, ReLU: true})
	p := net.MaxPool(y, geom.Window{Kernel: []int{3, 3}, Stride: []int{2, 2}, Padding: []int{1, 1}})
	z := net.Conv(p, s.w2, ConvOptions{Window: geom.Window{Padding: []int{2, 2}, Dilation: []int{2, 2}}, Bias: s.b2, Residual: p, ReLU: true})
	z = net.Conv(z, s.w3, ConvOptions{})
	if pooled {
		z = net.Linear(net.GlobalAvgPool(z), s.fc, s.fcb)
	}
	net.Output(z)
	return net
}

func (s *smallNet) reference(x *tensor.Tensor, pooled bool) *tensor.Tensor {
	var out *autograd.Var
	c := autograd.Const
	y := autograd.Conv2d(c(x), c(s.w1), nil, autograd.Conv2dOptions{Stride: []int{2, 2}, Padding: []int{1, 1}})
	y = autograd.BatchNorm2d(y, c(tensor.FromSlice(s.gamma, 8)), c(tensor.FromSlice(s.beta, 8)),
		tensor.FromSlice(s.mu, 8), tensor.FromSlice(s.variance, 8), autograd.BatchNormOptions{Eps: 1e-5})
	y = autograd.ReLU(y)
	p := autograd.MaxPool2d(y, autograd.MaxPool2dOptions{Kernel: [2]int{3, 3}, Stride: [2]int{2, 2}, Padding: [2]int{1, 1}})
	z := autograd.Conv2d(p, c(s.w2), c(tensor.FromSlice(s.b2, 8)), autograd.Conv2dOptions{Padding: []int{2, 2}, Dilation: []int{2, 2}})
	z = autograd.ReLU(autograd.Add(z, p))
	z = autograd.Conv2d(z, c(s.w3), nil, autograd.Conv2dOptions{})
	if pooled {
		z = autograd.Flatten(autograd.AdaptiveAvgPool2d(z, 1, 1), 1, -1)
		z = autograd.Linear(z, c(s.fc), c(tensor.FromSlice(s.fcb, 5)))
	}
	out = z
	return out.Value()
}

func closeTo(t *testing.T, got, want *tensor.Tensor) {
	t.Helper()
	if !got.SameShape(want) {
		t.Fatalf("shape %v, want %v", got.Shape(), want.Shape())
	}
	for i, w := range want.Data() {
		if g := got.Data()[i]; math.Abs(float64(g-w)) > 1e-4*(1+math.Abs(float64(w))) {
			t.Fatalf("element %d = %v, want %v", i, g, w)
		}
	}
}

func TestNetMatchesAutograd(t *testing.T) {
	rng := tensor.NewRNG(1)
	s := newSmallNet(rng)
	for _, tc := range []struct {
		name    string
		n, h, w int
		pooled  bool
	}{
		{"pooled", 2, 19, 23, true},
		{"image", 1, 16, 16, false},
		{"batch5", 5, 9, 12, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := rng.Normal(0, 1, tc.n, 3, tc.h, tc.w)
			net := s.build(tc.h, tc.w, tc.pooled)
			for range 2 { // the second run reuses the buffers
				got, err := net.Run(x)
				if err != nil {
					t.Fatal(err)
				}
				closeTo(t, got, s.reference(x, tc.pooled))
			}
		})
	}
}

func TestConcurrentRuns(t *testing.T) {
	rng := tensor.NewRNG(2)
	s := newSmallNet(rng)
	net := s.build(12, 12, true)
	inputs := []*tensor.Tensor{rng.Normal(0, 1, 1, 3, 12, 12), rng.Normal(0, 1, 3, 3, 12, 12)}
	want := []*tensor.Tensor{s.reference(inputs[0], true), s.reference(inputs[1], true)}
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				got, err := net.Run(inputs[g%2])
				if err != nil {
					errs <- err.Error()
					return
				}
				for i, w := range want[g%2].Data() {
					if math.Abs(float64(got.Data()[i]-w)) > 1e-4*(1+math.Abs(float64(w))) {
						errs <- "concurrent runs disagree"
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}

func TestBuildErrors(t *testing.T) {
	rng := tensor.NewRNG(3)
	w := rng.Normal(0, 1, 4, 3, 3, 3)
	for _, tc := range []struct {
		name  string
		build func(net *Net, x *Value)
		want  string
	}{
		{"channels", func(net *Net, x *Value) { net.Conv(x, rng.Normal(0, 1, 4, 2, 3, 3), ConvOptions{}) }, "weights"},
		{"too small", func(net *Net, x *Value) { net.Conv(x, rng.Normal(0, 1, 4, 3, 9, 9), ConvOptions{}) }, "no output"},
		{"bias", func(net *Net, x *Value) { net.Conv(x, w, ConvOptions{Bias: make([]float32, 3)}) }, "bias"},
		{"norm", func(net *Net, x *Value) {
			net.Conv(x, w, ConvOptions{Norm: &BatchNorm{Weight: make([]float32, 4)}})
		}, "batch norm"},
		{"residual", func(net *Net, x *Value) { net.Conv(x, w, ConvOptions{Residual: x}) }, "residual"},
		{"pool", func(net *Net, x *Value) { net.MaxPool(x, geom.Window{Kernel: []int{2, 2}, Padding: []int{2, 2}}) }, "max pooling"},
		{"linear on image", func(net *Net, x *Value) { net.Linear(x, rng.Normal(0, 1, 2, 3), nil) }, "linear"},
		{"pool a vector", func(net *Net, x *Value) { net.GlobalAvgPool(net.GlobalAvgPool(x)) }, "vector"},
		{"foreign value", func(net *Net, _ *Value) {
			_, y := New(3, 8, 8)
			net.GlobalAvgPool(y)
		}, "another network"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			net, x := New(3, 8, 8)
			tc.build(net, x)
			net.Output(x)
			if err := net.Err(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Err() = %v, want one naming %q", err, tc.want)
			}
			if _, err := net.Run(tensor.Zeros(1, 3, 8, 8)); err == nil {
				t.Fatal("Run of a network with a build error succeeded")
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	net, x := New(3, 8, 8)
	if _, err := net.Run(tensor.Zeros(1, 3, 8, 8)); err == nil || !strings.Contains(err.Error(), "no output") {
		t.Fatalf("Run without output: %v", err)
	}
	net.Output(net.GlobalAvgPool(x))
	for _, shape := range [][]int{{1, 3, 8}, {1, 4, 8, 8}, {2, 3, 8, 9}} {
		if _, err := net.Run(tensor.Zeros(shape...)); err == nil || !strings.Contains(err.Error(), "input of shape") {
			t.Errorf("Run of %v: %v", shape, err)
		}
	}
}

func TestReLUAndFlatten(t *testing.T) {
	rng := tensor.NewRNG(4)
	x := rng.Normal(0, 1, 2, 3, 5, 4)
	w := rng.Normal(0, 1, 6, 3, 1, 1)
	net, in := New(3, 5, 4)
	y := net.Conv(in, w, ConvOptions{})
	r := net.ReLU(y)
	// A second reader with padding widens y's border but not r's.
	net.Conv(y, rng.Normal(0, 1, 2, 6, 3, 3), ConvOptions{Window: geom.Window{Padding: []int{1, 1}}})
	net.Output(net.Flatten(r))
	got, err := net.Run(x)
	if err != nil {
		t.Fatal(err)
	}
	var want *autograd.Var
	want = autograd.Flatten(autograd.ReLU(autograd.Conv2d(autograd.Const(x), autograd.Const(w), nil, autograd.Conv2dOptions{})), 1, -1)
	closeTo(t, got, want.Value())
}

// TestInvertedResidual checks a MobileNet-V2 block: a 1×1 expansion with
// ReLU6, a depthwise 3×3 with ReLU6, and a linear 1×1 projection added to
// the input.
func TestInvertedResidual(t *testing.T) {
	rng := tensor.NewRNG(5)
	const c, e = 16, 48
	x := rng.Normal(0, 1, 2, c, 9, 11)
	expand, dw, project := rng.Normal(0, 0.4, e, c, 1, 1), rng.Normal(0, 0.4, e, 1, 3, 3), rng.Normal(0, 0.3, c, e, 1, 1)
	dwBias := rng.Uniform(-1, 1, e).Data()
	relu6 := &[2]float32{0, 6}
	net, in := New(c, 9, 11)
	y := net.Conv(in, expand, ConvOptions{Clamp: relu6})
	y = net.Conv(y, dw, ConvOptions{Window: geom.Window{Groups: e, Padding: []int{1, 1}}, Bias: dwBias, ReLU: true, Clamp: relu6})
	net.Output(net.Conv(y, project, ConvOptions{Residual: in}))
	got, err := net.Run(x)
	if err != nil {
		t.Fatal(err)
	}
	var want *autograd.Var
	k := autograd.Const
	h := autograd.Clamp(autograd.Conv2d(k(x), k(expand), nil, autograd.Conv2dOptions{}), 0, 6)
	h = autograd.Clamp(autograd.Conv2d(h, k(dw), k(tensor.FromSlice(dwBias, e)), autograd.Conv2dOptions{Groups: e, Padding: []int{1, 1}}), 0, 6)
	want = autograd.Add(autograd.Conv2d(h, k(project), nil, autograd.Conv2dOptions{}), k(x))
	closeTo(t, got, want.Value())

	// Other groupings are refused.
	net, in = New(c, 9, 11)
	net.Output(net.Conv(in, rng.Normal(0, 1, 8, 4, 3, 3), ConvOptions{Window: geom.Window{Groups: 4}}))
	if err := net.Err(); err == nil || !strings.Contains(err.Error(), "groups") {
		t.Fatalf("convolution in 4 groups of 4 channels: %v", err)
	}
}

// TestPlanSharesMemory checks that a chain of layers reuses storage and
// that a reused value's border is zeroed again (the padded convolutions
// would read garbage otherwise).
func TestPlanSharesMemory(t *testing.T) {
	rng := tensor.NewRNG(6)
	net, x := New(4, 10, 10)
	y := x
	var ws []*tensor.Tensor
	for i := range 6 {
		w := rng.Normal(0, 0.3, 4, 4, 3, 3)
		ws = append(ws, w)
		y = net.Conv(y, w, ConvOptions{Window: geom.Window{Padding: []int{1 + i%2, 1 + i%2}, Dilation: []int{1 + i%2, 1 + i%2}}, ReLU: i%2 == 0})
	}
	net.Output(y)
	b := net.plan(2)
	pieces := map[*float32]bool{}
	for _, a := range b.acts {
		pieces[&a.Data[0]] = true
	}
	if len(pieces) > 3 {
		t.Errorf("%d pieces of storage for a chain of 7 values, want at most 3", len(pieces))
	}
	in := rng.Normal(0, 1, 2, 4, 10, 10)
	for range 3 {
		got, err := net.Run(in)
		if err != nil {
			t.Fatal(err)
		}
		var want *autograd.Var
		v := autograd.Const(in)
		for i, w := range ws {
			d := 1 + i%2
			v = autograd.Conv2d(v, autograd.Const(w), nil, autograd.Conv2dOptions{Padding: []int{d, d}, Dilation: []int{d, d}})
			if i%2 == 0 {
				v = autograd.ReLU(v)
			}
		}
		want = v
		closeTo(t, got, want.Value())
	}
}
