package reid

import (
	"math"
	"testing"

	"argus/models"
	"argus/nn"
	"argus/tensor"
)

// TestGhostBatchNorm checks --bn-batch: a BN batch of the whole batch is
// plain batch norm; a smaller one normalises each chunk with its own
// statistics, as forwarding the chunks apart does, which differs from
// plain batch norm.
func TestGhostBatchNorm(t *testing.T) {
	x := tensor.Zeros(8, 3, 32, 16)
	r := tensor.NewRNG(2).Rand()
	for i := range x.Data() {
		x.Data()[i] = r.Float32()*2 - 1
	}
	// neck forwards x with the BN batch given, on a fresh network in
	// training mode (the running statistics move with every forward).
	neck := func(x *tensor.Tensor, bn int) []float32 {
		net, err := models.NewReIDResNet(tensor.NewRNG(1), 18, 3)
		if err != nil {
			t.Fatal(err)
		}
		nn.Train(net, true)
		return Forward(net, x, bn).Neck.Value().Data()
	}
	maxDiff := func(a, b []float32) float64 {
		if len(a) != len(b) {
			t.Fatalf("lengths %d and %d", len(a), len(b))
		}
		d := 0.0
		for i := range a {
			d = max(d, math.Abs(float64(a[i]-b[i])))
		}
		return d
	}
	plain := neck(x, 0)
	if d := maxDiff(neck(x, 8), plain); d != 0 {
		t.Errorf("bn-batch = batch differs from plain batch norm by %g", d)
	}
	per := x.Len() / 8
	var apart []float32
	for lo := 0; lo < 8; lo += 4 {
		apart = append(apart, neck(tensor.FromSlice(x.Data()[lo*per:(lo+4)*per], 4, 3, 32, 16), 0)...)
	}
	ghost := neck(x, 4)
	if d := maxDiff(ghost, apart); d > 1e-5 {
		t.Errorf("bn-batch 4 differs from forwarding the halves apart by %g", d)
	}
	if d := maxDiff(ghost, plain); d < 1e-3 {
		t.Errorf("bn-batch 4 differs from plain batch norm by only %g", d)
	}
}
