package sparsercnn

import (
	"math"
	"slices"
	"testing"

	"argus/autograd"
	"argus/checkpoint"
	"argus/internal/golden"
	"argus/nn"
	"argus/tensor"
)

// tinyBackbone is the four strided convolutions of
// tools/golden/detection/sparse_rcnn_step.py giving P2–P5.
type tinyBackbone struct{ P2, P3, P4, P5 *nn.Conv2d }

func newTinyBackbone(rng *tensor.RNG, hidden int) *tinyBackbone {
	conv := func(in, stride int) *nn.Conv2d {
		return nn.NewConv2d(rng, in, hidden, 3, autograd.Conv2dOptions{Stride: []int{stride, stride}, Padding: []int{1, 1}}, true)
	}
	return &tinyBackbone{conv(3, 4), conv(hidden, 2), conv(hidden, 2), conv(hidden, 2)}
}

func (b *tinyBackbone) Members() nn.Members {
	return nn.Members{Children: []nn.Child{{Name: "p2", Module: b.P2}, {Name: "p3", Module: b.P3}, {Name: "p4", Module: b.P4}, {Name: "p5", Module: b.P5}}}
}

func (b *tinyBackbone) Features(x *autograd.Var) []*autograd.Var {
	p2 := b.P2.Forward(x)
	p3 := b.P3.Forward(autograd.ReLU(p2))
	p4 := b.P4.Forward(autograd.ReLU(p3))
	p5 := b.P5.Forward(autograd.ReLU(p4))
	return []*autograd.Var{p2, p3, p4, p5}
}

type stepGolden struct {
	Classes, Proposals, Hidden, Heads int
	DimDynamic                        int `json:"dim_dynamic"`
	FeedForward                       int `json:"feed_forward"`
	Stages, Resolution                int
	Sizes                             [][2]int
	Targets                           []struct {
		Boxes  [][4]float32
		Labels []int
	}
	Cases []struct {
		Assign  string
		Terms   map[string]float64
		Matches [][]struct{ Pred, GT []int }
		Grads   map[string][]float64
	}
}

// loadStep builds the reduced detector of the golden step with its
// initial weights and returns it with the images and targets.
func loadStep(t *testing.T) (*stepGolden, *Detector, *tensor.Tensor, []Target) {
	t.Helper()
	var g stepGolden
	golden.Load(t, "testdata/step.json", &g)
	c := DefaultConfig(g.Classes, g.Proposals)
	c.Hidden, c.Heads, c.DimDynamic, c.FeedForward, c.Stages, c.Resolution = g.Hidden, g.Heads, g.DimDynamic, g.FeedForward, g.Stages, g.Resolution
	rng := tensor.NewRNG(1)
	d, err := New(rng, c, newTinyBackbone(rng, c.Hidden))
	if err != nil {
		t.Fatal(err)
	}
	f, err := checkpoint.ReadFile("testdata/step_weights.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	x, err := f.Tensors["input.images"].Float32()
	if err != nil {
		t.Fatal(err)
	}
	delete(f.Tensors, "input.images")
	f.Names = slices.DeleteFunc(f.Names, func(s string) bool { return s == "input.images" })
	if err := checkpoint.LoadModel(f, d); err != nil {
		t.Fatal(err)
	}
	var targets []Target
	for i, tg := range g.Targets {
		targets = append(targets, Target{Boxes: tg.Boxes, Labels: tg.Labels, Width: float32(g.Sizes[i][1]), Height: float32(g.Sizes[i][0])})
	}
	return &g, d, x, targets
}

// TestStepMatchesPyTorch runs one training step of the reduced detector
// under Hungarian matching and DLA and compares the matches, every loss
// term and every gradient with the PyTorch version's.
func TestStepMatchesPyTorch(t *testing.T) {
	g, d, x, targets := loadStep(t)
	for _, c := range g.Cases {
		t.Run(c.Assign, func(t *testing.T) {
			crit := DefaultCriterion()
			if c.Assign == "dla" {
				dla := DefaultDLA()
				crit.DLA = &dla
			}
			for _, p := range nn.Parameters(d) {
				p.Var.ZeroGrad()
			}
			stages := d.Forward(autograd.Const(x), g.Sizes)
			terms, matches, err := crit.Loss(stages, targets)
			if err != nil {
				t.Fatal(err)
			}
			for s, ms := range matches {
				for i, m := range ms {
					want := c.Matches[s][i]
					if !slices.Equal(m.Pred, want.Pred) || !slices.Equal(m.GT, want.GT) {
						t.Fatalf("stage %d image %d: matches %v→%v, PyTorch %v→%v", s, i, m.Pred, m.GT, want.Pred, want.GT)
					}
				}
			}
			if len(terms) != len(c.Terms) {
				t.Fatalf("%d terms, PyTorch %d", len(terms), len(c.Terms))
			}
			var vs []*autograd.Var
			for _, tm := range terms {
				got, want := float64(tm.Loss.Value().Item()), c.Terms[tm.Name]
				if math.Abs(got-want) > 1e-4*math.Abs(want) {
					t.Errorf("%s = %.7g, PyTorch %.7g", tm.Name, got, want)
				}
				vs = append(vs, tm.Loss)
			}
			total := vs[0]
			for _, v := range vs[1:] {
				total = autograd.Add(total, v)
			}
			total.Backward()
			for _, p := range nn.Parameters(d) {
				want, ok := c.Grads[p.Name]
				if !ok {
					t.Fatalf("no PyTorch gradient for %s", p.Name)
				}
				got := p.Var.Grad()
				if got == nil {
					t.Fatalf("%s has no gradient", p.Name)
				}
				scale := 0.0
				for _, w := range want {
					scale = max(scale, math.Abs(w))
				}
				for i, w := range want {
					if diff := math.Abs(float64(got.Data()[i]) - w); diff > 1e-4*math.Abs(w)+1e-5*scale {
						t.Errorf("gradient of %s[%d] = %.7g, PyTorch %.7g", p.Name, i, got.Data()[i], w)
						break
					}
				}
			}
		})
	}
}
