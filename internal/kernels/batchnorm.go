package kernels

import (
	"fmt"
	"math"
)

// FoldBatchNorm returns the weights and bias of a layer followed by an
// evaluation-mode batch normalisation
// y = (x − mean) / sqrt(variance + eps) · scale + shift, per output
// channel, as one layer: the weights of output channel o are
// w[o*per:(o+1)*per] with per = len(w)/len(mean) (a convolution's OIHW
// layout, a linear layer's out×in), bias is nil for none, and
//
//	k[o] = scale[o] / sqrt(variance[o] + eps)
//	fw[o*per+i] = w[o*per+i] · k[o]
//	fb[o] = (bias[o] − mean[o]) · k[o] + shift[o]
//
// computed in float64 and rounded once to float32. The inputs are not
// modified.
func FoldBatchNorm(w, bias, scale, shift, mean, variance []float32, eps float64) (fw, fb []float32) {
	m := len(mean)
	if m == 0 || len(w)%m != 0 || len(scale) != m || len(shift) != m || len(variance) != m || (bias != nil && len(bias) != m) {
		panic(fmt.Sprintf("kernels: FoldBatchNorm of %d weights, %d bias values and %d/%d/%d/%d statistics",
			len(w), len(bias), len(scale), len(shift), len(mean), len(variance)))
	}
	per := len(w) / m
	fw, fb = make([]float32, len(w)), make([]float32, m)
	for o := range m {
		k := float64(scale[o]) / math.Sqrt(float64(variance[o])+eps)
		b := 0.0
		if bias != nil {
			b = float64(bias[o])
		}
		fb[o] = float32((b-float64(mean[o]))*k + float64(shift[o]))
		for i, v := range w[o*per : (o+1)*per] {
			fw[o*per+i] = float32(float64(v) * k)
		}
	}
	return fw, fb
}
