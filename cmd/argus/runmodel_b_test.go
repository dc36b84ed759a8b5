package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"argus/checkpoint"
	"argus/compiler/onnx"
	"argus/compiler/onnx/onnxpb"
	"argus/compiler/xgraph"
	"argus/models"
	"argus/nn"
	"argus/tensor"
)

// writeFillModel writes an ONNX model of one ConstantOfShape node named
// "fill" whose shape is a constant, and returns its path.
func writeFillModel(t *testing.T, shape ...int64) string {
	t.Helper()
	str := proto.String
	m := &onnxpb.ModelProto{
		IrVersion:   proto.Int64(8),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: str(""), Version: proto.Int64(13)}},
		Graph: &onnxpb.GraphProto{
			Name:        str("fill"),
			Node:        []*onnxpb.NodeProto{{Name: str("fill"), OpType: str("ConstantOfShape"), Input: []string{"s"}, Output: []string{"y"}}},
			Initializer: []*onnxpb.TensorProto{onnx.TensorProto(xgraph.NewInt(xgraph.Int64, shape, len(shape)), "s")},
			Output:      []*onnxpb.ValueInfoProto{{Name: str("y")}},
		},
	}
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "fill.onnx")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRunMaxMemory: argus run refuses a node's output above --max-memory
// (4 GiB by default) with one line naming the node and the shape, and
// inspect shows such a model without computing it.
func TestRunMaxMemory(t *testing.T) {
	small := writeFillModel(t, 1024, 1024) // 4 MiB
	huge := writeFillModel(t, 1<<20, 1<<20)
	overflow := writeFillModel(t, 1<<32, 1<<32)
	if out, errs, code := onnxCLI("run", small, "--json", "--top", "0"); code != 0 || !strings.Contains(out, `"shape":[1024,1024]`) {
		t.Errorf("4 MiB under the default limit: exit %d, %.200s, %s", code, out, errs)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", small, "--max-memory", "1"}, "argus run: node fill (ConstantOfShape): output shape [1024 1024] needs 4.0 MiB, over the limit of 1.0 MiB for one tensor"},
		{[]string{"run", huge}, "argus run: node fill (ConstantOfShape): output shape [1048576 1048576] needs 4096.0 GiB, over the limit of 4.0 GiB for one tensor"},
		{[]string{"run", overflow, "--json"}, "argus run: node fill (ConstantOfShape): output shape [4294967296 4294967296] has more elements than memory can hold"},
		{[]string{"run", small, "--max-memory", "0"}, `"--max-memory" flag: must be 1 to`},
	} {
		out, errs, code := onnxCLI(c.args...)
		if code == 0 || out != "" || errs != c.want+"\n" && !strings.Contains(errs, c.want) || strings.Count(errs, "\n") != 1 {
			t.Errorf("%v: exit %d, stdout %.200q, stderr %q; want %q", c.args, code, out, errs, c.want)
		}
	}
	if out, errs, code := onnxCLI("inspect", huge); code != 0 || !strings.Contains(out, "ConstantOfShape") {
		t.Errorf("inspect: exit %d, %.200s, %s", code, out, errs)
	}
}

// TestNonFiniteResults: NaN or infinite numbers in a result print as null
// in the one JSON object, and the command then fails with one line saying
// so, for argus run and argus eval mnist.
func TestNonFiniteResults(t *testing.T) {
	str := proto.String
	tensorAttr := onnxpb.AttributeProto_TENSOR
	m := &onnxpb.ModelProto{
		IrVersion:   proto.Int64(8),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: str(""), Version: proto.Int64(13)}},
		Graph: &onnxpb.GraphProto{
			Name: str("nan"),
			Node: []*onnxpb.NodeProto{{Name: str("fill"), OpType: str("ConstantOfShape"), Input: []string{"s"}, Output: []string{"y"},
				Attribute: []*onnxpb.AttributeProto{{Name: str("value"), Type: &tensorAttr,
					T: onnx.TensorProto(xgraph.NewFloat([]float32{float32(math.NaN())}, 1), "v")}}}},
			Initializer: []*onnxpb.TensorProto{onnx.TensorProto(xgraph.NewInt(xgraph.Int64, []int64{2, 3}, 2), "s")},
			Output:      []*onnxpb.ValueInfoProto{{Name: str("y")}},
		},
	}
	b, _ := proto.Marshal(m)
	model := filepath.Join(t.TempDir(), "nan.onnx")
	os.WriteFile(model, b, 0o644)
	for _, args := range [][]string{{"run", model, "--json"}, {"run", model, "--json", "--top", "0"}} {
		out, errs, code := onnxCLI(args...)
		var res map[string]any
		if code == 0 || json.Unmarshal([]byte(out), &res) != nil || !strings.Contains(out, "null") ||
			errs != "argus run: output y holds 6 NaN or infinite values of 6\n" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
	}

	data := fakeMNIST(t)
	net := models.NewMNISTNet(tensor.NewRNG(1))
	for _, s := range nn.StateDict(net) {
		s.Value.Data()[0] = float32(math.NaN())
	}
	ckpt := filepath.Join(t.TempDir(), "nan.safetensors")
	if err := checkpoint.Save(ckpt, net, checkpoint.Contents{Metadata: map[string]string{"model": "mnist-cnn"}}); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI("eval", "mnist", "--checkpoint", ckpt, "--data", data, "--json")
	rep := map[string]any{}
	if code == 0 || json.Unmarshal([]byte(out), &rep) != nil || rep["test_loss"] != nil ||
		errs != "argus eval mnist: test loss is NaN: the checkpoint "+ckpt+" gives non-finite scores\n" {
		t.Errorf("eval mnist of NaN weights: exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

// TestRunHugeImage: an image whose header claims a huge size is refused
// from its header, before its pixels are decoded.
func TestRunHugeImage(t *testing.T) {
	var buf bytes.Buffer
	png.Encode(&buf, image.NewGray(image.Rect(0, 0, 1, 1)))
	b := buf.Bytes()
	// IHDR: length (4), type (4), width, height, ..., CRC over type+data.
	binary.BigEndian.PutUint32(b[16:], 100000)
	binary.BigEndian.PutUint32(b[20:], 100000)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	path := filepath.Join(t.TempDir(), "huge.png")
	os.WriteFile(path, b, 0o644)
	model := filepath.Join(smallModelDir, "model.onnx")
	out, errs, code := onnxCLI("run", model, "--input", path)
	if code == 0 || out != "" || errs != "argus run: input "+path+": image of 100000×100000 pixels, want 1 to 16384 a side\n" {
		t.Errorf("exit %d, stdout %.200q, stderr %q", code, out, errs)
	}
}
