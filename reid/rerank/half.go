package rerank

import "math"

// half rounds x to the nearest IEEE binary16 value (ties to even) and
// returns it as float32, which is what storing into a numpy float16 array
// and reading back does. Overflow goes to ±Inf.
func half(x float32) float32 {
	b := math.Float32bits(x)
	sign := b & 0x80000000
	exp := int((b>>23)&0xff) - 127
	mant := b & 0x7fffff
	switch {
	case exp == 128: // Inf or NaN
		return x
	case exp > 15:
		return math.Float32frombits(sign | 0x7f800000)
	case exp >= -14:
		// Normal half: keep 10 mantissa bits.
		r := roundBits(mant, 13)
		if r == 1<<10 { // mantissa overflow
			r = 0
			exp++
			if exp > 15 {
				return math.Float32frombits(sign | 0x7f800000)
			}
		}
		return math.Float32frombits(sign | uint32(exp+127)<<23 | r<<13)
	case exp >= -25:
		// Subnormal half: the value is a multiple of 2^-24.
		full := mant | 0x800000 // 24 bits, value = full * 2^(exp-23)
		shift := uint(-14-exp) + 13
		r := roundBits(full, shift) // multiples of 2^-24
		return float32(math.Copysign(float64(r)*0x1p-24, float64(x)))
	default:
		return math.Float32frombits(sign)
	}
}

// roundBits drops the low n bits of m, rounding to nearest, ties to even.
func roundBits(m uint32, n uint) uint32 {
	q := m >> n
	rem := m & (1<<n - 1)
	mid := uint32(1) << (n - 1)
	if rem > mid || (rem == mid && q&1 == 1) {
		q++
	}
	return q
}
