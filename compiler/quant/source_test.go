package quant_test

import (
	"image"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"argus/checkpoint"
	"argus/compiler/onnx"
	"argus/compiler/quant"
	"argus/compiler/xgraph"
	"argus/data/imageio"
	"argus/tensor"
)

func TestImageFolder(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"b.png", "a.jpg", "sub/c.png", "notes.txt"} {
		if strings.HasSuffix(name, ".txt") {
			if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		img := image.NewNRGBA(image.Rect(0, 0, 40+10*i, 30))
		for y := 0; y < 30; y++ {
			for x := 0; x < img.Rect.Dx(); x++ {
				img.Set(x, y, color.NRGBA{uint8(255 * i / 3), 128, 255, 255})
			}
		}
		if err := imageio.WriteFile(filepath.Join(dir, name), img); err != nil {
			t.Fatal(err)
		}
	}
	src, err := quant.OpenSource(dir, quant.Preprocess{Size: 16}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if src.Len() != 3 {
		t.Fatalf("%d samples, want 3 (the text file skipped)", src.Len())
	}
	// Sorted by path: a.jpg (i = 1), b.png (i = 0), sub/c.png (i = 2).
	s, err := src.Sample(1)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Shape) != 3 || s.Shape[0] != 3 || s.Shape[1] != 16 || s.Shape[2] != 16 {
		t.Fatalf("sample shape %v, want [3 16 16]", s.Shape)
	}
	// A flat image normalises to (v − mean)/std everywhere: red 0 in b.png.
	if want := (0 - quant.ImageNet(0).Mean[0]) / quant.ImageNet(0).Std[0]; abs32(s.F[0]-want) > 1e-5 || abs32(s.F[255]-want) > 1e-5 {
		t.Errorf("red plane %g … %g, want %g", s.F[0], s.F[255], want)
	}
	if want := (1 - quant.ImageNet(0).Mean[2]) / quant.ImageNet(0).Std[2]; abs32(s.F[2*256+17]-want) > 1e-5 {
		t.Errorf("blue %g, want %g", s.F[2*256+17], want)
	}
	lim, err := quant.OpenSource(dir, quant.Preprocess{Size: 16}, 2)
	if err != nil || lim.Len() != 2 {
		t.Errorf("calib-n 2: %d samples, %v", lim.Len(), err)
	}
	grey, err := quant.OpenSource(dir, quant.Preprocess{Size: 8, Grey: true, Mean: []float32{0.5}, Std: []float32{0.25}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	s, err = grey.Sample(1)
	if err != nil {
		t.Fatal(err)
	}
	// b.png is (0, 128/255, 1): luma 0.587·0.502 + 0.114.
	want := float32((0.587*128/255+0.114)-0.5) / 0.25
	if len(s.Shape) != 3 || s.Shape[0] != 1 || abs32(s.F[5]-want) > 1e-5 {
		t.Errorf("grey sample %v, element %g; want [1 8 8] and %g", s.Shape, s.F[5], want)
	}
	if _, err := quant.OpenSource(dir, quant.Preprocess{Size: 8, Grey: true}, 0); err == nil || !strings.Contains(err.Error(), "give 1 of each") {
		t.Errorf("grey without a mean: %v", err)
	}
}

func abs32(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}

func TestTensorFiles(t *testing.T) {
	dir := t.TempDir()
	rng := tensor.NewRNG(1)
	batch := xgraph.FromDense(rng.Normal(0, 1, 2, 3, 4, 4))
	single := xgraph.FromDense(rng.Normal(0, 1, 3, 4, 4))
	if err := onnx.WriteTensor(filepath.Join(dir, "a.pb"), batch, "input"); err != nil {
		t.Fatal(err)
	}
	f := checkpoint.NewFile()
	if err := f.Add("x", checkpoint.Float32Entry(single.Dense())); err != nil {
		t.Fatal(err)
	}
	if err := f.Add("y", checkpoint.Float32Entry(batch.Dense())); err != nil {
		t.Fatal(err)
	}
	if err := checkpoint.WriteFile(filepath.Join(dir, "b.safetensors"), f); err != nil {
		t.Fatal(err)
	}
	src, err := quant.OpenSource(dir, quant.Preprocess{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	// a.pb: 2 samples; b.safetensors: x (1), y (2).
	if src.Len() != 5 {
		t.Fatalf("%d samples, want 5", src.Len())
	}
	want := [][]float32{batch.F[:48], batch.F[48:], single.F, batch.F[:48], batch.F[48:]}
	for i, w := range want {
		s, err := src.Sample(i)
		if err != nil {
			t.Fatal(err)
		}
		for j := range w {
			if s.F[j] != w[j] {
				t.Fatalf("sample %d element %d = %g, want %g", i, j, s.F[j], w[j])
			}
		}
	}
	lim, err := quant.OpenSource(dir, quant.Preprocess{}, 3)
	if err != nil || lim.Len() != 3 {
		t.Errorf("calib-n 3: %d samples, %v", lim.Len(), err)
	}
}

func TestSourceErrors(t *testing.T) {
	empty := t.TempDir()
	if err := os.WriteFile(filepath.Join(empty, "readme.md"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	mixed := t.TempDir()
	for _, name := range []string{"a.png", "b.pb"} {
		if err := os.WriteFile(filepath.Join(mixed, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ints := t.TempDir()
	if err := onnx.WriteTensor(filepath.Join(ints, "i.pb"), xgraph.NewInt(xgraph.Int64, []int64{1, 2}, 2), "i"); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(empty, "readme.md")
	tests := []struct {
		name, dir, want string
	}{
		{"no images", empty, "holds no images"},
		{"both kinds", mixed, "both images and tensors"},
		{"integer tensor", ints, "calibration takes float"},
		{"missing", filepath.Join(empty, "nothing"), "no such file"},
		{"a file", file, "is not a folder"},
	}
	for _, tt := range tests {
		_, err := quant.OpenSource(tt.dir, quant.Preprocess{Size: 8}, 0)
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %v, want one line naming %q", tt.name, err, tt.want)
		}
	}
}
