package quant

import (
	"fmt"

	"argus/dpu/ref"
)

// The ranges the DPU's instruction fields give the shifts (dpu/isa), and
// the Vitis AI compiler's tighter limits where it has them.
const (
	maxConvShiftCut  = 16 // 0 ≤ input + weight − output ≤ 16
	maxShiftBias     = 15 // 0 ≤ input + weight − bias ≤ 15
	maxElewShift     = 15 // the 4-bit shift_a, shift_b of ELEWINIT
	maxElewShiftCut  = 31 // the 5-bit shift_cut of ELEWINIT
	maxActFix        = 15 // the 4-bit act_fix of CONVINIT
	minSigmoidOutPos = 7
	maxSigmoidInPos  = 15
	sigmoidShift     = 14 // 0 ≤ 14 + input − output
	maxLegalRounds   = 16
)

// Change is one position that legalisation moved.
type Change struct {
	Layer string `json:"layer"`
	// What names the position: "input" or "output" (tensor Tensor),
	// "weights" or "bias".
	What   string `json:"what"`
	Tensor string `json:"tensor,omitempty"`
	From   int    `json:"from"`
	To     int    `json:"to"`
	Rule   string `json:"rule"`
}

// Legalize moves the positions of m's tensors and parameters until every
// layer's arithmetic fits the DPU, as the Vitis AI quantiser does after
// calibration, and then sets every layer's shifts. The rules, applied in
// rounds until none moves a position:
//   - pooling, flatten and standalone ReLU keep the position: input and
//     output take the lower of the two; concatenation's inputs and output
//     all take the lowest of theirs;
//   - an add's inputs differ by at most 15 (the higher moves down), and
//     its output is at most the higher input's position and at least 31
//     below it; a product's output is 0 to 31 below the sum of its inputs';
//   - a convolution's shift_cut = input + weights − output lies in [0, 16]
//     (the weights' position moves) and its shift_bias = input + weights −
//     bias in [0, 15] (the bias's position moves); a ReLU6 output lies in
//     [0, 15], where act_fix can say it;
//   - a sigmoid's input position lies in [0, 15], its output's at least 7
//     and at most 14 above its input's.
//
// It returns the moves in order, or an error when the rules do not settle
// or a shift still falls outside its field.
func Legalize(m *Model) ([]Change, error) {
	pos := map[string]*int{}
	for i := range m.Tensors {
		pos[m.Tensors[i].Name] = &m.Tensors[i].Pos
	}
	for _, l := range m.Layers {
		for _, name := range append([]string{l.Output}, l.Inputs...) {
			if pos[name] == nil {
				return nil, fmt.Errorf("layer %s: tensor %q is not in the model", l.String(), name)
			}
		}
	}
	var changes []Change
	set := func(l *Layer, what, tensor string, p *int, to int, rule string) {
		if *p != to {
			changes = append(changes, Change{Layer: l.Name, What: what, Tensor: tensor, From: *p, To: to, Rule: rule})
			*p = to
		}
	}
	setT := func(l *Layer, what, name string, to int, rule string) { set(l, what, name, pos[name], to, rule) }
	for round := 0; ; round++ {
		before := len(changes)
		for i := range m.Layers {
			l := &m.Layers[i]
			po := pos[l.Output]
			switch l.Op {
			case OpMaxPool, OpAvgPool, OpFlatten, OpReLU, OpReLU6, OpConcat:
				low := *po
				for _, in := range l.Inputs {
					low = min(low, *pos[in])
				}
				for _, in := range l.Inputs {
					setT(l, "input", in, low, "align "+string(l.Op))
				}
				setT(l, "output", l.Output, low, "align "+string(l.Op))
			case OpAdd:
				a, b := l.Inputs[0], l.Inputs[1]
				if *pos[a]-*pos[b] > maxElewShift {
					setT(l, "input", a, *pos[b]+maxElewShift, "eltwise shift")
				}
				if *pos[b]-*pos[a] > maxElewShift {
					setT(l, "input", b, *pos[a]+maxElewShift, "eltwise shift")
				}
				hi := max(*pos[a], *pos[b])
				if *po > hi {
					setT(l, "output", l.Output, hi, "eltwise shift_cut")
				} else if hi-*po > maxElewShiftCut {
					setT(l, "output", l.Output, hi-maxElewShiftCut, "eltwise shift_cut")
				}
			case OpMul:
				sum := *pos[l.Inputs[0]] + *pos[l.Inputs[1]]
				if *po > sum {
					setT(l, "output", l.Output, sum, "eltwise shift_cut")
				} else if sum-*po > maxElewShiftCut {
					setT(l, "output", l.Output, sum-maxElewShiftCut, "eltwise shift_cut")
				}
			case OpConv, OpDepthwise, OpFC:
				if l.Act == ref.ActReLU6 && (*po < 0 || *po > maxActFix) {
					setT(l, "output", l.Output, min(max(*po, 0), maxActFix), "relu6 act_fix")
				}
				pi := *pos[l.Inputs[0]]
				if sc := pi + l.WeightPos - *po; sc < 0 {
					set(l, "weights", "", &l.WeightPos, *po-pi, "shift_cut")
				} else if sc > maxConvShiftCut {
					set(l, "weights", "", &l.WeightPos, maxConvShiftCut+*po-pi, "shift_cut")
				}
				if sb := pi + l.WeightPos - l.BiasPos; sb < 0 {
					set(l, "bias", "", &l.BiasPos, pi+l.WeightPos, "shift_bias")
				} else if sb > maxShiftBias {
					set(l, "bias", "", &l.BiasPos, pi+l.WeightPos-maxShiftBias, "shift_bias")
				}
			case OpSigmoid:
				in := l.Inputs[0]
				setT(l, "input", in, min(max(*pos[in], 0), maxSigmoidInPos), "sigmoid input")
				if *po < minSigmoidOutPos {
					setT(l, "output", l.Output, minSigmoidOutPos, "sigmoid output")
				}
				if *po > sigmoidShift+*pos[in] {
					setT(l, "output", l.Output, sigmoidShift+*pos[in], "sigmoid shift")
				}
			}
		}
		if len(changes) == before {
			break
		}
		if round == maxLegalRounds {
			return changes, fmt.Errorf("legalisation does not settle after %d rounds (last move: %+v)", maxLegalRounds, changes[len(changes)-1])
		}
	}
	for i := range m.Layers {
		if err := setShifts(m, &m.Layers[i]); err != nil {
			return changes, err
		}
	}
	return changes, nil
}

// setShifts computes a layer's shifts from the positions and checks them
// against their fields.
func setShifts(m *Model, l *Layer) error {
	po := m.Tensor(l.Output).Pos
	in := func(i int) int { return m.Tensor(l.Inputs[i]).Pos }
	check := func(name string, v, hi int) error {
		if v < 0 || v > hi {
			return fmt.Errorf("layer %s: %s %d outside [0, %d]", l.String(), name, v, hi)
		}
		return nil
	}
	l.ActFix = 0
	switch l.Op {
	case OpConv, OpDepthwise, OpFC:
		l.ShiftCut = in(0) + l.WeightPos - po
		l.ShiftBias = in(0) + l.WeightPos - l.BiasPos
		if l.Act == ref.ActReLU6 {
			l.ActFix = po
			if err := check("act_fix", po, maxActFix); err != nil {
				return err
			}
		}
		if err := check("shift_cut", l.ShiftCut, maxConvShiftCut); err != nil {
			return err
		}
		return check("shift_bias", l.ShiftBias, maxShiftBias)
	case OpAdd:
		hi := max(in(0), in(1))
		l.ShiftA, l.ShiftB, l.ShiftCut = hi-in(0), hi-in(1), hi-po
		if err := check("shift_a", l.ShiftA, maxElewShift); err != nil {
			return err
		}
		if err := check("shift_b", l.ShiftB, maxElewShift); err != nil {
			return err
		}
		return check("shift_cut", l.ShiftCut, maxElewShiftCut)
	case OpMul:
		l.ShiftA, l.ShiftB, l.ShiftCut = 0, 0, in(0)+in(1)-po
		return check("shift_cut", l.ShiftCut, maxElewShiftCut)
	case OpSigmoid:
		if err := check("input position", in(0), maxSigmoidInPos); err != nil {
			return err
		}
		if po < minSigmoidOutPos || po > sigmoidShift+in(0) {
			return fmt.Errorf("layer %s: output position %d outside [%d, %d]", l.String(), po, minSigmoidOutPos, sigmoidShift+in(0))
		}
	case OpMaxPool, OpAvgPool, OpFlatten, OpReLU, OpReLU6, OpConcat:
		for i := range l.Inputs {
			if in(i) != po {
				return fmt.Errorf("layer %s: input position %d, output %d; they must agree", l.String(), in(i), po)
			}
		}
		if l.Op == OpReLU6 {
			l.ActFix = po
			return check("act_fix", po, maxActFix)
		}
	}
	return nil
}
