package sim

import "argus/dpu/isa"

// Shift divides x by 2^s and rounds with mode (one of isa.RoundDPU,
// isa.RoundStandard, isa.RoundPy3).
func Shift(x int64, s int, mode int) int64 {
	if s <= 0 {
		return x
	}
	half := int64(1) << (s - 1)
	switch mode {
	case isa.RoundStandard:
		if x < 0 {
			return -((-x + half) >> s)
		}
		return (x + half) >> s
	case isa.RoundPy3:
		q := x >> s
		r := x - q<<s
		if r > half || (r == half && q&1 == 1) {
			q++
		}
		return q
	default:
		return (x + half) >> s
	}
}

// Requant turns an accumulator into an int8 output: the right shift cut
// with rounding mode, then the activation, then saturation. LeakyReLU
// multiplies a negative accumulator by 26 before shifting by cut+8, so the
// slope 26/256 loses nothing to an early rounding. ReLU6 clips at 6*2^fix,
// six in the output's fixed-point format.
func Requant(acc int64, cut, act, fix, mode int) int8 {
	var v int64
	switch act {
	case isa.ActReLU:
		v = Shift(max(acc, 0), cut, mode)
	case isa.ActReLU6:
		v = min(Shift(max(acc, 0), cut, mode), 6<<fix)
	case isa.ActLeaky:
		if acc < 0 {
			v = Shift(acc*isa.LeakyNum, cut+isa.LeakyShift, mode)
		} else {
			v = Shift(acc, cut, mode)
		}
	default:
		v = Shift(acc, cut, mode)
	}
	return int8(min(max(v, -128), 127))
}
