package onnx_test

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"argus/compiler/executor"
	"argus/compiler/onnx"
	"argus/compiler/onnx/onnxpb"
	"argus/compiler/xgraph"
)

// roundTrip exports g, decodes the bytes and imports them again.
func roundTrip(t *testing.T, g *xgraph.Graph) (*xgraph.Graph, *onnxpb.ModelProto) {
	t.Helper()
	data, err := onnx.Encode(g)
	if err != nil {
		t.Fatal(err)
	}
	m, err := onnx.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	back, err := onnx.Import(m, "")
	if err != nil {
		t.Fatal(err)
	}
	return back, m
}

// sameGraph reports the first difference between two graphs' nodes,
// attributes, constants and boundary values.
func sameGraph(t *testing.T, a, b *xgraph.Graph) {
	t.Helper()
	if a.Name != b.Name || a.Opset != b.Opset || len(a.Nodes) != len(b.Nodes) || len(a.Inputs) != len(b.Inputs) || len(a.Outputs) != len(b.Outputs) {
		t.Fatalf("graph %q opset %d with %d nodes, %d inputs, %d outputs; read back %q opset %d with %d, %d, %d",
			a.Name, a.Opset, len(a.Nodes), len(a.Inputs), len(a.Outputs), b.Name, b.Opset, len(b.Nodes), len(b.Inputs), len(b.Outputs))
	}
	boundary := func(what string, x, y []*xgraph.Value) {
		for i := range x {
			if x[i].Name != y[i].Name || x[i].DType != y[i].DType || !reflect.DeepEqual(x[i].Shape, y[i].Shape) {
				t.Errorf("%s %d: %s %s%v, read back %s %s%v", what, i, x[i].Name, x[i].DType, x[i].Shape, y[i].Name, y[i].DType, y[i].Shape)
			}
		}
	}
	boundary("input", a.Inputs, b.Inputs)
	boundary("output", a.Outputs, b.Outputs)
	for i, n := range a.Nodes {
		m := b.Nodes[i]
		if n.Name != m.Name || n.Op != m.Op || n.Domain != m.Domain || len(n.Inputs) != len(m.Inputs) || len(n.Outputs) != len(m.Outputs) {
			t.Fatalf("node %d: %s, read back %s", i, n.Label(), m.Label())
		}
		if !reflect.DeepEqual(n.Attrs, m.Attrs) {
			t.Errorf("node %s: attributes %v, read back %v", n.Label(), n.Attrs, m.Attrs)
		}
		for j, v := range n.Inputs {
			w := m.Inputs[j]
			if (v == nil) != (w == nil) {
				t.Fatalf("node %s: input %d present %v, read back %v", n.Label(), j, v != nil, w != nil)
			}
			if v == nil {
				continue
			}
			if v.Name != w.Name || (v.Const == nil) != (w.Const == nil) {
				t.Fatalf("node %s: input %d %q, read back %q", n.Label(), j, v.Name, w.Name)
			}
			if v.Const != nil && !reflect.DeepEqual(v.Const, w.Const) {
				t.Errorf("node %s: constant %q differs after the round trip", n.Label(), v.Name)
			}
		}
	}
}

// TestExportRoundTripModels writes the committed torchvision exports back
// out and checks that the graph and the executor's outputs survive.
func TestExportRoundTripModels(t *testing.T) {
	for _, dir := range []string{"testdata/models/resnet18_small", "testdata/models/mobilenet_v2_small"} {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			g, err := onnx.Load(filepath.Join(dir, "model.onnx"))
			if err != nil {
				t.Fatal(err)
			}
			back, _ := roundTrip(t, g)
			sameGraph(t, g, back)
			x, _, err := onnx.ReadTensor(filepath.Join(dir, "test_data_set_0", "input_0.pb"))
			if err != nil {
				t.Fatal(err)
			}
			var outs [2][]*xgraph.Tensor
			for i, gr := range []*xgraph.Graph{g, back} {
				e, err := executor.New(gr)
				if err != nil {
					t.Fatal(err)
				}
				if outs[i], err = e.Run(map[string]*xgraph.Tensor{gr.Inputs[0].Name: x}); err != nil {
					t.Fatal(err)
				}
			}
			if !reflect.DeepEqual(outs[0][0].F, outs[1][0].F) {
				t.Error("the exported model computes other outputs")
			}
		})
	}
}

// attrGraph is a small graph whose nodes carry every attribute kind the
// writer knows, with a dynamic batch.
func attrGraph() *xgraph.Graph {
	x := &xgraph.Value{Name: "x", DType: xgraph.Float32, Shape: []int{-1, 3}, Ranked: true}
	w := &xgraph.Value{Name: "w", DType: xgraph.Float32, Shape: []int{3, 2}, Ranked: true,
		Const: xgraph.NewFloat([]float32{1, 2, 3, 4, 5, 6}, 3, 2)}
	y := &xgraph.Value{Name: "y", DType: xgraph.Float32, Shape: []int{-1, 2}, Ranked: true}
	z := &xgraph.Value{Name: "z", DType: xgraph.Float32, Shape: []int{-1, 2}, Ranked: true}
	mm := &xgraph.Node{Name: "mm", Op: "MatMul", Inputs: []*xgraph.Value{x, w}, Outputs: []*xgraph.Value{y}, Attrs: map[string]*xgraph.Attr{}}
	odd := &xgraph.Node{Name: "odd", Op: "Custom", Domain: "example.com", Inputs: []*xgraph.Value{y, nil}, Outputs: []*xgraph.Value{z},
		Attrs: map[string]*xgraph.Attr{
			"f":  {Kind: xgraph.AttrFloat, F: 0.5},
			"i":  {Kind: xgraph.AttrInt, I: -3},
			"s":  {Kind: xgraph.AttrString, S: "same"},
			"fs": {Kind: xgraph.AttrFloats, Floats: []float32{1, float32(math.Inf(1))}},
			"is": {Kind: xgraph.AttrInts, Ints: []int64{1, 2, 3}},
			"ss": {Kind: xgraph.AttrStrings, Strings: []string{"a", "b"}},
			"t":  {Kind: xgraph.AttrTensor, T: xgraph.NewInt(xgraph.Int64, []int64{7, 8}, 2)},
		}}
	return &xgraph.Graph{Name: "attrs", Opset: 13, Inputs: []*xgraph.Value{x}, Outputs: []*xgraph.Value{z}, Nodes: []*xgraph.Node{mm, odd}}
}

func TestExportAttributesAndBatch(t *testing.T) {
	g := attrGraph()
	back, m := roundTrip(t, g)
	sameGraph(t, g, back)
	if m.GetIrVersion() != onnx.IRVersion || m.GetProducerName() != onnx.Producer {
		t.Errorf("IR version %d, producer %q", m.GetIrVersion(), m.GetProducerName())
	}
	d := m.Graph.Input[0].GetType().GetTensorType().GetShape().GetDim()[0]
	if d.GetDimParam() != onnx.BatchParam {
		t.Errorf("batch dimension written as %v, want the parameter %q", d, onnx.BatchParam)
	}
	if len(m.Graph.ValueInfo) != 1 || m.Graph.ValueInfo[0].GetName() != "y" {
		t.Errorf("value_info %v, want y alone", m.Graph.ValueInfo)
	}
	unnamed := attrGraph()
	unnamed.Name = ""
	if _, m := roundTrip(t, unnamed); m.Graph.GetName() != onnx.DefaultGraphName {
		t.Errorf("an unnamed graph is written as %q", m.Graph.GetName())
	}
	// The writer leaves the graph alone.
	if g.Nodes[0].Name != "mm" || g.Inputs[0].Shape[0] != -1 {
		t.Error("Export changed its graph")
	}
}

func TestExportErrors(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(g *xgraph.Graph)
		want   string
	}{
		{"no opset", func(g *xgraph.Graph) { g.Opset = 0 }, "operator set 0"},
		{"unnamed value", func(g *xgraph.Graph) { g.Nodes[0].Outputs[0].Name = "" }, "has no name"},
		{"duplicate name", func(g *xgraph.Graph) { g.Nodes[0].Outputs[0].Name = "w" }, `two values are named "w"`},
		{"untyped output", func(g *xgraph.Graph) { g.Outputs[0].DType = xgraph.Undefined }, `"z" has no element type`},
		{"constant input", func(g *xgraph.Graph) { g.Inputs[0].Const = xgraph.Zero(xgraph.Float32, 1, 3) }, "is a constant"},
		{"subgraph", func(g *xgraph.Graph) { g.Nodes[1].Attrs["body"] = &xgraph.Attr{Kind: xgraph.AttrGraph} }, "subgraph"},
		{"no operator", func(g *xgraph.Graph) { g.Nodes[1].Op = "" }, "no operator"},
		{"dangling input", func(g *xgraph.Graph) {
			g.Nodes[0].Inputs[0] = &xgraph.Value{Name: "nowhere", DType: xgraph.Float32}
		}, "not produced"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := attrGraph()
			c.mutate(g)
			_, err := onnx.Encode(g)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestSave(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.onnx")
	if err := onnx.Save(path, attrGraph()); err != nil {
		t.Fatal(err)
	}
	g, err := onnx.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	sameGraph(t, attrGraph(), g)
	// A graph that cannot be written leaves the earlier file as it was.
	before, _ := os.ReadFile(path)
	bad := attrGraph()
	bad.Opset = 99
	if err := onnx.Save(path, bad); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("error %v, want one naming %s", err, path)
	}
	after, _ := os.ReadFile(path)
	if string(before) != string(after) {
		t.Error("a failed Save changed the file")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d files in the folder, want the model alone", len(entries))
	}
	if err := onnx.Save(filepath.Join(dir, "missing", "m.onnx"), attrGraph()); err == nil {
		t.Error("Save into a missing folder succeeded")
	}
}

// FuzzExportRoundTrip checks on arbitrary models that whatever Import
// accepts, Export either refuses with an error or writes a model that
// imports to a graph Export writes the same way again.
func FuzzExportRoundTrip(f *testing.F) {
	good, _ := proto.Marshal(smallModel(""))
	f.Add(good)
	attrs, _ := onnx.Encode(attrGraph())
	f.Add(attrs)
	f.Add(attrs[:len(attrs)/2])
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := onnx.Decode(data)
		if err != nil {
			return
		}
		g, err := onnx.Import(m, "")
		if err != nil {
			return
		}
		first, err := onnx.Encode(g)
		if err != nil {
			return
		}
		m2, err := onnx.Decode(first)
		if err != nil {
			t.Fatalf("the export does not decode: %v", err)
		}
		back, err := onnx.Import(m2, "")
		if err != nil {
			t.Fatalf("the export does not import: %v", err)
		}
		second, err := onnx.Encode(back)
		if err != nil {
			t.Fatalf("the re-imported export does not export: %v", err)
		}
		if !bytes.Equal(first, second) {
			t.Fatal("exporting the re-imported export gives other bytes")
		}
	})
}
