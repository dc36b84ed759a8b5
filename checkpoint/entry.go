package checkpoint

import (
	"encoding/binary"
	"fmt"
	"math"

	"argus/tensor"
)

// Float32Entry returns an F32 entry holding a copy of t.
func Float32Entry(t *tensor.Tensor) Entry {
	d := t.Data()
	b := make([]byte, 4*len(d))
	for i, v := range d {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return Entry{DType: F32, Shape: append([]int{}, t.Shape()...), Data: b}
}

// Int64Entry returns an I64 entry holding vals with the given shape.
func Int64Entry(vals []int64, shape ...int) Entry {
	b := make([]byte, 8*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(v))
	}
	return Entry{DType: I64, Shape: append([]int{}, shape...), Data: b}
}

// Int32Entry returns an I32 entry holding a copy of t.
func Int32Entry(t *tensor.Int32) Entry {
	d := t.Data()
	b := make([]byte, 4*len(d))
	for i, v := range d {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(v))
	}
	return Entry{DType: I32, Shape: append([]int{}, t.Shape()...), Data: b}
}

// Int8Entry returns an I8 entry holding a copy of t.
func Int8Entry(t *tensor.Int8) Entry {
	d := t.Data()
	b := make([]byte, len(d))
	for i, v := range d {
		b[i] = byte(v)
	}
	return Entry{DType: I8, Shape: append([]int{}, t.Shape()...), Data: b}
}

// Uint8Entry returns a U8 entry holding a copy of vals with the given shape.
func Uint8Entry(vals []byte, shape ...int) Entry {
	return Entry{DType: U8, Shape: append([]int{}, shape...), Data: append([]byte{}, vals...)}
}

// Len returns the number of elements.
func (e Entry) Len() int { return tensor.NumElements(e.Shape) }

// Float32 converts the entry to a float32 tensor. Floating-point types are
// rounded to nearest, integers converted by value.
func (e Entry) Float32() (*tensor.Tensor, error) {
	n := e.Len()
	if sz := e.DType.Size(); sz == 0 || n*sz != len(e.Data) {
		return nil, fmt.Errorf("%s %v: malformed entry", e.DType, e.Shape)
	}
	out := tensor.Zeros(e.Shape...)
	d, b := out.Data(), e.Data
	le := binary.LittleEndian
	for i := range d {
		switch e.DType {
		case F32:
			d[i] = math.Float32frombits(le.Uint32(b[4*i:]))
		case F64:
			d[i] = float32(math.Float64frombits(le.Uint64(b[8*i:])))
		case F16:
			d[i] = halfToFloat(le.Uint16(b[2*i:]))
		case BF16:
			d[i] = math.Float32frombits(uint32(le.Uint16(b[2*i:])) << 16)
		case I64:
			d[i] = float32(int64(le.Uint64(b[8*i:])))
		case U64:
			d[i] = float32(le.Uint64(b[8*i:]))
		case I32:
			d[i] = float32(int32(le.Uint32(b[4*i:])))
		case U32:
			d[i] = float32(le.Uint32(b[4*i:]))
		case I16:
			d[i] = float32(int16(le.Uint16(b[2*i:])))
		case U16:
			d[i] = float32(le.Uint16(b[2*i:]))
		case I8:
			d[i] = float32(int8(b[i]))
		case U8, Bool:
			d[i] = float32(b[i])
		default:
			return nil, fmt.Errorf("cannot convert %s to float32", e.DType)
		}
	}
	return out, nil
}

// Int64s returns the elements of an integer or boolean entry as int64.
func (e Entry) Int64s() ([]int64, error) {
	n := e.Len()
	if sz := e.DType.Size(); sz == 0 || n*sz != len(e.Data) {
		return nil, fmt.Errorf("%s %v: malformed entry", e.DType, e.Shape)
	}
	out := make([]int64, n)
	b := e.Data
	le := binary.LittleEndian
	for i := range out {
		switch e.DType {
		case I64, U64:
			out[i] = int64(le.Uint64(b[8*i:]))
		case I32:
			out[i] = int64(int32(le.Uint32(b[4*i:])))
		case U32:
			out[i] = int64(le.Uint32(b[4*i:]))
		case I16:
			out[i] = int64(int16(le.Uint16(b[2*i:])))
		case U16:
			out[i] = int64(le.Uint16(b[2*i:]))
		case I8:
			out[i] = int64(int8(b[i]))
		case U8, Bool:
			out[i] = int64(b[i])
		default:
			return nil, fmt.Errorf("cannot convert %s to integers", e.DType)
		}
	}
	return out, nil
}

// halfToFloat converts an IEEE 754 binary16 value to float32.
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	man := uint32(h) & 0x3ff
	switch {
	case exp == 0:
		// Zero or subnormal: value is man * 2^-24.
		f := float32(man) * (1.0 / (1 << 24))
		if sign != 0 {
			f = -f
		}
		return f
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	}
	return math.Float32frombits(sign | (exp+112)<<23 | man<<13)
}
