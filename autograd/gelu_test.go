package autograd

import (
	"math"
	"testing"
)

// TestNormalCDF checks GELU's erf approximation against math.Erf over
// [−10, 10]: Abramowitz and Stegun bound its error by 1.5e-7.
func TestNormalCDF(t *testing.T) {
	worst := 0.0
	for i := -100000; i <= 100000; i++ {
		x := float64(i) / 10000
		cdf, pdf := normalCDF(x)
		want := 0.5 * (1 + math.Erf(x/math.Sqrt2))
		worst = math.Max(worst, math.Abs(cdf-want))
		if d := math.Abs(pdf - math.Exp(-x*x/2)/math.Sqrt(2*math.Pi)); d > 1e-15 {
			t.Fatalf("φ(%v) off by %g", x, d)
		}
	}
	if worst > 0.75e-7 {
		t.Errorf("Φ off by up to %g, want at most 7.5e-8 (erf within 1.5e-7)", worst)
	}
}
