package boxloss

import (
	"math"
	"testing"

	"argus/autograd"
	"argus/internal/golden"
	"argus/tensor"
)

type lossCase struct {
	Pred, Target, Weights, Loss []float32
	GradPred                    []float32 `json:"grad_pred"`
	GradTarget                  []float32 `json:"grad_target"`
	Mean                        float32
	MeanGradPred                []float32 `json:"mean_grad_pred"`
}

func near(t *testing.T, name string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i] - want[i])); d > tol*math.Max(1, math.Abs(float64(want[i]))) {
			t.Fatalf("%s[%d] = %g, want %g", name, i, got[i], want[i])
		}
	}
}

// TestGolden compares the loss and its gradients with torchvision's
// generalized_box_iou_loss under torch autograd.
func TestGolden(t *testing.T) {
	var g struct{ Cases []lossCase }
	golden.Load(t, "testdata/golden.json", &g)
	for _, c := range g.Cases {
		n := len(c.Pred) / 4
		p := autograd.Param(tensor.FromSlice(c.Pred, n, 4))
		q := autograd.Param(tensor.FromSlice(c.Target, n, 4))
		l := GIoU(p, q, None)
		near(t, "loss", l.Value().Data(), c.Loss, 1e-5)
		l.Backward(autograd.WithGrad(tensor.FromSlice(c.Weights, n)))
		near(t, "grad pred", p.Grad().Data(), c.GradPred, 1e-4)
		near(t, "grad target", q.Grad().Data(), c.GradTarget, 1e-4)

		p.ZeroGrad()
		m := GIoU(p, autograd.Const(tensor.FromSlice(c.Target, n, 4)), Mean)
		near(t, "mean", m.Value().Data(), []float32{c.Mean}, 1e-5)
		m.Backward()
		near(t, "mean grad", p.Grad().Data(), c.MeanGradPred, 1e-4)
	}
}

// TestGradCheck compares the analytic gradient with central differences in
// float64 arithmetic on the op's own terms.
func TestGradCheck(t *testing.T) {
	pairs := [][2][4]float32{
		{{0, 0, 10, 10}, {5, 5, 15, 15}},   // overlap
		{{0, 0, 10, 10}, {20, 20, 30, 35}}, // disjoint
		{{2, 3, 9, 7}, {0, 0, 12, 12}},     // inside
	}
	for _, pr := range pairs {
		s := giouTerms(pr[0][:], pr[1][:])
		var dp, dt [4]float64
		s.grad(1, &dp, &dt)
		for j := range 4 {
			for side, d := range []*[4]float64{&dp, &dt} {
				const h = 1e-3
				a, b := pr[0], pr[1]
				box := &a
				if side == 1 {
					box = &b
				}
				box[j] += h
				up := giouTerms(a[:], b[:]).loss
				box[j] -= 2 * h
				down := giouTerms(a[:], b[:]).loss
				num := (up - down) / (2 * h)
				if math.Abs(num-d[j]) > 1e-3 {
					t.Errorf("pair %v side %d coord %d: analytic %g, numeric %g", pr, side, j, d[j], num)
				}
			}
		}
	}
}

func TestIdentical(t *testing.T) {
	b := tensor.FromSlice([]float32{1, 2, 5, 9}, 1, 4)
	l := GIoU(autograd.Param(b), autograd.Const(b.Clone()), Sum)
	if v := l.Value().Item(); math.Abs(float64(v)) > 1e-6 {
		t.Errorf("loss of identical boxes = %g", v)
	}
}
