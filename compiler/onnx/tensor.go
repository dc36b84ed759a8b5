package onnx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"argus/compiler/onnx/onnxpb"
	"argus/compiler/xgraph"
)

// maxElements bounds the size of one tensor so that a corrupt header cannot
// make the reader allocate without limit.
const maxElements = 1 << 31

// elemSize is the stored size in bytes of one element of each type that
// can come as raw data.
var elemSize = map[xgraph.DType]int{
	xgraph.Float32: 4, xgraph.Uint8: 1, xgraph.Int8: 1, xgraph.Uint16: 2, xgraph.Int16: 2,
	xgraph.Int32: 4, xgraph.Int64: 8, xgraph.Bool: 1, xgraph.Float16: 2, xgraph.Float64: 8,
	xgraph.Uint32: 4, xgraph.Uint64: 8, xgraph.BFloat16: 2,
}

// Tensor converts a TensorProto to an xgraph.Tensor. External data is read
// from files below dir; an empty dir refuses external data.
func Tensor(tp *onnxpb.TensorProto, dir string) (*xgraph.Tensor, error) {
	t, err := decodeTensor(tp, dir)
	if err != nil {
		if name := tp.GetName(); name != "" {
			return nil, fmt.Errorf("tensor %q: %w", safeName(name), err)
		}
		return nil, fmt.Errorf("tensor: %w", err)
	}
	return t, nil
}

func decodeTensor(tp *onnxpb.TensorProto, dir string) (*xgraph.Tensor, error) {
	dt := xgraph.DType(tp.GetDataType())
	if _, ok := elemSize[dt]; !ok {
		return nil, &xgraph.UnsupportedError{Reason: fmt.Sprintf("element type %s", dt)}
	}
	if tp.Segment != nil {
		return nil, &xgraph.UnsupportedError{Reason: "segmented tensors"}
	}
	shape := make([]int, len(tp.Dims))
	n := 1
	for i, d := range tp.Dims {
		if d < 0 || d > maxElements {
			return nil, fmt.Errorf("dimension %d is %d", i, d)
		}
		shape[i] = int(d)
		if d != 0 && n > maxElements/int(d) {
			return nil, fmt.Errorf("shape %v is too large", tp.Dims)
		}
		n *= int(d)
	}
	raw := tp.RawData
	if tp.GetDataLocation() == onnxpb.TensorProto_EXTERNAL {
		var err error
		if raw, err = readExternal(tp, dir); err != nil {
			return nil, err
		}
	}
	external := tp.GetDataLocation() == onnxpb.TensorProto_EXTERNAL
	// Sizes are checked before allocating, so that a corrupt header
	// cannot demand gigabytes.
	if raw != nil || external {
		if size := elemSize[dt]; len(raw) != n*size {
			return nil, fmt.Errorf("raw data holds %d bytes, shape %v of %s needs %d", len(raw), shape, dt, n*size)
		}
		t := xgraph.Zero(dt, shape...)
		decodeRaw(t, raw)
		return t, nil
	}
	// Typed fields, per the schema's table of which field holds which type.
	var have int
	switch dt {
	case xgraph.Float32:
		have = len(tp.FloatData)
	case xgraph.Float64:
		have = len(tp.DoubleData)
	case xgraph.Int64:
		have = len(tp.Int64Data)
	case xgraph.Uint32, xgraph.Uint64:
		have = len(tp.Uint64Data)
	default: // int32, int16, int8, uint16, uint8, bool, float16, bfloat16
		have = len(tp.Int32Data)
	}
	if have != n {
		return nil, fmt.Errorf("holds %d values, shape %v needs %d", have, shape, n)
	}
	t := xgraph.Zero(dt, shape...)
	switch dt {
	case xgraph.Float32:
		copy(t.F, tp.FloatData)
	case xgraph.Float64:
		for i, v := range tp.DoubleData {
			t.F[i] = float32(v)
		}
	case xgraph.Float16, xgraph.BFloat16:
		for i, v := range tp.Int32Data {
			t.F[i] = halfToFloat(dt, uint16(v))
		}
	case xgraph.Int64:
		copy(t.I, tp.Int64Data)
	case xgraph.Uint32, xgraph.Uint64:
		for i, v := range tp.Uint64Data {
			t.I[i] = dt.Wrap(int64(v))
		}
	default:
		for i, v := range tp.Int32Data {
			t.I[i] = dt.Wrap(int64(v))
		}
	}
	return t, nil
}

func decodeRaw(t *xgraph.Tensor, raw []byte) {
	le := binary.LittleEndian
	switch t.DType {
	case xgraph.Float32:
		for i := range t.F {
			t.F[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
		}
	case xgraph.Float64:
		for i := range t.F {
			t.F[i] = float32(math.Float64frombits(le.Uint64(raw[8*i:])))
		}
	case xgraph.Float16, xgraph.BFloat16:
		for i := range t.F {
			t.F[i] = halfToFloat(t.DType, le.Uint16(raw[2*i:]))
		}
	case xgraph.Int64, xgraph.Uint64:
		for i := range t.I {
			t.I[i] = int64(le.Uint64(raw[8*i:]))
		}
	case xgraph.Int32:
		for i := range t.I {
			t.I[i] = int64(int32(le.Uint32(raw[4*i:])))
		}
	case xgraph.Uint32:
		for i := range t.I {
			t.I[i] = int64(le.Uint32(raw[4*i:]))
		}
	case xgraph.Int16:
		for i := range t.I {
			t.I[i] = int64(int16(le.Uint16(raw[2*i:])))
		}
	case xgraph.Uint16:
		for i := range t.I {
			t.I[i] = int64(le.Uint16(raw[2*i:]))
		}
	case xgraph.Int8:
		for i := range t.I {
			t.I[i] = int64(int8(raw[i]))
		}
	case xgraph.Uint8:
		for i := range t.I {
			t.I[i] = int64(raw[i])
		}
	case xgraph.Bool:
		for i := range t.I {
			if raw[i] != 0 {
				t.I[i] = 1
			}
		}
	}
}

// halfToFloat converts an IEEE half or a bfloat16 bit pattern to float32.
func halfToFloat(dt xgraph.DType, h uint16) float32 {
	if dt == xgraph.BFloat16 {
		return math.Float32frombits(uint32(h) << 16)
	}
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal
		v := float32(frac) / 1024 * float32(math.Pow(2, -14))
		if sign != 0 {
			return -v
		}
		return v
	case exp == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	}
	return math.Float32frombits(sign | (exp+112)<<23 | frac<<13)
}

// readExternal reads a tensor's bytes from the file its external_data
// names. The location must be a relative path that stays below dir, also
// after symbolic links are followed, so that a model cannot read arbitrary
// files.
func readExternal(tp *onnxpb.TensorProto, dir string) ([]byte, error) {
	var location string
	offset, length := int64(0), int64(-1)
	for _, kv := range tp.ExternalData {
		var err error
		switch kv.GetKey() {
		case "location":
			location = kv.GetValue()
		case "offset":
			offset, err = strconv.ParseInt(kv.GetValue(), 10, 64)
		case "length":
			length, err = strconv.ParseInt(kv.GetValue(), 10, 64)
		}
		if err != nil || offset < 0 {
			return nil, fmt.Errorf("external data %s: bad value %q", kv.GetKey(), kv.GetValue())
		}
	}
	if location == "" {
		return nil, errors.New("external data without a location")
	}
	if dir == "" {
		return nil, fmt.Errorf("external data %q: no model directory to read it from", location)
	}
	rel := filepath.FromSlash(location)
	if !filepath.IsLocal(rel) {
		return nil, fmt.Errorf("external data location %q leaves the model directory", location)
	}
	base, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, fmt.Errorf("external data %q: %w", location, err)
	}
	path, err := filepath.EvalSymlinks(filepath.Join(base, rel))
	if err != nil {
		return nil, fmt.Errorf("external data %q: %w", location, err)
	}
	if r, err := filepath.Rel(base, path); err != nil || !filepath.IsLocal(r) {
		return nil, fmt.Errorf("external data location %q leaves the model directory", location)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("external data: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("external data: %w", err)
	}
	if length < 0 {
		length = st.Size() - offset
	}
	// Compared without adding, which could overflow.
	if length < 0 || offset > st.Size() || length > st.Size()-offset {
		return nil, fmt.Errorf("external data %q: range %d+%d exceeds file size %d", location, offset, length, st.Size())
	}
	buf := make([]byte, length)
	if _, err := f.ReadAt(buf, offset); err != nil && !(errors.Is(err, io.EOF) && length == 0) {
		return nil, fmt.Errorf("external data %q: %w", location, err)
	}
	return buf, nil
}

// TensorProto converts t to a TensorProto with raw little-endian data.
// Float tensors are written as float32, integer ones in their own type.
func TensorProto(t *xgraph.Tensor, name string) *onnxpb.TensorProto {
	tp := &onnxpb.TensorProto{Name: &name}
	dt := t.DType
	if dt.IsFloat() {
		dt = xgraph.Float32
	}
	code := int32(dt)
	tp.DataType = &code
	for _, d := range t.Shape {
		tp.Dims = append(tp.Dims, int64(d))
	}
	le := binary.LittleEndian
	size := elemSize[dt]
	raw := make([]byte, t.Len()*size)
	for i := 0; i < t.Len(); i++ {
		switch dt {
		case xgraph.Float32:
			le.PutUint32(raw[4*i:], math.Float32bits(t.F[i]))
		default:
			v := uint64(t.I[i])
			switch size {
			case 1:
				raw[i] = byte(v)
			case 2:
				le.PutUint16(raw[2*i:], uint16(v))
			case 4:
				le.PutUint32(raw[4*i:], uint32(v))
			case 8:
				le.PutUint64(raw[8*i:], v)
			}
		}
	}
	tp.RawData = raw
	return tp
}

// safeName returns s for messages with control characters escaped.
func safeName(s string) string {
	if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 }) {
		return strconv.Quote(s)
	}
	return s
}
