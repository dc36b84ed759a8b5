package onnx_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"argus/compiler/executor"
	"argus/compiler/onnx"
	"argus/compiler/onnx/onnxpb"
	"argus/compiler/xgraph"
)

// shapeModel is a model of one node op, named "big", whose second input
// (or only input, for ConstantOfShape) is the int64 initialiser shape,
// applied to a float input x of shape [2, 2].
func shapeModel(op string, shape ...int64) *onnxpb.ModelProto {
	str := proto.String
	f32 := int32(xgraph.Float32)
	in := []string{"x", "s"}
	var inputs []*onnxpb.ValueInfoProto
	if op == "ConstantOfShape" {
		in = []string{"s"}
	} else {
		dims := []*onnxpb.TensorShapeProto_Dimension{
			{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: 2}},
			{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: 2}},
		}
		inputs = []*onnxpb.ValueInfoProto{{Name: str("x"), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
			TensorType: &onnxpb.TypeProto_Tensor{ElemType: &f32, Shape: &onnxpb.TensorShapeProto{Dim: dims}}}}}}
	}
	return &onnxpb.ModelProto{
		IrVersion:   proto.Int64(8),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: str(""), Version: proto.Int64(13)}},
		Graph: &onnxpb.GraphProto{
			Name:        str("huge"),
			Node:        []*onnxpb.NodeProto{{Name: str("big"), OpType: str(op), Input: in, Output: []string{"y"}}},
			Initializer: []*onnxpb.TensorProto{onnx.TensorProto(xgraph.NewInt(xgraph.Int64, shape, len(shape)), "s")},
			Input:       inputs,
			Output:      []*onnxpb.ValueInfoProto{{Name: str("y")}},
		},
	}
}

// TestHugeShapes: a model whose ConstantOfShape, Expand, Tile or Reshape
// asks for a huge shape loads and optimises (constant folding computes
// nothing that large), and running it fails with one error naming the node
// and the shape, instead of exhausting memory or giving a wrong shape.
func TestHugeShapes(t *testing.T) {
	for _, c := range []struct {
		op    string
		shape []int64
		want  string
	}{
		{"ConstantOfShape", []int64{1 << 32, 1 << 32}, "node big (ConstantOfShape): output shape [4294967296 4294967296] has more elements than memory can hold"},
		{"ConstantOfShape", []int64{1 << 20, 1 << 20}, "node big (ConstantOfShape): output shape [1048576 1048576] needs 4096.0 GiB, over the limit of 4.0 GiB for one tensor"},
		{"Expand", []int64{1 << 20, 1 << 20, 1, 1}, "node big (Expand): output shape [1048576 1048576 2 2] needs 16384.0 GiB"},
		{"Tile", []int64{1 << 62, 1 << 62}, "node big (Tile): repeats [4611686018427387904 4611686018427387904] of shape [2 2] give more elements than memory can hold"},
		{"Tile", []int64{1 << 40, 1 << 40}, "node big (Tile): output shape [2199023255552 2199023255552] has more elements than memory can hold"},
		{"Tile", []int64{1 << 20, 1 << 20}, "node big (Tile): output shape [2097152 2097152] needs"},
		{"Reshape", []int64{1 << 32, 1 << 32, 1 << 32, 4}, "node big (Reshape): cannot reshape [2 2] to [4294967296 4294967296 4294967296 4]"},
	} {
		t.Run(c.op, func(t *testing.T) {
			path := writeModel(t, t.TempDir(), shapeModel(c.op, c.shape...))
			g, err := onnx.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := executor.Optimize(g); err != nil {
				t.Fatal(err)
			}
			var dump strings.Builder
			g.Dump(&dump)
			e, err := executor.New(g)
			if err != nil {
				t.Fatal(err)
			}
			feed := map[string]*xgraph.Tensor{"x": xgraph.NewFloat([]float32{1, 2, 3, 4}, 2, 2)}
			if c.op == "ConstantOfShape" {
				feed = nil
			}
			out, err := e.Run(feed)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q; outputs %v", err, c.want, out)
			}
		})
	}
}

// TestExternalDataRange: an external data range whose offset and length
// overflow when added is refused, not allocated.
func TestExternalDataRange(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "w.bin"), make([]byte, 16), 0o644)
	loc := onnxpb.TensorProto_EXTERNAL
	str := proto.String
	for _, c := range []struct{ offset, length string }{
		{"4611686018427387904", "4611686018427387904"},
		{"9223372036854775807", "1"},
		{"8", "9223372036854775807"},
		{"17", ""},
	} {
		tp := &onnxpb.TensorProto{Dims: []int64{4}, DataType: proto.Int32(int32(xgraph.Float32)), DataLocation: &loc,
			ExternalData: []*onnxpb.StringStringEntryProto{{Key: str("location"), Value: str("w.bin")}, {Key: str("offset"), Value: str(c.offset)}}}
		if c.length != "" {
			tp.ExternalData = append(tp.ExternalData, &onnxpb.StringStringEntryProto{Key: str("length"), Value: str(c.length)})
		}
		if _, err := onnx.Tensor(tp, dir); err == nil || !strings.Contains(err.Error(), "exceeds file size 16") {
			t.Errorf("offset %s, length %q: error %v", c.offset, c.length, err)
		}
	}
}
