package reid

import (
	"math"
	"strings"
	"testing"

	"argus/autograd"
	"argus/checkpoint"
	"argus/internal/golden"
	"argus/models"
	"argus/nn"
	"argus/tensor"
	"argus/train"
)

// hashUniform reproduces the weight formula of tools/golden/models/resnet.py.
func hashUniform(index, n int) []float64 {
	u := make([]float64, n)
	for i := range u {
		k := (uint64(i)*2654435761 + uint64(index*40503+12345)) % (1 << 32)
		u[i] = float64(k) / float64(1<<32)
	}
	return u
}

// formulaFile is the state dict of tools/golden/models/resnet.py's formula
// for m's names and shapes: the initial weights both sides compute.
func formulaFile(t *testing.T, m nn.Module) *checkpoint.File {
	f := checkpoint.NewFile()
	for index, s := range nn.StateDict(m) {
		shape := s.Value.Shape()
		if s.Integer {
			f.Add(s.Name, checkpoint.Int64Entry([]int64{0}))
			continue
		}
		v := tensor.Zeros(shape...)
		for i, x := range hashUniform(index, s.Value.Len()) {
			var y float64
			switch {
			case strings.HasSuffix(s.Name, "running_var"):
				y = 0.5 + x
			case strings.HasSuffix(s.Name, "running_mean"):
				y = 0.2 * (x - 0.5)
			case strings.HasSuffix(s.Name, "weight") && len(shape) == 4:
				y = (2*x - 1) * math.Sqrt(6/float64(shape[1]*shape[2]*shape[3]))
			case strings.HasSuffix(s.Name, "weight") && len(shape) == 2:
				y = (2*x - 1) / math.Sqrt(float64(shape[1]))
			case strings.HasSuffix(s.Name, "weight"):
				y = 0.5 + x
			default:
				y = 0.2 * (x - 0.5)
			}
			v.Data()[i] = float32(y)
		}
		if err := f.Add(s.Name, checkpoint.Float32Entry(v)); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// TestTrainStepMatchesPyTorch runs one supervised step of the recipe on a
// ResNet-18 re-ID network from the weights PyTorch starts from and
// compares both loss terms, every parameter's gradient norm, the full
// gradients and updated values of a few parameters, and the neck's
// running mean with tools/golden/reid/train_step.py's float64 step.
func TestTrainStepMatchesPyTorch(t *testing.T) {
	var g struct {
		CrossEntropy float64 `json:"cross_entropy"`
		Triplet      float64
		GradNorms    map[string]float64 `json:"grad_norms"`
		Grads        map[string][]float64
		After        map[string][]float64
	}
	golden.Load(t, "testdata/train_step.json", &g)
	net, err := models.NewReIDResNet(tensor.NewRNG(1), 18, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkpoint.LoadModel(formulaFile(t, net), net); err != nil {
		t.Fatal(err)
	}
	net.Pool.P.Value().Data()[0] = 3
	x := tensor.Zeros(8, 3, 64, 32)
	for i, u := range hashUniform(999999, x.Len()) {
		x.Data()[i] = float32(2*u - 1)
	}
	labels := []int{0, 0, 0, 0, 2, 2, 2, 2}
	cfg := train.Config{Optimizer: "adam", LR: 3.5e-4, WeightDecay: 5e-4}
	opt := train.NewOptimizer(cfg, net)
	nn.Train(net, true)
	terms, err := Losses(net, x, labels, 0.1, 0.3, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"cross_entropy": g.CrossEntropy, "triplet": g.Triplet}
	total := terms[0].Loss
	for i, term := range terms {
		got := float64(term.Loss.Value().Item())
		if w := want[term.Name]; math.Abs(got-w) > 1e-4*math.Abs(w) {
			t.Errorf("%s = %.7g, PyTorch %.7g", term.Name, got, w)
		}
		if i > 0 {
			total = autograd.Add(total, term.Loss)
		}
	}
	total.Backward()
	params := map[string]*nn.Parameter{}
	for _, p := range nn.Parameters(net) {
		params[p.Name] = &p
		if !p.Var.RequiresGrad() {
			if _, ok := g.GradNorms[p.Name]; ok {
				t.Errorf("%s is frozen here but has a gradient in PyTorch", p.Name)
			}
			continue
		}
		w, ok := g.GradNorms[p.Name]
		if !ok {
			t.Errorf("%s has no gradient in PyTorch", p.Name)
			continue
		}
		var s float64
		for _, v := range p.Var.Grad().Data() {
			s += float64(v) * float64(v)
		}
		if got := math.Sqrt(s); math.Abs(got-w) > 1e-4*w {
			t.Errorf("|grad %s| = %.7g, PyTorch %.7g", p.Name, got, w)
		}
	}
	for name, w := range g.Grads {
		closeTo(t, "grad "+name, params[name].Var.Grad().Data(), w, 1e-4)
	}
	opt.Step()
	for name, w := range g.After {
		if name == "bottleneck.running_mean" {
			closeTo(t, name, net.Bottleneck.RunningMean.Data(), w, 1e-4)
			continue
		}
		closeTo(t, "updated "+name, params[name].Var.Value().Data(), w, 1e-4)
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
		if d := math.Abs(float64(got[i]) - w); d > tol*scale {
			t.Errorf("%s[%d] = %.7g, PyTorch %.7g (scale %.3g)", what, i, got[i], w, scale)
			return
		}
	}
}
