package train

import (
	"encoding/binary"
	"fmt"
	"math"

	"argus/nn"
	"argus/tensor"
)

// ema is an exponential moving average of a module's floating-point state
// (parameters and buffers such as batch-norm statistics), updated after
// every optimiser step as timm's ModelEmaV2 does:
//
//	avg = decay·avg + (1−decay)·w
//
// Integer buffers (batch counters) are copied, not averaged.
type ema struct {
	decay float32
	names []string
	vals  []*tensor.Tensor
	ints  []bool
}

// newEMA starts the average at m's current state.
func newEMA(m nn.Module, decay float64) *ema {
	e := &ema{decay: float32(decay)}
	for _, s := range nn.StateDict(m) {
		e.names = append(e.names, s.Name)
		e.vals = append(e.vals, s.Value.Clone())
		e.ints = append(e.ints, s.Integer)
	}
	return e
}

func (e *ema) update(m nn.Module) {
	d, c := e.decay, 1-e.decay
	for i, s := range nn.StateDict(m) {
		avg, w := e.vals[i].Data(), s.Value.Data()
		if e.ints[i] {
			copy(avg, w)
			continue
		}
		for j, v := range w {
			avg[j] = d*avg[j] + c*v
		}
	}
}

// swapIn puts the average into m and returns the function that puts m's
// own state back.
func (e *ema) swapIn(m nn.Module) (restore func()) {
	st := nn.StateDict(m)
	saved := make([]*tensor.Tensor, len(st))
	for i, s := range st {
		saved[i] = s.Value.Clone()
		s.Value.CopyFrom(e.vals[i])
	}
	return func() {
		for i, s := range st {
			s.Value.CopyFrom(saved[i])
		}
	}
}

// encode returns the average as little-endian float32 bytes by name.
func (e *ema) encode() map[string][]byte {
	out := make(map[string][]byte, len(e.names))
	for i, n := range e.names {
		d := e.vals[i].Data()
		b := make([]byte, 4*len(d))
		for j, v := range d {
			binary.LittleEndian.PutUint32(b[4*j:], math.Float32bits(v))
		}
		out[n] = b
	}
	return out
}

// check reports stored averages whose size does not match the module.
func (e *ema) check(st map[string][]byte) error {
	for i, n := range e.names {
		if len(st[n]) != 4*e.vals[i].Len() {
			return fmt.Errorf("moving average of %s holds %d bytes, want %d", n, len(st[n]), 4*e.vals[i].Len())
		}
	}
	return nil
}

// decode restores an average written by encode and checked by check.
func (e *ema) decode(st map[string][]byte) {
	for i, n := range e.names {
		d, b := e.vals[i].Data(), st[n]
		for j := range d {
			d[j] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*j:]))
		}
	}
}
