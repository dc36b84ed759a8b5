package main

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const smallModelDir = "../../compiler/onnx/testdata/models/resnet18_small"

// onnxCLI runs a command line and returns stdout, stderr and the status.
func onnxCLI(args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestOnnxConformanceCommand(t *testing.T) {
	out, errs, code := onnxCLI("onnx", "conformance", "--data", "../../compiler/onnx/testdata/models", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var rep struct {
		Passed, Failed, Unsupported int
		Cases                       []struct {
			Name, Status, Op string
			MaxAbsError      float64 `json:"max_abs_error"`
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if rep.Passed != 2 || rep.Failed != 0 || len(rep.Cases) != 2 || rep.Cases[1].Name != "resnet18_small" || rep.Cases[1].MaxAbsError > 1e-3 {
		t.Errorf("report %+v", rep)
	}
	if strings.Count(out, "\n") != 1 {
		t.Errorf("want one JSON line, got %q", out)
	}
	_, errs, code = onnxCLI("onnx", "conformance", "--data", filepath.Join(t.TempDir(), "missing"), "--json")
	if code == 0 || strings.Count(errs, "\n") != 1 {
		t.Errorf("missing dir: exit %d, stderr %q", code, errs)
	}
}

func TestInspectCommand(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(smallModelDir, "model.onnx")
	svg := filepath.Join(dir, "g.svg")
	out, errs, code := onnxCLI("inspect", model, "--dot", svg, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var res struct {
		Nodes     int
		Ops       map[string]int
		Passes    map[string]int
		Inputs    []struct{ Shape []int }
		Execution string
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if res.Ops["BatchNormalization"] != 0 || res.Ops["Conv"] != 20 || res.Passes["fold-batchnorm"] == 0 || res.Inputs[0].Shape[0] != -1 ||
		res.Execution != "compiled" {
		t.Errorf("result %+v", res)
	}
	b, err := os.ReadFile(svg)
	if err != nil || !bytes.HasPrefix(b, []byte("<svg")) {
		t.Errorf("svg: %v %.40q", err, b)
	}
	dot := filepath.Join(dir, "g.dot")
	if _, errs, code := onnxCLI("inspect", model, "--dot", dot, "--no-optimize", "--json=false"); code != 0 {
		t.Fatalf("dot: exit %d: %s", code, errs)
	}
	if b, err := os.ReadFile(dot); err != nil || !bytes.HasPrefix(b, []byte("digraph")) {
		t.Errorf("dot: %v %.40q", err, b)
	}
	out, _, _ = onnxCLI("inspect", model, "--dot=", "--json=false", "--no-optimize")
	if !strings.Contains(out, "= BatchNormalization(") {
		t.Errorf("text dump lacks the batch norms:\n%.300s", out)
	}
	bad := filepath.Join(dir, "g.png")
	if _, errs, code := onnxCLI("inspect", model, "--dot", bad); code == 0 || !strings.Contains(errs, ".svg") {
		t.Errorf("bad extension: exit %d %q", code, errs)
	}
	if _, err := os.Stat(bad); err == nil {
		t.Error("bad extension: file written")
	}
	junk := filepath.Join(dir, "junk.onnx")
	os.WriteFile(junk, []byte("\x0a\xff\xff"), 0o644)
	if _, errs, code := onnxCLI("inspect", junk, "--dot="); code == 0 || strings.Count(errs, "\n") != 1 {
		t.Errorf("junk model: exit %d %q", code, errs)
	}
}

func TestRunCommand(t *testing.T) {
	model := filepath.Join(smallModelDir, "model.onnx")
	input := filepath.Join(smallModelDir, "test_data_set_0", "input_0.pb")
	out, errs, code := onnxCLI("run", model, "--input", input, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var res struct {
		Outputs []struct {
			Name  string
			Shape []int
			Top   [][]struct {
				Class int
				Score float64
				Prob  float64
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	o := res.Outputs[0]
	if o.Name != "logits" || len(o.Top) != 2 || len(o.Top[0]) != 5 || o.Top[0][0].Score < o.Top[0][1].Score {
		t.Errorf("outputs %+v", res.Outputs)
	}

	// An image is resized to the model's 64×64 input.
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for y := 0; y < 30; y++ {
		for x := 0; x < 40; x++ {
			img.Set(x, y, color.RGBA{uint8(6 * x), uint8(8 * y), 128, 255})
		}
	}
	pngPath := filepath.Join(t.TempDir(), "x.png")
	f, _ := os.Create(pngPath)
	png.Encode(f, img)
	f.Close()
	out, errs, code = onnxCLI("run", model, "--input", pngPath, "--json")
	if code != 0 {
		t.Fatalf("image: exit %d: %s", code, errs)
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Outputs[0].Top) != 1 {
		t.Errorf("image: %v %s", err, out)
	}

	for name, args := range map[string][]string{
		"no input":    {"run", model, "--json"},
		"bad type":    {"run", model, "--input", model},
		"wrong shape": {"run", model, "--input", filepath.Join(smallModelDir, "test_data_set_0", "output_0.pb")},
		"no model":    {"run", "missing.onnx", "--input", input},
	} {
		_, errs, code := onnxCLI(args...)
		if code == 0 || strings.Count(errs, "\n") != 1 {
			t.Errorf("%s: exit %d, stderr %q", name, code, errs)
		}
	}
}

// TestOnnxConformanceFailure: a failed case makes the command exit
// non-zero, after the report (text, or the JSON object) and with one error
// line.
func TestOnnxConformanceFailure(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(smallModelDir)
	for _, name := range []string{"good", "bad"} {
		set := filepath.Join(dir, name, "test_data_set_0")
		os.MkdirAll(set, 0o755)
		model, err := os.ReadFile(filepath.Join(src, "model.onnx"))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, name, "model.onnx"), model, 0o644)
		in, _ := os.ReadFile(filepath.Join(src, "test_data_set_0", "input_0.pb"))
		os.WriteFile(filepath.Join(set, "input_0.pb"), in, 0o644)
		want := "output_0.pb"
		if name == "bad" {
			want = "input_0.pb" // the wrong expected output
		}
		b, _ := os.ReadFile(filepath.Join(src, "test_data_set_0", want))
		os.WriteFile(filepath.Join(set, "output_0.pb"), b, 0o644)
	}
	tests := []struct {
		name string
		args []string
		out  string
	}{
		{"text", []string{"onnx", "conformance", "--data", dir}, "passed 1, failed 1, unsupported 0 of 2\n"},
		{"json", []string{"onnx", "conformance", "--data", dir, "--json"}, `"passed":1,"failed":1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errs, code := onnxCLI(tt.args...)
			if code == 0 || !strings.Contains(out, tt.out) || !strings.HasSuffix(errs, "argus onnx conformance: 1 of 2 cases failed\n") || strings.Count(errs, "argus") != 1 {
				t.Errorf("exit %d, stdout %q, stderr %q", code, out, errs)
			}
		})
	}
}
