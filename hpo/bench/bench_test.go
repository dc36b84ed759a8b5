package bench

import (
	"math"
	"testing"
)

func TestMinima(t *testing.T) {
	tests := []struct {
		name string
		x    []float64
	}{
		{"branin", []float64{math.Pi, 2.275}},
		{"branin", []float64{-math.Pi, 12.275}},
		{"branin", []float64{9.42478, 2.475}},
		{"hartmann6", []float64{0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573}},
		{"rosenbrock", []float64{1, 1, 1, 1}},
	}
	for _, tt := range tests {
		f := Functions[tt.name]
		if got := f.F(tt.x); math.Abs(got-f.Min) > 1e-5 {
			t.Errorf("%s(%v) = %.7f, want %.7f", tt.name, tt.x, got, f.Min)
		}
		if err := f.Space.Validate(); err != nil || len(f.Space.Params) != len(tt.x) {
			t.Errorf("%s: space %v", tt.name, err)
		}
	}
}

func TestCompare(t *testing.T) {
	r, err := Compare("rosenbrock", "random", 30, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Final) != 3 || r.Median < 0 || r.At[0].Trials != 25 || r.At[0].Median < r.Median {
		t.Errorf("%+v", r)
	}
	for _, bad := range [][2]string{{"ackley", "random"}, {"branin", "cmaes"}} {
		if _, err := Compare(bad[0], bad[1], 10, 1, nil); err == nil {
			t.Errorf("Compare(%s, %s) succeeded", bad[0], bad[1])
		}
	}
	if _, err := Compare("branin", "random", 0, 1, nil); err == nil {
		t.Error("0 trials accepted")
	}
}
