package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"argus/compiler/quant"
)

const resnetSmall = "../../compiler/onnx/testdata/models/resnet18_small"

func TestQuantize(t *testing.T) {
	dir := t.TempDir()
	calib := filepath.Join(dir, "calib")
	if err := os.Mkdir(calib, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(resnetSmall, "test_data_set_0", "input_0.pb"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(calib, "input_0.pb"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "r18.quant")
	var stdout, stderr bytes.Buffer
	args := []string{"quantize", filepath.Join(resnetSmall, "model.onnx"), "--calib", calib, "--calib-n", "1", "--out", out, "--json"}
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "calibrate") {
		t.Errorf("no progress on stderr: %q", stderr.String())
	}
	var res quantizeResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil || strings.Count(stdout.String(), "\n") != 1 {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout.String())
	}
	if res.Samples != 1 || res.Layers != 32 || res.Ops["conv"] != 20 || len(res.Tensors) != 33 {
		t.Errorf("report %+v", res)
	}
	if res.Agreement.Images != 1 || res.Agreement.CosineMean < 0.99 || res.Worst.RelError > 0.1 {
		t.Errorf("agreement %+v, worst tensor %+v", res.Agreement, res.Worst)
	}
	m, err := quant.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Layers) != res.Layers {
		t.Errorf("the file holds %d layers, the report says %d", len(m.Layers), res.Layers)
	}
}

func TestQuantizeErrors(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(resnetSmall, "model.onnx")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"quantize", model}, `argus quantize: required flag(s) "calib" not set`},
		{[]string{"quantize", model, "--calib", dir}, "argus quantize: calibration folder " + dir + " holds no images"},
		{[]string{"quantize", filepath.Join(dir, "none.onnx"), "--calib", dir}, "none.onnx"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(c.args, &stdout, &stderr)
		e := stderr.String()
		if code == 0 || stdout.Len() != 0 || strings.Count(e, "\n") != 1 || !strings.Contains(e, c.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want one line with %q", c.args, code, stdout.String(), e, c.want)
		}
	}
}
