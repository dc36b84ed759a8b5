package optim

import (
	"math"
	"testing"

	"argus/autograd"
	"argus/internal/golden"
	"argus/nn"
	"argus/tensor"
)

type goldenFile struct {
	Init  [][]float32
	Grads [][][]float32
	Optim map[string]struct {
		Kwargs map[string]any
		Steps  [][][]float32
	}
	GroupsAdamW [][][]float32 `json:"groups_adamw"`
	Schedules   map[string][]float64
	Clip        struct {
		MaxNorm float64 `json:"max_norm"`
		Scale   float32
		Norm    float64
		Grads   [][]float32
	}
}

func load(t *testing.T) goldenFile {
	var g goldenFile
	golden.Load(t, "testdata/optim.json", &g)
	return g
}

func params(g goldenFile) []nn.Parameter {
	return []nn.Parameter{
		{Name: "w", Var: autograd.Param(tensor.FromSlice(g.Init[0], 3, 4))},
		{Name: "b", Var: autograd.Param(tensor.FromSlice(g.Init[1], 4))},
	}
}

func num(kw map[string]any, k string, def float64) float64 {
	if v, ok := kw[k]; ok {
		return v.(float64)
	}
	return def
}

func build(name string, kw map[string]any, ps []nn.Parameter) Optimizer {
	grp := NewGroup(num(kw, "lr", 0), num(kw, "weight_decay", 0), ps...)
	has := func(prefix string) bool { return len(name) >= len(prefix) && name[:len(prefix)] == prefix }
	switch {
	case has("sgd"):
		nest, _ := kw["nesterov"].(bool)
		return NewSGD(num(kw, "momentum", 0), num(kw, "dampening", 0), nest, grp)
	case has("ada"):
		if has("adadelta") {
			return NewAdadelta(num(kw, "rho", 0.9), num(kw, "eps", 1e-6), grp)
		}
		betas := kw["betas"].([]any)
		if has("adamw") {
			return NewAdamW(betas[0].(float64), betas[1].(float64), num(kw, "eps", 1e-8), grp)
		}
		return NewAdam(betas[0].(float64), betas[1].(float64), num(kw, "eps", 1e-8), grp)
	}
	panic(name)
}

func close32(a, b float32, rel float64) bool {
	d := math.Abs(float64(a - b))
	return d <= rel*math.Max(1, math.Abs(float64(b)))
}

func runSteps(t *testing.T, g goldenFile, o Optimizer, ps []nn.Parameter, want [][][]float32) {
	t.Helper()
	for s, grads := range g.Grads {
		for i, p := range ps {
			p.Var.SetGrad(tensor.FromSlice(grads[i], p.Var.Shape()...))
		}
		o.Step()
		for i, p := range ps {
			for j, v := range p.Var.Value().Data() {
				if !close32(v, want[s][i][j], 1e-5) {
					t.Fatalf("step %d %s[%d] = %.9g, want %.9g", s+1, p.Name, j, v, want[s][i][j])
				}
			}
		}
	}
}

func TestOptimizersMatchTorch(t *testing.T) {
	g := load(t)
	for name, c := range g.Optim {
		t.Run(name, func(t *testing.T) {
			ps := params(g)
			runSteps(t, g, build(name, c.Kwargs, ps), ps, c.Steps)
		})
	}
}

func TestParameterGroups(t *testing.T) {
	g := load(t)
	ps := params(g)
	o := NewAdamW(0.9, 0.999, 1e-8, NewGroup(1e-2, 0.1, ps[0]), NewGroup(0.1, 0, ps[1]))
	runSteps(t, g, o, ps, g.GroupsAdamW)
}

func TestStateRoundTrip(t *testing.T) {
	g := load(t)
	c := g.Optim["adamw"]
	// Two steps, save, restore into a fresh optimiser over copies of the
	// parameters, two more steps: must equal four uninterrupted steps.
	ps := params(g)
	o := build("adamw", c.Kwargs, ps)
	for s := range 2 {
		for i, p := range ps {
			p.Var.SetGrad(tensor.FromSlice(g.Grads[s][i], p.Var.Shape()...))
		}
		o.Step()
	}
	state := o.State()
	ps2 := []nn.Parameter{{Name: "w", Var: autograd.Param(ps[0].Var.Value().Clone())}, {Name: "b", Var: autograd.Param(ps[1].Var.Value().Clone())}}
	o2 := build("adamw", c.Kwargs, ps2)
	if err := o2.LoadState(state); err != nil {
		t.Fatal(err)
	}
	for s := 2; s < 4; s++ {
		for i, p := range ps2 {
			p.Var.SetGrad(tensor.FromSlice(g.Grads[s][i], p.Var.Shape()...))
		}
		o2.Step()
	}
	for i, p := range ps2 {
		for j, v := range p.Var.Value().Data() {
			if !close32(v, c.Steps[3][i][j], 1e-6) {
				t.Fatalf("resumed %s[%d] = %g, want %g", p.Name, j, v, c.Steps[3][i][j])
			}
		}
	}
	bad := map[string]*tensor.Tensor{"w.exp_avg": tensor.Zeros(2), "nope.exp_avg": tensor.Zeros(4)}
	if err := o2.LoadState(bad); err == nil {
		t.Fatal("loading mismatched state succeeded")
	} else {
		t.Log(err)
	}
}

func TestSchedulesMatchTorch(t *testing.T) {
	g := load(t)
	scheds := map[string]Schedule{
		"step":          Step{Size: 3, Gamma: 0.5},
		"multistep":     MultiStep{Milestones: []int{2, 5, 9}, Gamma: 0.1},
		"cosine":        Cosine{T: 10, Min: 0.1},
		"poly":          Poly{T: 8, Power: 0.9},
		"warmup_cosine": Warmup{Steps: 4, Start: 0.1, Then: Cosine{T: 8}},
	}
	for name, s := range scheds {
		t.Run(name, func(t *testing.T) {
			want := g.Schedules[name]
			if want == nil {
				t.Fatal("no golden")
			}
			o := NewSGD(0, 0, false, NewGroup(0.5, 0))
			for step, w := range want {
				SetSchedule(o, s, step)
				if got := o.Groups()[0].LR; math.Abs(got-w) > 1e-9 {
					t.Errorf("step %d: lr %.12g, want %.12g", step, got, w)
				}
			}
		})
	}
}

func TestClipGradNorm(t *testing.T) {
	g := load(t)
	ps := params(g)
	vars := []*autograd.Var{ps[0].Var, ps[1].Var}
	for i, v := range vars {
		gr := tensor.FromSlice(g.Grads[0][i], v.Shape()...)
		for j := range gr.Data() {
			gr.Data()[j] *= g.Clip.Scale
		}
		v.SetGrad(gr)
	}
	norm := ClipGradNorm(vars, g.Clip.MaxNorm)
	if math.Abs(norm-g.Clip.Norm) > 1e-5*g.Clip.Norm {
		t.Errorf("norm %g, want %g", norm, g.Clip.Norm)
	}
	for i, v := range vars {
		for j, x := range v.Grad().Data() {
			if !close32(x, g.Clip.Grads[i][j], 1e-6) {
				t.Fatalf("grad %d[%d] = %g, want %g", i, j, x, g.Clip.Grads[i][j])
			}
		}
	}
}

// TestLargeTensorsUpdateAsSmallOnes checks that a parameter large enough
// to be updated on several goroutines ends up exactly where the same values
// in parameters small enough for one goroutine do.
func TestLargeTensorsUpdateAsSmallOnes(t *testing.T) {
	const n, parts = 3*elementChunk + 123, 7
	for name, newOpt := range map[string]func(wd float64, ps ...nn.Parameter) Optimizer{
		"sgd-nesterov": func(wd float64, ps ...nn.Parameter) Optimizer { return NewSGD(0.9, 0, true, NewGroup(0.01, wd, ps...)) },
		"adamw": func(wd float64, ps ...nn.Parameter) Optimizer {
			return NewAdamW(0.9, 0.999, 1e-8, NewGroup(1e-3, wd, ps...))
		},
		"adam": func(wd float64, ps ...nn.Parameter) Optimizer {
			return NewAdam(0.9, 0.999, 1e-8, NewGroup(1e-3, wd, ps...))
		},
		"adadelta": func(wd float64, ps ...nn.Parameter) Optimizer { return NewAdadelta(0.9, 1e-6, NewGroup(1, wd, ps...)) },
	} {
		t.Run(name, func(t *testing.T) {
			rng := tensor.NewRNG(3)
			init, grads := rng.Normal(0, 1, n), []*tensor.Tensor{rng.Normal(0, 1, n), rng.Normal(0, 1, n)}
			big := autograd.Param(init.Clone())
			var small []nn.Parameter
			bounds := []int{0}
			for i := 1; i <= parts; i++ {
				bounds = append(bounds, i*n/parts)
				lo, hi := bounds[i-1], bounds[i]
				small = append(small, nn.Parameter{Name: "p", Var: autograd.Param(tensor.FromSlice(append([]float32(nil), init.Data()[lo:hi]...), hi-lo))})
			}
			whole, parted := newOpt(0.01, nn.Parameter{Name: "big", Var: big}), newOpt(0.01, small...)
			for _, g := range grads {
				big.SetGrad(g.Clone())
				for i, p := range small {
					p.Var.SetGrad(tensor.FromSlice(append([]float32(nil), g.Data()[bounds[i]:bounds[i+1]]...), bounds[i+1]-bounds[i]))
				}
				whole.Step()
				parted.Step()
			}
			for i, p := range small {
				for j, v := range p.Var.Value().Data() {
					if w := big.Value().Data()[bounds[i]+j]; math.Float32bits(v) != math.Float32bits(w) {
						t.Fatalf("element %d: %v in one tensor, %v in parts", bounds[i]+j, w, v)
					}
				}
			}
		})
	}
}

// TestPolyMinLR checks the poly schedule with a floor against
// mmsegmentation's PolyLrUpdaterHook: (base − min)·(1 − t/T)^p + min.
func TestPolyMinLR(t *testing.T) {
	base, minLR, T, p := 0.01, 1e-4, 80, 0.9
	s := Poly{T: T, Power: p, Min: minLR / base}
	for _, step := range []int{0, 1, 40, 79, 80, 100} {
		want := minLR
		if step < T {
			want = (base-minLR)*math.Pow(1-float64(step)/float64(T), p) + minLR
		}
		if got := base * s.Factor(step); math.Abs(got-want) > 1e-15 {
			t.Errorf("step %d: lr %.12g, want %.12g", step, got, want)
		}
	}
}
