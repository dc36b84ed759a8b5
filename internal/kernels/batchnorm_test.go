package kernels

import (
	"math"
	"testing"
)

func TestFoldBatchNorm(t *testing.T) {
	// Two output channels of three weights each.
	w := []float32{1, 2, 3, -1, 0.5, 4}
	scale, shift := []float32{2, 0.5}, []float32{0.25, -1}
	mean, variance := []float32{1, -2}, []float32{3, 0.75}
	const eps = 1e-3
	cases := []struct {
		name string
		bias []float32
	}{{"no bias", nil}, {"bias", []float32{0.5, -0.5}}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fw, fb := FoldBatchNorm(w, c.bias, scale, shift, mean, variance, eps)
			for o := range 2 {
				k := float64(scale[o]) / math.Sqrt(float64(variance[o])+eps)
				b := 0.0
				if c.bias != nil {
					b = float64(c.bias[o])
				}
				// The folded layer on an input x must equal the layer then
				// the normalisation.
				x := []float64{0.3, -1.2, 2}
				var y, yf float64
				for i := range 3 {
					y += float64(w[o*3+i]) * x[i]
					yf += float64(fw[o*3+i]) * x[i]
				}
				want := (y+b-float64(mean[o]))*k + float64(shift[o])
				if got := yf + float64(fb[o]); math.Abs(got-want) > 1e-5 {
					t.Errorf("channel %d: folded layer gives %g, layer and normalisation %g", o, got, want)
				}
			}
			if w[0] != 1 {
				t.Error("the weights were modified")
			}
		})
	}
}
