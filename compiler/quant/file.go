package quant

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"

	"argus/checkpoint"
	"argus/dpu/ref"
	"argus/internal/geom"
)

// The quantised model file (.quant) is a safetensors file:
//
//   - metadata "format" is "argus.quant" and "version" the decimal format
//     version (Version);
//   - metadata "model" is the Model as JSON: name, input, outputs, tensors
//     (name, per-image shape C×H×W, position) and layers (name, op, input
//     and output tensor names, window, positions, shifts, activation,
//     average factor), every field as Model and Layer document it;
//   - tensors "layers.<i>.weight" and "layers.<i>.bias", of type I8, hold
//     the int8 weights (shape OC×KH×KW×C for conv, KH×KW×C for depthwise,
//     OC×K for fc) and biases (OC) of layer i, for the layers that have
//     them.
//
// Read checks everything a later stage relies on: the version, that each
// layer reads tensors computed before it, and that the shapes, parameter
// sizes and shifts agree with the positions.

// Version is the version of the file format that Write writes and Read
// accepts.
const Version = 1

const formatName = "argus.quant"

// ErrFormat is wrapped by every error about a malformed model file.
var ErrFormat = errors.New("not a valid quantised model")

func formatErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrFormat, fmt.Sprintf(format, args...))
}

// Write writes m to path atomically.
func Write(path string, m *Model) error {
	f, err := encode(m)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return checkpoint.WriteFile(path, f)
}

// Marshal returns m as the bytes of a model file.
func Marshal(m *Model) ([]byte, error) {
	f, err := encode(m)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := checkpoint.Encode(&b, f); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func encode(m *Model) (*checkpoint.File, error) {
	js, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	f := checkpoint.NewFile()
	f.Metadata["format"] = formatName
	f.Metadata["version"] = strconv.Itoa(Version)
	f.Metadata["model"] = string(js)
	for i, l := range m.Layers {
		if !l.hasParams() {
			continue
		}
		for _, p := range []struct {
			name string
			v    []int8
		}{{"weight", l.Weights}, {"bias", l.Bias}} {
			data := make([]byte, len(p.v))
			for j, q := range p.v {
				data[j] = byte(q)
			}
			if err := f.Add(fmt.Sprintf("layers.%d.%s", i, p.name), checkpoint.Entry{DType: checkpoint.I8, Shape: []int{len(p.v)}, Data: data}); err != nil {
				return nil, err
			}
		}
	}
	return f, nil
}

// Read reads and checks the model file at path.
func Read(path string) (*Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := Unmarshal(b)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return m, nil
}

// Unmarshal decodes and checks the bytes of a model file.
func Unmarshal(b []byte) (*Model, error) {
	f, err := checkpoint.Decode(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	if f.Metadata["format"] != formatName {
		return nil, formatErr("format %q, want %q", f.Metadata["format"], formatName)
	}
	if v := f.Metadata["version"]; v != strconv.Itoa(Version) {
		return nil, formatErr("version %q; this build reads version %d", v, Version)
	}
	var m Model
	dec := json.NewDecoder(bytes.NewReader([]byte(f.Metadata["model"])))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, formatErr("model: %v", err)
	}
	want := 0
	for i := range m.Layers {
		l := &m.Layers[i]
		if !l.hasParams() {
			continue
		}
		for _, p := range []struct {
			name string
			v    *[]int8
		}{{"weight", &l.Weights}, {"bias", &l.Bias}} {
			key := fmt.Sprintf("layers.%d.%s", i, p.name)
			e, ok := f.Tensors[key]
			if !ok {
				return nil, formatErr("layer %d (%s): no tensor %q", i, l.Op, key)
			}
			if e.DType != checkpoint.I8 || len(e.Shape) != 1 {
				return nil, formatErr("tensor %q is %s%v, want a vector of I8", key, e.DType, e.Shape)
			}
			*p.v = make([]int8, len(e.Data))
			for j, c := range e.Data {
				(*p.v)[j] = int8(c)
			}
			want++
		}
	}
	if len(f.Tensors) != want {
		return nil, formatErr("%d tensors, the layers have %d", len(f.Tensors), want)
	}
	if err := Check(&m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	return &m, nil
}

func (l *Layer) hasParams() bool { return l.Op == OpConv || l.Op == OpDepthwise || l.Op == OpFC }

// maxDim bounds every dimension of a tensor, and maxElements its size, in
// a model that Check accepts.
const (
	maxDim      = 1 << 16
	maxElements = 1 << 28
)

// Check reports whether m is consistent: one input tensor, each layer
// reading tensors defined before it and defining a new one, output shapes
// that follow from the inputs and windows (padding below the kernel's
// size on each side), parameters of the right sizes,
// positions within ±64 and shifts as Legalize sets them and within their
// fields.
func Check(m *Model) error {
	defined := map[string]*Tensor{}
	byName := map[string]*Tensor{}
	for i := range m.Tensors {
		t := &m.Tensors[i]
		if _, dup := byName[t.Name]; dup || t.Name == "" {
			return fmt.Errorf("tensor %q: empty or repeated name", t.Name)
		}
		n := 1
		for _, d := range t.Shape {
			if d <= 0 || d > maxDim {
				return fmt.Errorf("tensor %q: shape %v", t.Name, t.Shape)
			}
			n *= d
		}
		if n > maxElements {
			return fmt.Errorf("tensor %q: %d elements", t.Name, n)
		}
		if t.Pos < -64 || t.Pos > 64 {
			return fmt.Errorf("tensor %q: position %d", t.Name, t.Pos)
		}
		byName[t.Name] = t
	}
	in := byName[m.Input]
	if in == nil {
		return fmt.Errorf("input %q is not a tensor", m.Input)
	}
	defined[m.Input] = in
	for i := range m.Layers {
		l := &m.Layers[i]
		if err := checkLayer(l, defined, byName); err != nil {
			return fmt.Errorf("layer %d %s: %w", i, l.String(), err)
		}
		defined[l.Output] = byName[l.Output]
	}
	if len(defined) != len(m.Tensors) {
		return fmt.Errorf("%d tensors, %d computed", len(m.Tensors), len(defined))
	}
	if len(m.Outputs) == 0 {
		return errors.New("no outputs")
	}
	for _, o := range m.Outputs {
		if defined[o] == nil {
			return fmt.Errorf("output %q is not computed", o)
		}
	}
	return nil
}

// arity is the number of inputs each operation takes; 0 means one or more.
var arity = map[Op]int{
	OpConv: 1, OpDepthwise: 1, OpFC: 1, OpMaxPool: 1, OpAvgPool: 1, OpAdd: 2, OpMul: 2,
	OpConcat: 0, OpFlatten: 1, OpReLU: 1, OpReLU6: 1, OpSigmoid: 1,
}

func checkLayer(l *Layer, defined, byName map[string]*Tensor) error {
	n, ok := arity[l.Op]
	if !ok {
		return fmt.Errorf("unknown operation")
	}
	if (n > 0 && len(l.Inputs) != n) || len(l.Inputs) == 0 {
		return fmt.Errorf("%d inputs", len(l.Inputs))
	}
	ins := make([]*Tensor, len(l.Inputs))
	for j, name := range l.Inputs {
		if ins[j] = defined[name]; ins[j] == nil {
			return fmt.Errorf("input %q is not computed before it", name)
		}
	}
	out := byName[l.Output]
	if out == nil || defined[l.Output] != nil {
		return fmt.Errorf("output %q is not a new tensor", l.Output)
	}
	x := ins[0].Shape
	var want [3]int
	switch l.Op {
	case OpConv, OpDepthwise, OpMaxPool, OpAvgPool:
		for j, k := range l.Kernel {
			if k < 1 || k > maxDim || l.Stride[j] < 1 || l.Stride[j] > maxDim {
				return fmt.Errorf("kernel %v, stride %v", l.Kernel, l.Stride)
			}
			if l.Pad[j] < 0 || l.Pad[j] >= k || l.Pad[j+2] < 0 || l.Pad[j+2] >= k {
				return fmt.Errorf("padding %v for kernel %v", l.Pad, l.Kernel)
			}
		}
		w, err := geom.Window{Stride: l.Stride[:], Padding: l.Pad[:2], PadEnd: l.Pad[2:]}.Resolve([]int{x[1], x[2]}, l.Kernel[:], false)
		if err != nil {
			return err
		}
		want = [3]int{x[0], w.Out[0], w.Out[1]}
		if l.Op == OpConv {
			want[0] = out.Shape[0]
		}
	case OpFC:
		want = [3]int{out.Shape[0], 1, 1}
	case OpAdd, OpMul, OpReLU, OpReLU6, OpSigmoid:
		want = x
		for _, t := range ins {
			if t.Shape != x {
				return fmt.Errorf("inputs of shapes %v and %v", x, t.Shape)
			}
		}
	case OpConcat:
		want = x
		want[0] = 0
		for _, t := range ins {
			if t.Shape[1] != x[1] || t.Shape[2] != x[2] {
				return fmt.Errorf("inputs of sizes %v and %v", x, t.Shape)
			}
			want[0] += t.Shape[0]
		}
	case OpFlatten:
		want = [3]int{x[0] * x[1] * x[2], 1, 1}
	}
	if out.Shape != want {
		return fmt.Errorf("output %q of shape %v, want %v", l.Output, out.Shape, want)
	}
	if l.hasParams() {
		oc, kk := out.Shape[0], l.Kernel[0]*l.Kernel[1]
		nw := map[Op]int{OpConv: oc * kk * x[0], OpDepthwise: kk * x[0], OpFC: oc * x[0] * x[1] * x[2]}[l.Op]
		if len(l.Weights) != nw || len(l.Bias) != oc {
			return fmt.Errorf("%d weights and %d biases, want %d and %d", len(l.Weights), len(l.Bias), nw, oc)
		}
		if l.Op == OpFC && (l.Kernel != [2]int{1, 1} || l.Stride != [2]int{1, 1} || l.Pad != [4]int{}) {
			return errors.New("fully connected layer with a window")
		}
		if l.WeightPos < -64 || l.WeightPos > 64 || l.BiasPos < -64 || l.BiasPos > 64 {
			return fmt.Errorf("positions %d, %d", l.WeightPos, l.BiasPos)
		}
	} else if len(l.Weights) != 0 || len(l.Bias) != 0 {
		return errors.New("parameters on a layer without any")
	}
	if l.Act < ref.ActNone || l.Act > ref.ActLeaky {
		return fmt.Errorf("activation %d", l.Act)
	}
	if l.Act != ref.ActNone && !l.hasParams() && l.Op != OpAdd && l.Op != OpMul {
		return fmt.Errorf("activation %d on a layer that applies none", l.Act)
	}
	if l.Op == OpAvgPool && (l.AvgMult < 1 || l.AvgMult > 255 || l.ShiftCut < 0 || l.ShiftCut > 31) {
		return fmt.Errorf("average factor %d/2^%d", l.AvgMult, l.ShiftCut)
	}
	// The shifts must be those the positions give.
	c := *l
	m := &Model{Tensors: make([]Tensor, 0, len(ins)+1)}
	for _, t := range ins {
		m.Tensors = append(m.Tensors, *t)
	}
	m.Tensors = append(m.Tensors, *out)
	if err := setShifts(m, &c); err != nil {
		return err
	}
	if c.ShiftCut != l.ShiftCut || c.ShiftBias != l.ShiftBias || c.ShiftA != l.ShiftA || c.ShiftB != l.ShiftB || c.ActFix != l.ActFix {
		return errors.New("shifts that do not follow from the positions")
	}
	return nil
}
