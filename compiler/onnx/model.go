// Package onnx reads ONNX models and tensors and imports them as XGraph
// graphs. Decoding uses the generated protobuf types of package onnxpb;
// operator sets 7 to 17 of the default domain are accepted, with
// initialisers and external data files.
package onnx

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"google.golang.org/protobuf/proto"

	"argus/compiler/onnx/onnxpb"
	"argus/compiler/xgraph"
	"argus/internal/atomicfile"
)

// The operator set versions of the default domain the importer accepts.
// Older sets are also read where the model declares one (the conformance
// suite's converted PyTorch models use set 6), since the executor keeps the
// older attribute forms.
const (
	MinOpset = 1
	MaxOpset = 17
)

// maxModelBytes bounds the size of a model file read into memory.
const maxModelBytes = 2 << 30

// Decode parses a serialised ModelProto.
func Decode(data []byte) (*onnxpb.ModelProto, error) {
	m := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(data, m); err != nil {
		return nil, fmt.Errorf("not an ONNX model: %w", err)
	}
	if m.Graph == nil {
		return nil, errors.New("not an ONNX model: no graph")
	}
	return m, nil
}

// Read decodes a serialised model and imports it. Tensors in external data
// files are refused: without a file there is no folder to find them in.
func Read(data []byte) (*xgraph.Graph, error) {
	m, err := Decode(data)
	if err != nil {
		return nil, err
	}
	return Import(m, "")
}

// Load reads the model file at path and imports it. External data files
// are looked up beside the model.
func Load(path string) (*xgraph.Graph, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	m, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	g, err := Import(m, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", path, err)
	}
	return g, nil
}

func readFile(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("read %s: is a directory", path)
	}
	if st.Size() > maxModelBytes {
		return nil, fmt.Errorf("read %s: %d bytes is larger than the %d-byte limit", path, st.Size(), maxModelBytes)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	return data, nil
}

// ReadTensor reads a serialised TensorProto file (the conformance suite's
// input_0.pb, say) and returns the tensor and its name.
func ReadTensor(path string) (*xgraph.Tensor, string, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, "", err
	}
	tp := &onnxpb.TensorProto{}
	if err := proto.Unmarshal(data, tp); err != nil {
		return nil, "", fmt.Errorf("read %s: not a TensorProto: %w", path, err)
	}
	t, err := Tensor(tp, filepath.Dir(path))
	if err != nil {
		return nil, "", fmt.Errorf("read %s: %w", path, err)
	}
	return t, tp.GetName(), nil
}

// WriteTensor writes t as a serialised TensorProto named name, atomically.
func WriteTensor(path string, t *xgraph.Tensor, name string) error {
	data, err := proto.Marshal(TensorProto(t, name))
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return atomicfile.WriteFile(path, data)
}

// Opset returns the model's operator set version for the default domain.
func Opset(m *onnxpb.ModelProto) int {
	for _, o := range m.OpsetImport {
		if d := o.GetDomain(); d == "" || d == "ai.onnx" {
			return int(o.GetVersion())
		}
	}
	// Before opset_import existed, models used set 1.
	return 1
}

// Import converts a decoded model to an XGraph. dir is where external data
// files live; empty refuses external data. The graph is sorted
// topologically and has its shapes inferred where they follow statically.
func Import(m *onnxpb.ModelProto, dir string) (*xgraph.Graph, error) {
	opset := Opset(m)
	if opset < MinOpset || opset > MaxOpset {
		return nil, &xgraph.UnsupportedError{Reason: fmt.Sprintf("operator set %d (supported: %d to %d)", opset, MinOpset, MaxOpset)}
	}
	gp := m.Graph
	if gp == nil {
		return nil, errors.New("model has no graph")
	}
	g := &xgraph.Graph{Name: gp.GetName(), Opset: opset}
	values := make(map[string]*xgraph.Value)
	for _, init := range gp.Initializer {
		name := init.GetName()
		if name == "" {
			return nil, errors.New("initialiser without a name")
		}
		if _, dup := values[name]; dup {
			return nil, fmt.Errorf("initialiser %q defined twice", safeName(name))
		}
		t, err := Tensor(init, dir)
		if err != nil {
			return nil, fmt.Errorf("initialiser: %w", err)
		}
		values[name] = &xgraph.Value{Name: name, DType: t.DType, Shape: append([]int{}, t.Shape...), Ranked: true, Const: t}
	}
	if len(gp.SparseInitializer) > 0 {
		return nil, &xgraph.UnsupportedError{Reason: "sparse initialisers"}
	}
	for _, vi := range gp.Input {
		name := vi.GetName()
		if _, isInit := values[name]; isInit {
			continue // IR < 4 lists initialisers as inputs too
		}
		if name == "" {
			return nil, errors.New("graph input without a name")
		}
		v := &xgraph.Value{Name: name}
		if err := setType(v, vi); err != nil {
			return nil, err
		}
		values[name] = v
		g.Inputs = append(g.Inputs, v)
	}
	value := func(name string) *xgraph.Value {
		v, ok := values[name]
		if !ok {
			v = &xgraph.Value{Name: name}
			values[name] = v
		}
		return v
	}
	defined := make(map[string]bool)
	for name := range values {
		defined[name] = true
	}
	for i, np := range gp.Node {
		n := &xgraph.Node{Name: np.GetName(), Op: np.GetOpType(), Domain: np.GetDomain(), Attrs: map[string]*xgraph.Attr{}}
		if n.Domain == "ai.onnx" {
			n.Domain = ""
		}
		if n.Op == "" {
			return nil, fmt.Errorf("node %d has no operator", i)
		}
		for _, name := range np.Input {
			if name == "" {
				n.Inputs = append(n.Inputs, nil)
				continue
			}
			n.Inputs = append(n.Inputs, value(name))
		}
		for _, name := range np.Output {
			if name == "" {
				n.Outputs = append(n.Outputs, nil)
				continue
			}
			if defined[name] {
				return nil, fmt.Errorf("node %s: output %q is defined twice", n.Label(), safeName(name))
			}
			defined[name] = true
			n.Outputs = append(n.Outputs, value(name))
		}
		for _, ap := range np.Attribute {
			a, err := attr(ap, dir)
			if err != nil {
				return nil, fmt.Errorf("node %s: attribute %q: %w", n.Label(), safeName(ap.GetName()), err)
			}
			n.Attrs[ap.GetName()] = a
		}
		g.Nodes = append(g.Nodes, n)
	}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			if in != nil && !defined[in.Name] {
				return nil, fmt.Errorf("node %s: input %q is not defined", n.Label(), safeName(in.Name))
			}
		}
	}
	for _, vi := range gp.ValueInfo {
		if v, ok := values[vi.GetName()]; ok && v.Const == nil {
			if err := setType(v, vi); err != nil {
				// Value infos are hints; an unusual one does not stop import.
				continue
			}
		}
	}
	for _, vi := range gp.Output {
		name := vi.GetName()
		v, ok := values[name]
		if !ok || !defined[name] {
			return nil, fmt.Errorf("graph output %q is not produced", safeName(name))
		}
		if v.Const == nil {
			if err := setType(v, vi); err != nil {
				return nil, err
			}
		}
		g.Outputs = append(g.Outputs, v)
	}
	if err := g.Validate(); err != nil {
		return nil, err
	}
	xgraph.InferShapes(g)
	return g, nil
}

// setType records a ValueInfo's element type and shape on v. Only tensor
// types are supported.
func setType(v *xgraph.Value, vi *onnxpb.ValueInfoProto) error {
	tp := vi.GetType()
	if tp == nil {
		return nil
	}
	tt := tp.GetTensorType()
	if tt == nil {
		return &xgraph.UnsupportedError{Reason: fmt.Sprintf("value %q is not a tensor (sequence, map and optional types are not supported)", safeName(v.Name))}
	}
	v.DType = xgraph.DType(tt.GetElemType())
	if !v.DType.Supported() {
		return &xgraph.UnsupportedError{Reason: fmt.Sprintf("value %q has element type %s", safeName(v.Name), v.DType)}
	}
	if sh := tt.GetShape(); sh != nil {
		v.Ranked = true
		v.Shape = make([]int, len(sh.Dim))
		for i, d := range sh.Dim {
			v.Shape[i] = -1
			if dv, ok := d.Value.(*onnxpb.TensorShapeProto_Dimension_DimValue); ok && dv.DimValue >= 0 {
				v.Shape[i] = int(dv.DimValue)
			}
		}
	}
	return nil
}

func attr(ap *onnxpb.AttributeProto, dir string) (*xgraph.Attr, error) {
	kind := ap.GetType()
	if kind == onnxpb.AttributeProto_UNDEFINED {
		// Old writers leave the type out; take the field that is set.
		switch {
		case ap.F != nil:
			kind = onnxpb.AttributeProto_FLOAT
		case ap.I != nil:
			kind = onnxpb.AttributeProto_INT
		case ap.S != nil:
			kind = onnxpb.AttributeProto_STRING
		case ap.T != nil:
			kind = onnxpb.AttributeProto_TENSOR
		case ap.G != nil:
			kind = onnxpb.AttributeProto_GRAPH
		case len(ap.Floats) > 0:
			kind = onnxpb.AttributeProto_FLOATS
		case len(ap.Ints) > 0:
			kind = onnxpb.AttributeProto_INTS
		case len(ap.Strings) > 0:
			kind = onnxpb.AttributeProto_STRINGS
		default:
			return nil, errors.New("no value")
		}
	}
	switch kind {
	case onnxpb.AttributeProto_FLOAT:
		return &xgraph.Attr{Kind: xgraph.AttrFloat, F: ap.GetF()}, nil
	case onnxpb.AttributeProto_INT:
		return &xgraph.Attr{Kind: xgraph.AttrInt, I: ap.GetI()}, nil
	case onnxpb.AttributeProto_STRING:
		return &xgraph.Attr{Kind: xgraph.AttrString, S: string(ap.GetS())}, nil
	case onnxpb.AttributeProto_FLOATS:
		return &xgraph.Attr{Kind: xgraph.AttrFloats, Floats: ap.Floats}, nil
	case onnxpb.AttributeProto_INTS:
		return &xgraph.Attr{Kind: xgraph.AttrInts, Ints: ap.Ints}, nil
	case onnxpb.AttributeProto_STRINGS:
		ss := make([]string, len(ap.Strings))
		for i, s := range ap.Strings {
			ss[i] = string(s)
		}
		return &xgraph.Attr{Kind: xgraph.AttrStrings, Strings: ss}, nil
	case onnxpb.AttributeProto_TENSOR:
		if ap.T == nil {
			return nil, errors.New("tensor attribute without a tensor")
		}
		t, err := Tensor(ap.T, dir)
		if err != nil {
			return nil, err
		}
		return &xgraph.Attr{Kind: xgraph.AttrTensor, T: t}, nil
	case onnxpb.AttributeProto_GRAPH, onnxpb.AttributeProto_GRAPHS:
		return &xgraph.Attr{Kind: xgraph.AttrGraph}, nil
	}
	return nil, &xgraph.UnsupportedError{Reason: fmt.Sprintf("attribute type %s", kind)}
}
