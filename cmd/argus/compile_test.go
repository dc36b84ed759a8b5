package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCompileRunValidate compiles the reduced ResNet-18 on its one
// reference input, runs the program with both engines, inspects it and
// validates it against the float model.
func TestCompileRunValidate(t *testing.T) {
	dir := t.TempDir()
	calib := filepath.Join(dir, "calib")
	if err := os.Mkdir(calib, 0o755); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(resnetSmall, "test_data_set_0", "input_0.pb")
	b, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(calib, "input_0.pb"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	prog := filepath.Join(dir, "r18.dpu")
	call := func(args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != 0 {
			t.Fatalf("argus %s: exit %d: %s", strings.Join(args, " "), code, stderr.String())
		}
		if strings.Count(stdout.String(), "\n") != 1 {
			t.Fatalf("argus %s: stdout is not one line:\n%s", args[0], stdout.String())
		}
		return stdout.String()
	}
	var c map[string]any
	if err := json.Unmarshal([]byte(call("compile", filepath.Join(resnetSmall, "model.onnx"), "--calib", calib, "--target", "zu9", "--out", prog, "--json")), &c); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"ops", "cycles", "seconds", "tops", "fps", "utilization", "dpu_ops_share", "cpu_ops", "fused_groups", "compile_seconds"} {
		if _, ok := c[k]; !ok {
			t.Errorf("compile report has no %q", k)
		}
	}
	if c["dpu_ops_share"].(float64) != 1 || c["cycles"].(float64) <= 0 || c["layers"].(float64) != 32 {
		t.Errorf("compile report %v", c)
	}
	var nf map[string]any
	if err := json.Unmarshal([]byte(call("compile", filepath.Join(resnetSmall, "model.onnx"), "--calib", calib, "--target", "zu9", "--no-fusion", "--report", filepath.Join(dir, "r.html"), "--json")), &nf); err != nil {
		t.Fatal(err)
	}
	if page, err := os.ReadFile(filepath.Join(dir, "r.html")); err != nil || !strings.Contains(string(page), "<h2>Layers</h2>") {
		t.Errorf("--report: %v, %.200q", err, page)
	}
	// Fusion keeps tensors out of DDR: fewer cycles and bytes, more groups.
	if nf["cycles"].(float64) <= c["cycles"].(float64) || nf["ddr_bytes"].(float64) <= c["ddr_bytes"].(float64) ||
		len(nf["fused_groups"].([]any)) >= len(c["fused_groups"].([]any)) {
		t.Errorf("--no-fusion: %v cycles, %v bytes, %d groups; fused: %v, %v, %d", nf["cycles"], nf["ddr_bytes"], len(nf["fused_groups"].([]any)),
			c["cycles"], c["ddr_bytes"], len(c["fused_groups"].([]any)))
	}
	var sim, ref programRun
	json.Unmarshal([]byte(call("run", prog, "--input", in, "--json")), &sim)
	json.Unmarshal([]byte(call("run", prog, "--input", in, "--engine", "quant-ref", "--json")), &ref)
	if sim.Cycles != int64(c["cycles"].(float64)) || len(sim.Outputs) != 1 || len(ref.Outputs) != 1 {
		t.Fatalf("run: %+v, %+v", sim, ref)
	}
	// The input holds two images: the top classes of both engines agree.
	for i := range sim.Outputs[0].Top {
		if sim.Outputs[0].Top[i][0] != ref.Outputs[0].Top[i][0] {
			t.Errorf("item %d: sim %+v, quant-ref %+v", i, sim.Outputs[0].Top[i][0], ref.Outputs[0].Top[i][0])
		}
	}
	var ins programInspect
	if err := json.Unmarshal([]byte(call("inspect", prog, "--json")), &ins); err != nil {
		t.Fatal(err)
	}
	if len(ins.Subgraphs) != 1 || len(ins.Summary.Rows) != 32 || ins.Summary.Rows[0].Cycles <= 0 {
		t.Errorf("inspect %+v", ins)
	}
	var v validateResult
	json.Unmarshal([]byte(call("validate", filepath.Join(resnetSmall, "model.onnx"), prog, "--calib", calib, "--json")), &v)
	if v.Images != 2 || !v.BitExact || v.Cosine < 0.99 || v.Top1Agreement != 1 {
		t.Errorf("validate %+v", v)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"run", prog, "--input", in, "--target", "zu2"}, &stdout, &stderr); code == 0 || !strings.Contains(stderr.String(), "compiled for target zu9") {
		t.Errorf("run --target zu2: exit %d, %q", code, stderr.String())
	}
}
