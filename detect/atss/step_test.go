package atss

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

// stepBackbone is the reduced backbone of tools/golden/detection/atss_step.py:
// a stride-4 stem and five stride-2 convolutions giving P3–P7.
type stepBackbone struct {
	stem   *nn.Conv2d
	levels []*nn.Conv2d
}

func newStepBackbone(ch int) *stepBackbone {
	rng := tensor.NewRNG(1)
	opt := func(s int) autograd.Conv2dOptions {
		return autograd.Conv2dOptions{Stride: []int{s, s}, Padding: []int{1, 1}}
	}
	b := &stepBackbone{stem: nn.NewConv2d(rng, 3, 8, 3, opt(4), true)}
	in := 8
	for range 5 {
		b.levels = append(b.levels, nn.NewConv2d(rng, in, ch, 3, opt(2), true))
		in = ch
	}
	return b
}

func (b *stepBackbone) Members() nn.Members {
	m := nn.Members{Children: []nn.Child{{Name: "stem", Module: b.stem}}}
	for i, c := range b.levels {
		m.Children = append(m.Children, nn.Child{Name: "p" + string(rune('3'+i)), Module: c})
	}
	return m
}

func (b *stepBackbone) Features(x *autograd.Var) []*autograd.Var {
	x = autograd.ReLU(b.stem.Forward(x))
	var out []*autograd.Var
	for i, c := range b.levels {
		if i > 0 {
			x = autograd.ReLU(x)
		}
		x = c.Forward(x)
		out = append(out, x)
	}
	return out
}

func (b *stepBackbone) Strides() []int { return []int{8, 16, 32, 64, 128} }

type stepGolden struct {
	Size, Channels, Groups, Convs, Classes int
	Strides                                []int
	Octave                                 float64
	InputShape                             []int `json:"input_shape"`
	Targets                                []struct {
		Boxes  []float32
		Labels []int
	}
	Cases map[string]struct {
		Assigned   [][]int
		Positives  int
		Cls, Reg   float64
		Centerness float64
	}
}

// stepAssigners are the assigners of the golden's cases.
var stepAssigners = map[string]Assigner{
	"atss":   ATSS{TopK: 9},
	"topk":   TopK{K: 9},
	"simota": SimOTA{Q: 10, Radius: 2.5},
	"hps":    HPS{Bands: []float64{32, 96}, K: []int{3, 6, 12}, Radius: 2.5},
}

// newStepDetector builds the reduced detector with the golden's initial
// weights.
func newStepDetector(t *testing.T, g *stepGolden) *Detector {
	t.Helper()
	c := Config{Classes: g.Classes, Channels: g.Channels, Convs: g.Convs, Groups: g.Groups, Strides: g.Strides,
		OctaveScale: g.Octave, Prior: 0.01}
	d, err := NewDetector(tensor.NewRNG(2), newStepBackbone(g.Channels), c)
	if err != nil {
		t.Fatal(err)
	}
	f, err := checkpoint.ReadFile("testdata/atss_step_init.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	if err := checkpoint.LoadModel(f, d); err != nil {
		t.Fatal(err)
	}
	return d
}

// relErr returns the relative L2 error of got against want.
func relErr(got, want []float32) float64 {
	var e, n float64
	for i, w := range want {
		d := float64(got[i]) - float64(w)
		e += d * d
		n += float64(w) * float64(w)
	}
	if n == 0 {
		return math.Sqrt(e)
	}
	return math.Sqrt(e / n)
}

// TestTrainStepMatchesPyTorch runs one training step of the reduced ATSS
// detector under each assigner and compares the assignment, the three
// loss terms and the gradient of every parameter with
// tools/golden/detection/atss_step.py's float64 PyTorch version.
func TestTrainStepMatchesPyTorch(t *testing.T) {
	var g stepGolden
	golden.Load(t, "testdata/atss_step.json", &g)
	grads, err := checkpoint.ReadFile("testdata/atss_step_grads.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	xt, err := grads.Tensors["input"].Float32()
	if err != nil {
		t.Fatal(err)
	}
	targets := make([]Target, len(g.Targets))
	for i, tg := range g.Targets {
		targets[i] = Target{Boxes: tg.Boxes, Labels: tg.Labels}
	}
	d := newStepDetector(t, &g)
	for name, want := range g.Cases {
		t.Run(name, func(t *testing.T) {
			a, ok := stepAssigners[name]
			if !ok {
				t.Fatalf("no assigner for case %s", name)
			}
			for _, p := range nn.Parameters(d) {
				p.Var.ZeroGrad()
			}
			out := d.Predict(autograd.Const(xt))
			ls, err := NewCriterion(a).Loss(out, targets)
			if err != nil {
				t.Fatal(err)
			}
			for n := range want.Assigned {
				if !slices.Equal(ls.Assigned[n], want.Assigned[n]) {
					t.Fatalf("image %d: assignment differs from PyTorch's:\n got %v\nwant %v", n, ls.Assigned[n], want.Assigned[n])
				}
			}
			if ls.Positives != want.Positives {
				t.Fatalf("%d positives, PyTorch %d", ls.Positives, want.Positives)
			}
			for _, term := range []struct {
				name string
				got  *autograd.Var
				want float64
			}{{"cls", ls.Cls, want.Cls}, {"reg", ls.Reg, want.Reg}, {"centerness", ls.Centerness, want.Centerness}} {
				v := float64(term.got.Value().Data()[0])
				if math.Abs(v-term.want) > 1e-4*math.Abs(term.want) {
					t.Errorf("%s loss %.8g, PyTorch %.8g", term.name, v, term.want)
				}
			}
			ls.Total().Backward()
			for _, p := range nn.Parameters(d) {
				e, ok := grads.Tensors[name+"/"+p.Name]
				if !ok {
					t.Fatalf("no golden gradient of %s", p.Name)
				}
				w, err := e.Float32()
				if err != nil {
					t.Fatal(err)
				}
				gr := p.Var.Grad()
				if gr == nil {
					t.Fatalf("%s: no gradient", p.Name)
				}
				if r := relErr(gr.Data(), w.Data()); !(r <= 1e-4) {
					t.Errorf("%s: gradient relative error %.3g", p.Name, r)
				}
			}
		})
	}
}
