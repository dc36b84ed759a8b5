package atss

import (
	"math"
	"slices"
	"strings"
	"testing"

	"argus/autograd"
	"argus/nn"
	"argus/tensor"
)

// allAssigners are the four assigners in their default settings.
func allAssigners() map[string]Assigner {
	return map[string]Assigner{
		"atss":   ATSS{TopK: 9},
		"topk":   TopK{K: 9},
		"simota": SimOTA{Q: 10, Radius: 2.5},
		"hps":    HPS{Bands: DefaultBands, K: []int{2, 5, 9}, Radius: 2.5},
	}
}

// randomProblem returns an assignment problem on a size×size image with g
// ground truths of every kind: ordinary, tiny, thin, duplicated,
// degenerate (zero width or height), partly outside the image; and random
// predictions.
func randomProblem(rng *tensor.RNG, size, g int) *Problem {
	return randomProblemSized(rng, size, size, g)
}

// randomProblemSized is randomProblem on an h×w image.
func randomProblemSized(rng *tensor.RNG, h, w, g int) *Problem {
	r := rng.Rand()
	var levels []Level
	for _, s := range []int{8, 16, 32, 64, 128} {
		levels = append(levels, Level{H: (h + s - 1) / s, W: (w + s - 1) / s, Stride: s})
	}
	p := &Problem{Anchors: Anchors(levels, 8), Levels: levels, Classes: 4}
	f := float64(min(h, w))
	for i := range g {
		x, y := r.Float64()*f, r.Float64()*f
		var w, h float64
		switch i % 6 {
		case 0:
			w, h = 4+r.Float64()*f/2, 4+r.Float64()*f/2
		case 1:
			w, h = 1+r.Float64()*3, 1+r.Float64()*3
		case 2:
			w, h = 0.5+r.Float64()*2, 10+r.Float64()*40
		case 3:
			if i > 0 {
				b := p.Boxes[len(p.Boxes)-4:]
				x, y, w, h = b[0], b[1], b[2]-b[0], b[3]-b[1]
			}
		case 4:
			w, h = 0, r.Float64()*20
		case 5:
			x, y = f-r.Float64()*5, -r.Float64()*5
			w, h = 20+r.Float64()*40, 20+r.Float64()*40
		}
		p.Boxes = append(p.Boxes, x, y, x+w, y+h)
		p.Labels = append(p.Labels, r.IntN(p.Classes))
	}
	n := p.anchorCount()
	p.Scores = make([]float64, n*p.Classes)
	for i := range p.Scores {
		p.Scores[i] = r.Float64()
	}
	p.Centerness = make([]float64, n)
	for i := range p.Centerness {
		p.Centerness[i] = r.Float64()
	}
	deltas := make([]float32, 4*n)
	for i := range deltas {
		deltas[i] = float32(r.NormFloat64() * 3)
	}
	p.Pred = decodeValues(deltas, p.Anchors)
	return p
}

// TestEveryGroundTruthHasAPositive checks, over random problems with
// every kind of box, that no assigner leaves a ground truth without a
// positive and that every assignment is a ground truth or −1.
func TestEveryGroundTruthHasAPositive(t *testing.T) {
	rng := tensor.NewRNG(5)
	for trial := range 40 {
		size := []int{64, 128, 200}[trial%3]
		p := randomProblem(rng, size, 1+trial%25)
		for name, a := range allAssigners() {
			out, err := a.Assign(p)
			if err != nil {
				t.Fatalf("trial %d, %s: %v", trial, name, err)
			}
			count := make([]int, len(p.Labels))
			for j, o := range out {
				if o < -1 || o >= len(p.Labels) {
					t.Fatalf("trial %d, %s: anchor %d assigned to %d of %d", trial, name, j, o, len(p.Labels))
				}
				if o >= 0 {
					count[o]++
				}
			}
			for i, c := range count {
				if c == 0 {
					t.Fatalf("trial %d, %s: ground truth %d %v has no positive", trial, name, i, p.Boxes[4*i:4*i+4])
				}
			}
		}
	}
}

// smallDetector is a randomly initialised detector on the reduced
// backbone of the golden step, 3 classes.
func smallDetector(t *testing.T) *Detector {
	t.Helper()
	c := Config{Classes: 3, Channels: 16, Convs: 2, Groups: 4, Strides: []int{8, 16, 32, 64, 128}, OctaveScale: 8, Prior: 0.01}
	d, err := NewDetector(tensor.NewRNG(3), newStepBackbone(16), c)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestLossFiniteOnEdgeCases checks that the loss and every gradient stay
// finite, under every assigner, on empty images, degenerate and reversed
// boxes, boxes outside the image and a box covering it.
func TestLossFiniteOnEdgeCases(t *testing.T) {
	d := smallDetector(t)
	x := autograd.Const(tensor.NewRNG(4).Uniform(0, 1, 2, 3, 64, 64))
	cases := map[string][]Target{
		"empty":      {{}, {}},
		"one empty":  {{}, {Boxes: []float32{5, 5, 30, 40}, Labels: []int{1}}},
		"degenerate": {{Boxes: []float32{10, 10, 10, 30, 20, 20, 40, 20, 7, 7, 7, 7}, Labels: []int{0, 1, 2}}, {}},
		"reversed":   {{Boxes: []float32{40, 40, 10, 10}, Labels: []int{0}}, {Boxes: []float32{3, 3, 4, 4}, Labels: []int{2}}},
		"outside":    {{Boxes: []float32{-50, -50, -20, -20, 100, 100, 140, 150}, Labels: []int{0, 1}}, {Boxes: []float32{0, 0, 64, 64}, Labels: []int{2}}},
	}
	for cname, targets := range cases {
		for aname, a := range allAssigners() {
			t.Run(cname+"/"+aname, func(t *testing.T) {
				for _, p := range nn.Parameters(d) {
					p.Var.ZeroGrad()
				}
				ls, err := NewCriterion(a).Loss(d.Predict(x), targets)
				if err != nil {
					t.Fatal(err)
				}
				for _, term := range []*autograd.Var{ls.Cls, ls.Reg, ls.Centerness} {
					if v := term.Value().Data()[0]; math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
						t.Fatalf("loss term %v", v)
					}
				}
				ls.Total().Backward()
				for _, p := range nn.Parameters(d) {
					if p.Var.Grad() == nil {
						t.Fatalf("%s: no gradient", p.Name)
					}
					for _, v := range p.Var.Grad().Data() {
						if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
							t.Fatalf("%s: gradient %v", p.Name, v)
						}
					}
				}
			})
		}
	}
}

// TestLossRefusesBadTargets checks the errors for non-finite coordinates,
// labels out of range and mismatched lengths.
func TestLossRefusesBadTargets(t *testing.T) {
	d := smallDetector(t)
	out := d.Predict(autograd.Const(tensor.NewRNG(4).Uniform(0, 1, 1, 3, 64, 64)))
	tests := []struct {
		name string
		t    Target
		want string
	}{
		{"nan", Target{Boxes: []float32{1, 2, float32(math.NaN()), 4}, Labels: []int{0}}, "coordinate NaN"},
		{"label", Target{Boxes: []float32{1, 2, 3, 4}, Labels: []int{3}}, "class 3 of 3"},
		{"lengths", Target{Boxes: []float32{1, 2, 3}, Labels: []int{0}}, "3 box coordinates for 1 labels"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewCriterion(ATSS{TopK: 9}).Loss(out, []Target{tc.t})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := NewCriterion(ATSS{TopK: 9}).Loss(out, nil); err == nil {
		t.Error("no error for 0 targets of 1 image")
	}
}

// TestHPSWithTensIsSimOTA checks that HPS with every band's k at SimOTA's
// 10 assigns as SimOTA, and that a smaller k in a band never gives its
// ground truths more positives.
func TestHPSWithTensIsSimOTA(t *testing.T) {
	rng := tensor.NewRNG(9)
	for trial := range 10 {
		p := randomProblem(rng, 128, 3+trial)
		want, err := SimOTA{Q: 10, Radius: 2.5}.Assign(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := HPS{Bands: DefaultBands, K: []int{10, 10, 10}, Radius: 2.5}.Assign(p)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("trial %d: HPS with k 10 differs from SimOTA", trial)
		}
		one, err := HPS{Bands: DefaultBands, K: []int{1, 1, 1}, Radius: 2.5}.Assign(p)
		if err != nil {
			t.Fatal(err)
		}
		count := make([]int, len(p.Labels))
		for _, o := range one {
			if o >= 0 {
				count[o]++
			}
		}
		for i, c := range count {
			if c != 1 {
				t.Fatalf("trial %d: ground truth %d has %d positives with k 1", trial, i, c)
			}
		}
	}
}
