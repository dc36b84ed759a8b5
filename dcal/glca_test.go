package dcal

import (
	"math"
	"testing"

	"argus/autograd"
	"argus/internal/golden"
	"argus/nn"
	"argus/tensor"
)

type goldenTensor struct {
	Shape []int     `json:"shape"`
	Data  []float32 `json:"data"`
}

func (g goldenTensor) tensor() *tensor.Tensor {
	return tensor.Wrap(append([]float32(nil), g.Data...), g.Shape...)
}

// close fails unless got is within 1e-5 + 1e-4·|want| of want everywhere.
func close(t *testing.T, what string, got *tensor.Tensor, want goldenTensor) {
	t.Helper()
	if !tensor.EqualShapes(got.Shape(), want.Shape) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape(), want.Shape)
	}
	for i, w := range want.Data {
		if d := math.Abs(float64(got.Data()[i] - w)); d > 1e-5+1e-4*math.Abs(float64(w)) {
			t.Fatalf("%s[%d] = %v, want %v", what, i, got.Data()[i], w)
		}
	}
}

// TestGLCAMatchesTorch compares the query selection, the block's output
// and the gradients of a weighted sum of it with PyTorch
// (tools/golden/dcal/glca.py, on timm's Block).
func TestGLCAMatchesTorch(t *testing.T) {
	var g struct {
		State   map[string]goldenTensor `json:"state"`
		Heads   int                     `json:"heads"`
		R       int                     `json:"r"`
		Rollout goldenTensor            `json:"rollout"`
		Queries [][]int                 `json:"queries"`
		X       goldenTensor            `json:"x"`
		Output  goldenTensor            `json:"output"`
		Weight  goldenTensor            `json:"weight"`
		GradX   goldenTensor            `json:"grad_x"`
		Grads   map[string]goldenTensor `json:"grads"`
	}
	golden.Load(t, "testdata/glca.json", &g)
	q := SelectQueries(g.Rollout.tensor(), g.R)
	for i := range q {
		for j := range q[i] {
			if q[i][j] != g.Queries[i][j] {
				t.Fatalf("queries %v, want %v", q, g.Queries)
			}
		}
	}
	dim := g.X.Shape[2]
	blk := NewGLCA(tensor.NewRNG(1), dim, g.Heads, g.State["mlp.fc1.weight"].Shape[0], 0)
	byName := map[string]*autograd.Var{}
	for _, p := range nn.Parameters(blk) {
		w, ok := g.State[p.Name]
		if !ok {
			t.Fatalf("parameter %s is not in timm's Block", p.Name)
		}
		p.Var.Value().CopyFrom(w.tensor())
		byName[p.Name] = p.Var
	}
	if len(byName) != len(g.State) {
		t.Fatalf("%d parameters, timm's Block has %d", len(byName), len(g.State))
	}
	x := autograd.Param(g.X.tensor())
	out := blk.Forward(x, q)
	close(t, "output", out.Value(), g.Output)
	out.Backward(autograd.WithGrad(g.Weight.tensor()))
	close(t, "grad x", x.Grad(), g.GradX)
	for name, want := range g.Grads {
		close(t, "grad "+name, byName[name].Grad(), want)
	}
}

func TestSelectQueries(t *testing.T) {
	r := tensor.Wrap([]float32{0.1, 0.5, 0.5, 0.2, 0.9, 0.0}, 2, 3)
	cases := []struct {
		r    int
		want [][]int
	}{
		{0, [][]int{{0}, {0}}},
		{2, [][]int{{0, 2, 3}, {0, 2, 1}}}, // the tie in image 0 goes to patch 1 (token 2)
		{3, [][]int{{0, 2, 3, 1}, {0, 2, 1, 3}}},
	}
	for _, c := range cases {
		got := SelectQueries(r, c.r)
		for i := range got {
			if len(got[i]) != len(c.want[i]) {
				t.Fatalf("r %d: %v, want %v", c.r, got, c.want)
			}
			for j := range got[i] {
				if got[i][j] != c.want[i][j] {
					t.Fatalf("r %d: %v, want %v", c.r, got, c.want)
				}
			}
		}
	}
}
