package autograd

import (
	"fmt"
	"math"
	"testing"

	"argus/tensor"
)

// gradCase is one gradient check: f builds the output from Vars holding
// inputs.
type gradCase struct {
	name   string
	f      func(x []*Var) *Var
	inputs []*tensor.Tensor
	eps    float64 // perturbation; 0 means 1e-2
	tol    float64 // absolute and relative tolerance; 0 means 1e-2
}

// checkGrad compares the analytic gradient of sum(w ⊙ f(x)), for fixed
// random weights w, with central differences of that sum evaluated in
// float64 from float32 forward passes.
func checkGrad(t *testing.T, c gradCase) {
	t.Helper()
	eps, tol := c.eps, c.tol
	if eps == 0 {
		eps = 1e-2
	}
	if tol == 0 {
		tol = 1e-2
	}
	vars := make([]*Var, len(c.inputs))
	for i, in := range c.inputs {
		vars[i] = Param(in.Clone())
	}
	out := c.f(vars)
	rng := tensor.NewRNG(99)
	w := rng.Uniform(-1, 1, out.Shape()...)
	out.Backward(WithGrad(w))
	loss := func() float64 {
		var y *Var
		cs := make([]*Var, len(c.inputs))
		for i, in := range c.inputs {
			cs[i] = Const(in)
		}
		y = c.f(cs)
		var s float64
		for i, v := range y.Value().Data() {
			s += float64(v) * float64(w.Data()[i])
		}
		return s
	}
	for i, in := range c.inputs {
		g := vars[i].Grad()
		if g == nil {
			t.Fatalf("%s: no gradient for input %d", c.name, i)
		}
		d := in.Data()
		for j := range d {
			orig := d[j]
			d[j] = orig + float32(eps)
			hi := float64(d[j])
			lp := loss()
			d[j] = orig - float32(eps)
			lo := float64(d[j])
			lm := loss()
			d[j] = orig
			num := (lp - lm) / (hi - lo)
			ana := float64(g.Data()[j])
			if math.Abs(num-ana) > tol*(1+math.Max(math.Abs(num), math.Abs(ana))) {
				t.Errorf("%s: d/dx%d[%d] = %.6g, central difference %.6g", c.name, i, j, ana, num)
				return
			}
		}
	}
}

// randn returns a seeded N(0,1) tensor.
func randn(seed uint64, shape ...int) *tensor.Tensor {
	return tensor.NewRNG(seed).Normal(0, 1, shape...)
}

// uniform returns a seeded tensor drawn uniformly from [lo, hi).
func uniform(seed uint64, lo, hi float32, shape ...int) *tensor.Tensor {
	return tensor.NewRNG(seed).Uniform(lo, hi, shape...)
}

// awayFrom returns a seeded N(0,1) tensor whose elements keep at least
// margin from each of the kinks, so central differences do not cross them.
func awayFrom(seed uint64, kinks []float32, margin float32, shape ...int) *tensor.Tensor {
	t := randn(seed, shape...)
	for i, v := range t.Data() {
		for _, k := range kinks {
			if d := v - k; d < margin && d > -margin {
				if d >= 0 {
					v = k + margin + d
				} else {
					v = k - margin + d
				}
			}
		}
		t.Data()[i] = v
	}
	return t
}

// distinct returns a tensor of distinct values spaced by 0.05 in random
// order, so that maxima stay unique under small perturbations.
func distinct(seed uint64, shape ...int) *tensor.Tensor {
	n := tensor.NumElements(shape)
	p := tensor.NewRNG(seed).Perm(n)
	t := tensor.Zeros(shape...)
	for i, v := range p {
		t.Data()[i] = float32(v-n/2) * 0.05
	}
	return t
}

func binaryCases() []gradCase {
	shapes := [][2][]int{
		{{2, 3}, {2, 3}},
		{{2, 3, 4}, {3, 1}},
		{{2, 1, 3}, {1, 4, 1}},
		{{1}, {2, 3}},
		{{2, 3}, {}},
		{{1, 1}, {1, 1}},
	}
	ops := []struct {
		name string
		f    func(a, b *Var) *Var
	}{{"Add", Add}, {"Sub", Sub}, {"Mul", Mul}, {"Div", Div}}
	var cs []gradCase
	for _, op := range ops {
		for i, s := range shapes {
			b := randn(uint64(20+i), s[1]...)
			if op.name == "Div" {
				b = uniform(uint64(20+i), 0.5, 2, s[1]...)
			}
			f := op.f
			cs = append(cs, gradCase{
				name:   fmt.Sprintf("%s%v%v", op.name, s[0], s[1]),
				f:      func(x []*Var) *Var { return f(x[0], x[1]) },
				inputs: []*tensor.Tensor{randn(uint64(10+i), s[0]...), b},
			})
		}
	}
	return cs
}

func unaryCases() []gradCase {
	un := func(name string, f func(*Var) *Var, in *tensor.Tensor) gradCase {
		return gradCase{name: name, f: func(x []*Var) *Var { return f(x[0]) }, inputs: []*tensor.Tensor{in}}
	}
	return []gradCase{
		un("Neg", Neg, randn(1, 3, 4)),
		un("Scale", func(x *Var) *Var { return Scale(x, 2.5) }, randn(2, 5)),
		un("AddScalar", func(x *Var) *Var { return AddScalar(x, -1.5) }, randn(3, 2, 1, 3)),
		un("ReLU", ReLU, awayFrom(4, []float32{0}, 0.05, 4, 5)),
		un("LeakyReLU", func(x *Var) *Var { return LeakyReLU(x, 0.1) }, awayFrom(5, []float32{0}, 0.05, 4, 5)),
		un("Exp", Exp, randn(6, 3, 3)),
		un("Log", Log, uniform(7, 0.5, 3, 3, 3)),
		un("Sqrt", Sqrt, uniform(8, 0.5, 3, 3, 3)),
		un("Pow2", func(x *Var) *Var { return Pow(x, 2) }, randn(9, 6)),
		un("Pow1.5", func(x *Var) *Var { return Pow(x, 1.5) }, uniform(10, 0.5, 2, 6)),
		un("Abs", Abs, awayFrom(11, []float32{0}, 0.05, 2, 5)),
		un("Clamp", func(x *Var) *Var { return Clamp(x, -0.5, 0.7) }, awayFrom(12, []float32{-0.5, 0.7}, 0.05, 4, 4)),
		un("Sigmoid", Sigmoid, randn(13, 3, 4)),
		un("Tanh", Tanh, randn(14, 3, 4)),
		un("Softplus", Softplus, randn(15, 3, 4)),
		un("GELU", GELU, randn(16, 3, 4)),
		un("SizeOne", Tanh, randn(17, 1, 1, 1)),
	}
}

func TestGradients(t *testing.T) {
	var cases []gradCase
	cases = append(cases, binaryCases()...)
	cases = append(cases, unaryCases()...)
	cases = append(cases, layerCases()...)
	cases = append(cases, moreCases()...)
	cases = append(cases, attentionCases()...)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkGrad(t, c) })
	}
}
