package dpu_test

import (
	"os"
	"path/filepath"
	"testing"

	"argus/compiler/dpu"
	"argus/compiler/partition"
	"argus/dpu/target"
)

// fullModel quantises a full-size model from the folder ARGUS_ONNX_MODELS
// (tools/onnx/export.py --full --models ...) on two noise images, or skips.
func fullModel(b *testing.B, name string) string {
	dir := os.Getenv("ARGUS_ONNX_MODELS")
	if dir == "" {
		b.Skip("set ARGUS_ONNX_MODELS to the folder of tools/onnx/export.py --full")
	}
	path := filepath.Join(dir, name, "model.onnx")
	if _, err := os.Stat(path); err != nil {
		b.Skip(err)
	}
	return path
}

// BenchmarkCompile is the back end's time for ResNet-50 on zu9: the
// partition, the code generation and the cycle model's timing run (the
// quantisation, which argus compile also does, is compiler/quant's).
func BenchmarkCompile(b *testing.B) {
	m := quantized(b, fullModel(b, "resnet50"))
	tg, _ := target.Lookup("zu9")
	for b.Loop() {
		p, err := dpu.Compile(m, tg, partition.Split(m, tg), dpu.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := p.Summarize(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSimulate runs one ResNet-50 image through the functional
// simulator on zu9.
func BenchmarkSimulate(b *testing.B) {
	m := quantized(b, fullModel(b, "resnet50"))
	tg, _ := target.Lookup("zu9")
	p, err := dpu.Compile(m, tg, partition.Split(m, tg), dpu.Options{})
	if err != nil {
		b.Fatal(err)
	}
	x, _ := noise{m.Tensor(m.Input).Shape, 1}.Sample(5)
	x.Shape = append([]int{1}, x.Shape...)
	in := m.QuantizeInput(x, 0)
	for b.Loop() {
		if _, _, err := p.RunImage(in); err != nil {
			b.Fatal(err)
		}
	}
}
