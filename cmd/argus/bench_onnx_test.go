package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchInferONNX times the MNIST CNN's ONNX file and checks the report
// and the refusals of inputs that do not fit it.
func TestBenchInferONNX(t *testing.T) {
	model := filepath.Join("..", "..", "compiler", "quant", "testdata", "mnist_cnn.onnx")
	out, errs, code := runArgus(t, "bench", "infer", "--onnx", model, "--size", "28", "--iters", "2", "--warmup", "0", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var rep inferReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %q", err, out)
	}
	if rep.Model != "mnist_cnn.onnx" || rep.Classes != 10 || rep.Engine != "compiled" || !(rep.MsPerBatch > 0) || rep.Iters != 2 {
		t.Errorf("report %+v", rep)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--size", "32"}, "does not take"},
		{[]string{"--size", "28", "--model", "resnet18"}, "give one"},
		{[]string{"--size", "28", "--engine", "autograd"}, "needs a --model"},
	} {
		_, errs, code := runArgus(t, append([]string{"bench", "infer", "--onnx", model, "--iters", "1"}, c.args...)...)
		if code == 0 || !strings.Contains(errs, c.want) || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
			t.Errorf("%v: exit %d, %q; want one line with %q", c.args, code, errs, c.want)
		}
	}
}
