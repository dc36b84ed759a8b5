package autograd

import (
	"fmt"

	"argus/tensor"
)

// Dropout2d zeroes whole channels of x (N×C×H×W, or any N×C×...) with
// probability p during training, as PyTorch's nn.Dropout2d does: one draw
// per (sample, channel), and the kept channels scaled by 1/(1−p). When
// training is false, or p is 0, it returns x itself, so that evaluation,
// like Dropout's, records nothing and an export sees the identity. The
// draws come from rng in sample-major, channel-minor order, so the same
// seed drops the same channels. In training it describes itself as Dropout
// with the attribute channels true.
func Dropout2d(x *Var, p float32, training bool, rng *tensor.RNG) *Var {
	if p < 0 || p > 1 {
		panic(fmt.Sprintf("autograd: Dropout2d probability %v outside [0, 1]", p))
	}
	s := x.Shape()
	if len(s) < 2 {
		panic(fmt.Sprintf("autograd: Dropout2d of %v: want N×C×...", s))
	}
	if !training || p == 0 {
		return x
	}
	mask := make([]float32, x.value.Len())
	if p < 1 && len(mask) > 0 {
		scale := 1 / (1 - p)
		maps := s[0] * s[1]
		per := len(mask) / maps
		r := rng.Rand()
		for m := 0; m < maps; m++ {
			if r.Float32() >= p {
				row := mask[m*per : (m+1)*per]
				for j := range row {
					row[j] = scale
				}
			}
		}
	}
	return Apply(&maskOp{x: x, mask: mask, p: p, channels: true})
}
