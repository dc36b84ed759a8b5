package nn

import (
	"fmt"
	"math"

	"argus/tensor"
)

// Fans returns the fan-in and fan-out of a weight tensor as PyTorch computes
// them: dimension 1 and dimension 0 times the receptive field (the product
// of the remaining dimensions).
func Fans(shape []int) (fanIn, fanOut int) {
	if len(shape) < 2 {
		panic(fmt.Sprintf("nn: fans of a %d-D tensor", len(shape)))
	}
	rf := 1
	for _, d := range shape[2:] {
		rf *= d
	}
	return shape[1] * rf, shape[0] * rf
}

// FanMode selects which fan Kaiming initialisation preserves.
type FanMode int

// The fan modes.
const (
	FanIn FanMode = iota
	FanOut
)

// Gain returns PyTorch's recommended gain for a nonlinearity: 1 for
// "linear", "conv" and "sigmoid", 5/3 for "tanh", √2 for "relu", and
// √(2/(1+a²)) for "leaky_relu" with negative slope a.
func Gain(nonlinearity string, a float64) float64 {
	switch nonlinearity {
	case "relu":
		return math.Sqrt2
	case "leaky_relu":
		return math.Sqrt(2 / (1 + a*a))
	case "tanh":
		return 5.0 / 3
	case "selu":
		return 0.75
	}
	return 1
}

func fan(shape []int, mode FanMode) int {
	in, out := Fans(shape)
	if mode == FanOut {
		return out
	}
	return in
}

// KaimingUniform fills t from U(-b, b) with b = gain·√(3/fan), as
// torch.nn.init.kaiming_uniform_.
func KaimingUniform(rng *tensor.RNG, t *tensor.Tensor, a float64, mode FanMode, nonlinearity string) {
	std := Gain(nonlinearity, a) / math.Sqrt(float64(fan(t.Shape(), mode)))
	Uniform(rng, t, -math.Sqrt(3)*std, math.Sqrt(3)*std)
}

// KaimingNormal fills t from N(0, std²) with std = gain/√fan, as
// torch.nn.init.kaiming_normal_.
func KaimingNormal(rng *tensor.RNG, t *tensor.Tensor, a float64, mode FanMode, nonlinearity string) {
	std := Gain(nonlinearity, a) / math.Sqrt(float64(fan(t.Shape(), mode)))
	Normal(rng, t, 0, std)
}

// XavierUniform fills t from U(-b, b) with b = gain·√(6/(fanIn+fanOut)).
func XavierUniform(rng *tensor.RNG, t *tensor.Tensor, gain float64) {
	in, out := Fans(t.Shape())
	b := gain * math.Sqrt(6/float64(in+out))
	Uniform(rng, t, -b, b)
}

// XavierNormal fills t from N(0, std²) with std = gain·√(2/(fanIn+fanOut)).
func XavierNormal(rng *tensor.RNG, t *tensor.Tensor, gain float64) {
	in, out := Fans(t.Shape())
	Normal(rng, t, 0, gain*math.Sqrt(2/float64(in+out)))
}

// TruncNormal fills t from N(mean, std²) restricted to [lo, hi] by
// rejection, as timm's trunc_normal_ (default lo = -2, hi = 2) is used.
func TruncNormal(rng *tensor.RNG, t *tensor.Tensor, mean, std, lo, hi float64) {
	r := rng.Rand()
	d := t.Data()
	for i := range d {
		for {
			v := mean + std*r.NormFloat64()
			if v >= lo && v <= hi {
				d[i] = float32(v)
				break
			}
		}
	}
}

// Uniform fills t from U(lo, hi).
func Uniform(rng *tensor.RNG, t *tensor.Tensor, lo, hi float64) {
	r := rng.Rand()
	d := t.Data()
	for i := range d {
		d[i] = float32(lo + (hi-lo)*r.Float64())
	}
}

// Normal fills t from N(mean, std²).
func Normal(rng *tensor.RNG, t *tensor.Tensor, mean, std float64) {
	r := rng.Rand()
	d := t.Data()
	for i := range d {
		d[i] = float32(mean + std*r.NormFloat64())
	}
}

// defaultInit applies PyTorch's default initialisation of Linear and Conv
// layers: kaiming_uniform_ with a = √5 on the weights, which gives
// U(-1/√fanIn, 1/√fanIn), and the same bound for the bias.
func defaultInit(rng *tensor.RNG, w, b *tensor.Tensor) {
	KaimingUniform(rng, w, math.Sqrt(5), FanIn, "leaky_relu")
	if b != nil {
		in, _ := Fans(w.Shape())
		bound := 1 / math.Sqrt(float64(in))
		Uniform(rng, b, -bound, bound)
	}
}
