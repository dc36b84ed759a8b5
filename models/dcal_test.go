package models

import (
	"math"
	"slices"
	"testing"

	"argus/autograd"
	"argus/internal/golden"
	"argus/nn"
	"argus/tensor"
)

// dcalStepGolden is tools/golden/dcal/step.py's output.
type dcalStepGolden struct {
	Config struct {
		Patch, Dim, Depth, Heads, Classes, Grid int
		DropPath                                float32 `json:"drop_path"`
		GLCARatio                               float64 `json:"glca_ratio"`
	} `json:"config"`
	State    map[string]vitTensor `json:"state"`
	X        vitTensor            `json:"x"`
	Labels   []int                `json:"labels"`
	Partners []int                `json:"partners"`
	Masks    map[string][][]bool  `json:"masks"`
	Queries  [][]int              `json:"queries"`
	Raw      []float64            `json:"raw"`
	Terms    []float64            `json:"terms"`
	Total    float64              `json:"total"`
	Grads    map[string]vitTensor `json:"grads"`
}

// newGoldenDCAL builds the golden's model with its weights and its
// drop-path masks fed in.
func newGoldenDCAL(t *testing.T, g *dcalStepGolden, o DCALOptions) *DCAL {
	t.Helper()
	c := g.Config
	m, err := NewDCAL(tensor.NewRNG(1), ViTConfig{Patch: c.Patch, Dim: c.Dim, Depth: c.Depth, Heads: c.Heads,
		Classes: c.Classes, GridH: c.Grid, GridW: c.Grid, DropPath: c.DropPath}, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range nn.Parameters(m) {
		w, ok := g.State[p.Name]
		if !ok {
			t.Fatalf("parameter %s is not in the reference", p.Name)
		}
		p.Var.Value().CopyFrom(w.tensor())
	}
	feed := func(d *nn.DropPath, masks [][]bool) {
		d.Flags = func(n int) []bool {
			if len(masks) == 0 {
				t.Fatal("drop path called more often than in the reference")
			}
			k := masks[0]
			masks = masks[1:]
			return k
		}
	}
	feed(m.ViT.Blocks[1].DropPath, g.Masks["blocks.1.drop_path"])
	if m.GLCA != nil {
		feed(m.GLCA.DropPath, g.Masks["glca.drop_path"])
	}
	return m
}

// TestDCALStepMatchesTorch compares one training step of a 2-block ViT
// with GLCA and PWCA, the same partners and drop-path masks fed in, with
// PyTorch: the selected queries, each branch's loss, each weighted term,
// the total and the gradient of every parameter (relative 1e-4).
func TestDCALStepMatchesTorch(t *testing.T) {
	var g dcalStepGolden
	golden.Load(t, "testdata/dcal_step.json", &g)
	m := newGoldenDCAL(t, &g, DCALOptions{GLCA: true, PWCA: true, GLCARatio: g.Config.GLCARatio})
	if got := len(nn.Parameters(m)); got != len(g.State) {
		t.Fatalf("%d parameters, the reference has %d", got, len(g.State))
	}
	x := autograd.Const(g.X.tensor())
	o := m.Run(x, g.Partners)
	for i := range g.Queries {
		if !slices.Equal(o.Queries[i], g.Queries[i]) {
			t.Fatalf("queries %v, want %v", o.Queries, g.Queries)
		}
	}
	// Run drew each drop path's masks once already; feed them again.
	m = newGoldenDCAL(t, &g, DCALOptions{GLCA: true, PWCA: true, GLCARatio: g.Config.GLCARatio})
	terms, raw := m.Losses(x, g.Labels, g.Partners, autograd.CrossEntropyOptions{})
	if !slices.Equal(m.Branches(), []string{"sa", "glca", "pwca"}) {
		t.Fatalf("branches %v", m.Branches())
	}
	total := terms[0]
	for _, tm := range terms[1:] {
		total = autograd.Add(total, tm)
	}
	near := func(what string, got float32, want float64) {
		t.Helper()
		if math.Abs(float64(got)-want) > 1e-4*math.Abs(want)+1e-6 {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	for i, name := range m.Branches() {
		near("loss "+name, raw[i].Value().Item(), g.Raw[i])
		near("term "+name, terms[i].Value().Item(), g.Terms[i])
	}
	near("total", total.Value().Item(), g.Total)
	total.Backward()
	for _, p := range nn.Parameters(m) {
		closeRel(t, "grad "+p.Name, p.Var.Grad().Data(), g.Grads[p.Name], p.Var.Grad().Shape())
	}
}

// TestDCALInferenceWithoutPWCA checks that PWCA changes nothing at
// inference: a model with the branch and one without, of the same
// weights, give bit-identical logits when run without partners.
func TestDCALInferenceWithoutPWCA(t *testing.T) {
	c := ViTConfig{Patch: 4, Dim: 16, Depth: 2, Heads: 2, Classes: 5, GridH: 3, GridW: 2, DropPath: 0.2}
	with, err := NewDCAL(tensor.NewRNG(7), c, DCALOptions{GLCA: true, PWCA: true, GLCARatio: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	without, err := NewDCAL(tensor.NewRNG(8), c, DCALOptions{GLCA: true, GLCARatio: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*autograd.Var{}
	for _, p := range nn.Parameters(with) {
		byName[p.Name] = p.Var
	}
	for _, p := range nn.Parameters(without) {
		if p.Name == "loss_weights" {
			continue
		}
		p.Var.Value().CopyFrom(byName[p.Name].Value())
	}
	x := autograd.Const(tensor.NewRNG(9).Normal(0, 1, 3, 3, 12, 8))
	nn.Train(with, false)
	nn.Train(without, false)
	var a, b DCALOutputs
	nn.NoGrad(with, func() { a = with.Run(x, nil) })
	nn.NoGrad(without, func() { b = without.Run(x, nil) })
	if a.PWCA != nil || b.PWCA != nil {
		t.Fatal("PWCA ran at inference")
	}
	for _, pair := range [][2]*autograd.Var{{a.SA, b.SA}, {a.GLCA, b.GLCA}} {
		if !slices.Equal(pair[0].Value().Data(), pair[1].Value().Data()) {
			t.Fatalf("logits differ with and without PWCA: %v and %v", pair[0].Value().Data(), pair[1].Value().Data())
		}
	}
	if got, want := len(nn.StateDict(with)), len(nn.StateDict(without)); got != want {
		t.Fatalf("state dicts of %d and %d entries: PWCA must add no weights", got, want)
	}
}

func TestParseDCAL(t *testing.T) {
	cases := []struct {
		in         string
		glca, pwca bool
		ok         bool
	}{
		{"none", false, false, true}, {"glca", true, false, true}, {"pwca", false, true, true},
		{"glca,pwca", true, true, true}, {"pwca,glca", true, true, true}, {"gcla", false, false, false},
	}
	for _, c := range cases {
		g, p, err := ParseDCAL(c.in)
		if (err == nil) != c.ok || g != c.glca || p != c.pwca {
			t.Errorf("ParseDCAL(%q) = %v, %v, %v", c.in, g, p, err)
		}
		if c.ok {
			if got := (DCALOptions{GLCA: g, PWCA: p}).String(); got != map[bool]string{true: "glca,pwca", false: c.in}[g && p] {
				t.Errorf("String of %q: %q", c.in, got)
			}
		}
	}
}
