package onnx_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"argus/compiler/executor"
	"argus/compiler/onnx"
	"argus/compiler/onnx/conformance"
	"argus/compiler/onnx/onnxpb"
	"argus/compiler/xgraph"
)

// smallModel builds Conv -> Relu -> Flatten -> Gemm with initialisers, the
// first Conv weight optionally stored as external data in file ext.
func smallModel(ext string) *onnxpb.ModelProto {
	str := proto.String
	f32 := int32(xgraph.Float32)
	tensorType := func(dims ...int64) *onnxpb.TypeProto {
		sh := &onnxpb.TensorShapeProto{}
		for _, d := range dims {
			if d < 0 {
				sh.Dim = append(sh.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "batch"}})
				continue
			}
			sh.Dim = append(sh.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
		}
		return &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: &f32, Shape: sh}}}
	}
	w := make([]float32, 2*1*3*3)
	for i := range w {
		w[i] = float32(i%5) - 2
	}
	convW := onnx.TensorProto(xgraph.NewFloat(w, 2, 1, 3, 3), "w")
	if ext != "" {
		loc := onnxpb.TensorProto_EXTERNAL
		convW.DataLocation = &loc
		convW.ExternalData = []*onnxpb.StringStringEntryProto{{Key: str("location"), Value: str(ext)}}
		convW.RawData = nil
	}
	fc := make([]float32, 3*2*2*2)
	for i := range fc {
		fc[i] = float32(i%3) * 0.5
	}
	ints := func(name string, v ...int64) *onnxpb.AttributeProto {
		t := onnxpb.AttributeProto_INTS
		return &onnxpb.AttributeProto{Name: str(name), Type: &t, Ints: v}
	}
	one := onnxpb.AttributeProto_INT
	return &onnxpb.ModelProto{
		IrVersion:   proto.Int64(8),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: str(""), Version: proto.Int64(13)}},
		Graph: &onnxpb.GraphProto{
			Name: str("small"),
			Node: []*onnxpb.NodeProto{
				{Name: str("conv"), OpType: str("Conv"), Input: []string{"x", "w"}, Output: []string{"c"}, Attribute: []*onnxpb.AttributeProto{ints("kernel_shape", 3, 3), ints("strides", 2, 2), ints("pads", 1, 1, 1, 1)}},
				{Name: str("relu"), OpType: str("Relu"), Input: []string{"c"}, Output: []string{"r"}},
				{Name: str("flat"), OpType: str("Flatten"), Input: []string{"r"}, Output: []string{"f"}},
				{Name: str("fc"), OpType: str("Gemm"), Input: []string{"f", "fc", "b"}, Output: []string{"y"}, Attribute: []*onnxpb.AttributeProto{{Name: str("transB"), Type: &one, I: proto.Int64(1)}}},
			},
			Initializer: []*onnxpb.TensorProto{convW, onnx.TensorProto(xgraph.NewFloat(fc, 3, 8), "fc"), onnx.TensorProto(xgraph.NewFloat([]float32{0.1, -0.2, 0.3}, 3), "b")},
			Input:       []*onnxpb.ValueInfoProto{{Name: str("x"), Type: tensorType(-1, 1, 4, 4)}},
			Output:      []*onnxpb.ValueInfoProto{{Name: str("y"), Type: tensorType(-1, 3)}},
		},
	}
}

func writeModel(t testing.TB, dir string, m *onnxpb.ModelProto) string {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "model.onnx")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// reference computes the small model's output directly.
func reference(x []float32, batch int) []float32 {
	m := smallModel("")
	w, _ := onnx.Tensor(m.Graph.Initializer[0], "")
	fc, _ := onnx.Tensor(m.Graph.Initializer[1], "")
	b := []float32{0.1, -0.2, 0.3}
	var out []float32
	for n := 0; n < batch; n++ {
		var feat []float32
		for oc := 0; oc < 2; oc++ {
			for oy := 0; oy < 2; oy++ {
				for ox := 0; ox < 2; ox++ {
					var s float32
					for ky := 0; ky < 3; ky++ {
						for kx := 0; kx < 3; kx++ {
							iy, ix := oy*2-1+ky, ox*2-1+kx
							if iy >= 0 && iy < 4 && ix >= 0 && ix < 4 {
								s += x[n*16+iy*4+ix] * w.F[oc*9+ky*3+kx]
							}
						}
					}
					feat = append(feat, max(s, 0))
				}
			}
		}
		for j := 0; j < 3; j++ {
			s := b[j]
			for i, v := range feat {
				s += v * fc.F[j*8+i]
			}
			out = append(out, s)
		}
	}
	return out
}

func TestLoadAndRunDynamicBatch(t *testing.T) {
	for _, ext := range []string{"", "weights.bin", "sub/weights.bin"} {
		t.Run("external="+ext, func(t *testing.T) {
			dir := t.TempDir()
			path := writeModel(t, dir, smallModel(ext))
			if ext != "" {
				w, _ := onnx.Tensor(smallModel("").Graph.Initializer[0], "")
				tp := onnx.TensorProto(w, "w")
				os.MkdirAll(filepath.Dir(filepath.Join(dir, ext)), 0o755)
				if err := os.WriteFile(filepath.Join(dir, ext), tp.RawData, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			g, err := onnx.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := g.Outputs[0].ShapeString(); got != "float32[? 3]" {
				t.Errorf("inferred output %s, want float32[? 3]", got)
			}
			exec, err := executor.New(g)
			if err != nil {
				t.Fatal(err)
			}
			for _, batch := range []int{1, 3} {
				x := make([]float32, batch*16)
				for i := range x {
					x[i] = float32((i*7)%11)/5 - 1
				}
				out, err := exec.Run(map[string]*xgraph.Tensor{"x": xgraph.NewFloat(x, batch, 1, 4, 4)})
				if err != nil {
					t.Fatal(err)
				}
				want := xgraph.NewFloat(reference(x, batch), batch, 3)
				if d, err := conformance.Compare(out[0], want); err != nil {
					t.Errorf("batch %d: %v (max error %g)", batch, err, d)
				}
			}
		})
	}
}

func TestExternalDataStaysInModelDirectory(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "model")
	os.Mkdir(dir, 0o755)
	secret := filepath.Join(root, "secret.bin")
	os.WriteFile(secret, make([]byte, 72), 0o644)
	os.Symlink(secret, filepath.Join(dir, "link.bin"))
	for _, loc := range []string{"../secret.bin", secret, "link.bin", "missing.bin"} {
		path := writeModel(t, dir, smallModel(loc))
		if _, err := onnx.Load(path); err == nil {
			t.Errorf("location %q: loaded, want an error", loc)
		}
	}
}

func TestTensorRoundTrip(t *testing.T) {
	dir := t.TempDir()
	cases := []*xgraph.Tensor{
		xgraph.NewFloat([]float32{1.5, -2, 3e-8}, 3),
		xgraph.NewInt(xgraph.Int64, []int64{-1, 1 << 40}, 2, 1),
		xgraph.NewInt(xgraph.Int32, []int64{-7, 7}, 2),
		xgraph.NewInt(xgraph.Uint8, []int64{0, 255}, 2),
		xgraph.NewInt(xgraph.Bool, []int64{1, 0, 1}, 3),
		xgraph.NewFloat([]float32{42}),
	}
	for i, want := range cases {
		path := filepath.Join(dir, "t.pb")
		if err := onnx.WriteTensor(path, want, "t"); err != nil {
			t.Fatal(err)
		}
		got, name, err := onnx.ReadTensor(path)
		if err != nil {
			t.Fatal(err)
		}
		if name != "t" || got.String() != want.String() {
			t.Errorf("case %d: got %v %q, want %v", i, got, name, want)
		}
	}
}

func TestMalformed(t *testing.T) {
	dir := t.TempDir()
	good, _ := proto.Marshal(smallModel(""))
	unknown := smallModel("")
	unknown.Graph.Node[1].OpType = proto.String("Frobnicate")
	badAttr := smallModel("")
	badAttr.Graph.Node[0].Attribute = append(badAttr.Graph.Node[0].Attribute, &onnxpb.AttributeProto{Name: proto.String("winograd"), I: proto.Int64(1)})
	undefined := smallModel("")
	undefined.Graph.Node[1].Input[0] = "nowhere"
	shortData := smallModel("")
	shortData.Graph.Initializer[2].RawData = shortData.Graph.Initializer[2].RawData[:5]
	cycle := smallModel("")
	cycle.Graph.Node[0].Input[0] = "r"
	enc := func(m *onnxpb.ModelProto) []byte { b, _ := proto.Marshal(m); return b }
	cases := []struct {
		name        string
		data        []byte
		unsupported bool
		mention     string
	}{
		{"empty", nil, false, "no graph"},
		{"garbage", []byte("not a protobuf at all \xff\xff\xff"), false, "not an ONNX model"},
		{"truncated", good[:len(good)/2], false, "not an ONNX model"},
		{"undefined input", enc(undefined), false, "nowhere"},
		{"short raw data", enc(shortData), false, "raw data"},
		{"cycle", enc(cycle), false, "cycle"},
		{"unknown op", enc(unknown), true, "Frobnicate"},
		{"unknown attribute", enc(badAttr), true, "winograd"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, "m.onnx")
			os.WriteFile(path, c.data, 0o644)
			g, err := onnx.Load(path)
			if err == nil {
				_, err = executor.New(g)
			}
			if err == nil {
				t.Fatal("no error")
			}
			var ue *xgraph.UnsupportedError
			if errors.As(err, &ue) != c.unsupported {
				t.Errorf("unsupported=%v, want %v: %v", !c.unsupported, c.unsupported, err)
			}
			if !strings.Contains(err.Error(), c.mention) {
				t.Errorf("error %q does not mention %q", err, c.mention)
			}
			if c.unsupported && (ue.Node == "" || ue.Op == "") {
				t.Errorf("unsupported error without node and operator: %+v", ue)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	good, _ := proto.Marshal(smallModel(""))
	f.Add(good)
	f.Add(good[:len(good)/3])
	f.Add([]byte{})
	tp, _ := proto.Marshal(onnx.TensorProto(xgraph.NewFloat([]float32{1, 2}, 2), "x"))
	f.Add(tp)
	for _, op := range []string{"ConstantOfShape", "Expand", "Tile", "Reshape"} {
		huge, _ := proto.Marshal(shapeModel(op, 1<<20, 1<<20, 1, 1))
		f.Add(huge)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if m, err := onnx.Decode(data); err == nil {
			if g, err := onnx.Import(m, ""); err == nil {
				executor.Check(g)
				executor.New(g) // compiles what infer can express
				// Folding computes constants up to a bound, whatever shapes
				// the model asks for.
				executor.Optimize(g)
				var sb strings.Builder
				g.Dump(&sb)
				g.SVG(&sb)
			}
		}
		var p onnxpb.TensorProto
		if proto.Unmarshal(data, &p) == nil {
			onnx.Tensor(&p, "")
		}
	})
}
