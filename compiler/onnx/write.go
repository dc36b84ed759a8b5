package onnx

import (
	"errors"
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"

	"argus/compiler/onnx/onnxpb"
	"argus/compiler/xgraph"
	"argus/internal/atomicfile"
)

// IRVersion is the ONNX IR version that Export writes: version 8, that of
// onnx 1.12, whose checker accepts operator sets up to 17.
const IRVersion = 8

// BatchParam is the symbolic name Export gives an unknown leading
// dimension of a graph input or output: the batch. Other unknown
// dimensions are written without a name.
const BatchParam = "N"

// DefaultGraphName is the name Export gives a graph without one, which
// ONNX does not allow.
const DefaultGraphName = "graph"

// Producer is the producer name written into exported models.
const Producer = "argus"

// Export converts g to an ONNX model, the inverse of Import: constants
// become initialisers, inputs and outputs carry their element types and
// shapes (an unknown dimension written as in BatchParam's comment), every
// other value whose type is known is listed in value_info, and an unnamed
// graph is named DefaultGraphName. Float
// types other than float32 are written as float32, the only float type
// that xgraph holds. g is not modified; its nodes must be in an order that
// Validate accepts.
func Export(g *xgraph.Graph) (*onnxpb.ModelProto, error) {
	if g.Opset < MinOpset || g.Opset > MaxOpset {
		return nil, fmt.Errorf("export: operator set %d (supported: %d to %d)", g.Opset, MinOpset, MaxOpset)
	}
	// Sort on a copy, so that the check leaves g's node order alone.
	sorted := *g
	sorted.Nodes = slices.Clone(g.Nodes)
	if err := sorted.Sort(); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	name := g.Name
	if name == "" {
		name = DefaultGraphName // ONNX requires a graph name
	}
	gp := &onnxpb.GraphProto{Name: proto.String(name)}
	names := make(map[string]*xgraph.Value)
	claim := func(v *xgraph.Value) error {
		if v.Name == "" {
			return errors.New("export: a value has no name")
		}
		if w, dup := names[v.Name]; dup && w != v {
			return fmt.Errorf("export: two values are named %q", safeName(v.Name))
		}
		names[v.Name] = v
		return nil
	}
	inputs := make(map[*xgraph.Value]bool)
	for _, v := range g.Inputs {
		if v.Const != nil {
			return nil, fmt.Errorf("export: graph input %q is a constant", safeName(v.Name))
		}
		if err := claim(v); err != nil {
			return nil, err
		}
		vi, err := valueInfo(v, true)
		if err != nil {
			return nil, err
		}
		gp.Input = append(gp.Input, vi)
		inputs[v] = true
	}
	outputs := make(map[*xgraph.Value]bool)
	for _, v := range g.Outputs {
		if err := claim(v); err != nil {
			return nil, err
		}
		vi, err := valueInfo(v, true)
		if err != nil {
			return nil, err
		}
		gp.Output = append(gp.Output, vi)
		outputs[v] = true
	}
	for _, v := range g.Values() {
		if err := claim(v); err != nil {
			return nil, err
		}
		switch {
		case v.Const != nil:
			if !v.Const.DType.Supported() {
				return nil, fmt.Errorf("export: constant %q has element type %s", safeName(v.Name), v.Const.DType)
			}
			gp.Initializer = append(gp.Initializer, TensorProto(v.Const, v.Name))
		case !inputs[v] && !outputs[v] && v.DType != xgraph.Undefined:
			vi, err := valueInfo(v, false)
			if err != nil {
				return nil, err
			}
			gp.ValueInfo = append(gp.ValueInfo, vi)
		}
	}
	for _, n := range sorted.Nodes {
		np, err := nodeProto(n)
		if err != nil {
			return nil, fmt.Errorf("export: node %s: %w", n.Label(), err)
		}
		gp.Node = append(gp.Node, np)
	}
	return &onnxpb.ModelProto{
		IrVersion:    proto.Int64(IRVersion),
		ProducerName: proto.String(Producer),
		OpsetImport:  []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(int64(g.Opset))}},
		Graph:        gp,
	}, nil
}

// Encode returns g exported and serialised as an ONNX model file.
func Encode(g *xgraph.Graph) ([]byte, error) {
	m, err := Export(g)
	if err != nil {
		return nil, err
	}
	data, err := proto.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return data, nil
}

// Save writes g as an ONNX model file at path, atomically: a failure
// leaves any earlier file there unchanged.
func Save(path string, g *xgraph.Graph) error {
	data, err := Encode(g)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if len(data) > maxModelBytes {
		return fmt.Errorf("write %s: %d bytes is larger than the %d-byte limit of a model without external data", path, len(data), maxModelBytes)
	}
	if err := atomicfile.WriteFile(path, data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// valueInfo describes v's type. A graph input or output must have a known
// element type; its unknown leading dimension is named BatchParam.
func valueInfo(v *xgraph.Value, boundary bool) (*onnxpb.ValueInfoProto, error) {
	dt := v.DType
	if dt == xgraph.Undefined && v.Const != nil {
		dt = v.Const.DType
	}
	if dt == xgraph.Undefined {
		if boundary {
			return nil, fmt.Errorf("export: graph input or output %q has no element type", safeName(v.Name))
		}
		return nil, nil
	}
	if !dt.Supported() {
		return nil, fmt.Errorf("export: value %q has element type %s", safeName(v.Name), dt)
	}
	if dt.IsFloat() {
		dt = xgraph.Float32
	}
	tt := &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(dt))}
	if v.Ranked {
		sh := &onnxpb.TensorShapeProto{Dim: make([]*onnxpb.TensorShapeProto_Dimension, len(v.Shape))}
		for i, d := range v.Shape {
			dim := &onnxpb.TensorShapeProto_Dimension{}
			switch {
			case d >= 0:
				dim.Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}
			case i == 0 && boundary:
				dim.Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: BatchParam}
			}
			sh.Dim[i] = dim
		}
		tt.Shape = sh
	}
	return &onnxpb.ValueInfoProto{
		Name: proto.String(v.Name),
		Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: tt}},
	}, nil
}

// nodeProto converts one node; attributes are written in sorted order.
func nodeProto(n *xgraph.Node) (*onnxpb.NodeProto, error) {
	if n.Op == "" {
		return nil, errors.New("no operator")
	}
	np := &onnxpb.NodeProto{OpType: proto.String(n.Op)}
	if n.Name != "" {
		np.Name = proto.String(n.Name)
	}
	if n.Domain != "" {
		np.Domain = proto.String(n.Domain)
	}
	for _, v := range n.Inputs {
		name := ""
		if v != nil {
			name = v.Name
		}
		np.Input = append(np.Input, name)
	}
	for _, v := range n.Outputs {
		name := ""
		if v != nil {
			name = v.Name
		}
		np.Output = append(np.Output, name)
	}
	for _, name := range n.AttrNames() {
		ap, err := attrProto(name, n.Attrs[name])
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", safeName(name), err)
		}
		np.Attribute = append(np.Attribute, ap)
	}
	return np, nil
}

// attrProto converts an attribute, the inverse of attr.
func attrProto(name string, a *xgraph.Attr) (*onnxpb.AttributeProto, error) {
	if a == nil {
		return nil, errors.New("no value")
	}
	ap := &onnxpb.AttributeProto{Name: proto.String(name)}
	kind := func(k onnxpb.AttributeProto_AttributeType) { ap.Type = k.Enum() }
	switch a.Kind {
	case xgraph.AttrFloat:
		kind(onnxpb.AttributeProto_FLOAT)
		ap.F = proto.Float32(a.F)
	case xgraph.AttrInt:
		kind(onnxpb.AttributeProto_INT)
		ap.I = proto.Int64(a.I)
	case xgraph.AttrString:
		kind(onnxpb.AttributeProto_STRING)
		ap.S = []byte(a.S)
	case xgraph.AttrFloats:
		kind(onnxpb.AttributeProto_FLOATS)
		ap.Floats = a.Floats
	case xgraph.AttrInts:
		kind(onnxpb.AttributeProto_INTS)
		ap.Ints = a.Ints
	case xgraph.AttrStrings:
		kind(onnxpb.AttributeProto_STRINGS)
		for _, s := range a.Strings {
			ap.Strings = append(ap.Strings, []byte(s))
		}
	case xgraph.AttrTensor:
		if a.T == nil {
			return nil, errors.New("tensor attribute without a tensor")
		}
		kind(onnxpb.AttributeProto_TENSOR)
		ap.T = TensorProto(a.T, "")
	case xgraph.AttrGraph:
		// Import keeps no subgraph bodies, so there is nothing to write.
		return nil, &xgraph.UnsupportedError{Reason: "subgraph attributes"}
	default:
		return nil, fmt.Errorf("attribute kind %d", a.Kind)
	}
	return ap, nil
}
