package isa

import "math/rand/v2"

// Random returns a random valid instruction other than END, drawn with r.
// Property tests use it to check that encoding, decoding, formatting and
// parsing preserve every legal instruction.
func Random(r *rand.Rand) Instr {
	var s *Spec
	for s == nil || s.Op == END {
		s = Specs[r.IntN(len(Specs))]
	}
	in := Instr{Op: s.Op}
	deps := func() Deps {
		d := Deps(r.IntN(8))
		return d &^ (1 << s.Engine)
	}
	in.Wait, in.Signal = deps(), deps()
	for i := range s.Fields {
		f := &s.Fields[i]
		var v int
		switch f.Kind {
		case Enum:
			v = r.IntN(len(f.Names))
		case FMBank:
			v = r.IntN(FMBanks)
		case WBank:
			v = WeightBank0 + r.IntN(WeightBanks)
		case AnyBank:
			v = r.IntN(BiasBank + 1)
		default:
			v = f.Min + int(r.Int64N(int64(f.Max-f.Min)+1))
		}
		*f.ref(&in) = v
	}
	return in
}
