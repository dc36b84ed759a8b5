package nn

import (
	"testing"

	"argus/autograd"
	"argus/tensor"
)

// TestDropPath checks that training zeroes whole samples or scales them by
// 1/(1−p), that the same seed drops the same samples, and that evaluation
// is the identity.
func TestDropPath(t *testing.T) {
	x := autograd.Const(tensor.NewRNG(1).Uniform(1, 2, 64, 3, 2))
	for _, tc := range []struct {
		name     string
		p        float32
		training bool
	}{{"train", 0.4, true}, {"eval", 0.4, false}, {"zero", 0, true}} {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDropPath(tc.p, tensor.NewRNG(7))
			d.SetTraining(tc.training)
			y := d.Forward(x).Value().Data()
			again := NewDropPath(tc.p, tensor.NewRNG(7))
			again.SetTraining(tc.training)
			y2 := again.Forward(x).Value().Data()
			dropped := 0
			for i := 0; i < 64; i++ {
				row, in := y[i*6:(i+1)*6], x.Value().Data()[i*6:(i+1)*6]
				zero := row[0] == 0
				if zero {
					dropped++
				}
				for j := range row {
					want := in[j] * (1 / (1 - tc.p))
					if !tc.training {
						want = in[j]
					}
					if zero {
						want = 0
					}
					if row[j] != want || y2[i*6+j] != row[j] {
						t.Fatalf("sample %d element %d = %v (again %v), want %v", i, j, row[j], y2[i*6+j], want)
					}
				}
			}
			if tc.training && tc.p > 0 && (dropped == 0 || dropped == 64) {
				t.Errorf("dropped %d of 64 samples at p = %v", dropped, tc.p)
			}
			if (!tc.training || tc.p == 0) && dropped != 0 {
				t.Errorf("dropped %d samples with dropping off", dropped)
			}
		})
	}
}

// TestPatchEmbed checks the names of the projection's parameters and that
// patch (gy, gx) is token gy·GW + gx, the convolution of that patch.
func TestPatchEmbed(t *testing.T) {
	rng := tensor.NewRNG(2)
	p := NewPatchEmbed(rng, 3, 5, 4)
	var names []string
	for _, s := range StateDict(p) {
		names = append(names, s.Name)
	}
	if len(names) != 2 || names[0] != "proj.weight" || names[1] != "proj.bias" {
		t.Fatalf("state dict %v, want proj.weight, proj.bias", names)
	}
	x := rng.Normal(0, 1, 2, 3, 8, 13)
	y := p.Forward(autograd.Const(x))
	if gh, gw := p.Grid(8, 13); gh != 2 || gw != 3 || !tensor.EqualShapes(y.Shape(), []int{2, 6, 5}) {
		t.Fatalf("grid %d×%d, output %v, want 2×3 and [2 6 5]", gh, gw, y.Shape())
	}
	w, b := p.Proj.Weight.Value().Data(), p.Proj.Bias.Value().Data()
	n, gy, gx, c := 1, 1, 2, 4
	want := float64(b[c])
	for ci := 0; ci < 3; ci++ {
		for ky := 0; ky < 4; ky++ {
			for kx := 0; kx < 4; kx++ {
				want += float64(w[((c*3+ci)*4+ky)*4+kx]) * float64(x.At(n, ci, gy*4+ky, gx*4+kx))
			}
		}
	}
	if got := y.Value().At(n, gy*3+gx, c); got-float32(want) > 1e-5 || float32(want)-got > 1e-5 {
		t.Errorf("token (%d, %d) feature %d = %v, want %v", gy, gx, c, got, want)
	}
}
