package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"argus/compiler/quant"
	"argus/data/imageio"
	"argus/data/mnist"
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

// TestQuantizeGreyImages quantises the trained MNIST CNN from a folder of
// PNG digits: grey input, --crop 1 (no resampling of 28×28 images) and
// MNIST's normalisation.
func TestQuantizeGreyImages(t *testing.T) {
	dir, err := mnist.DefaultDir()
	if err != nil {
		t.Skipf("MNIST: %v", err)
	}
	_, test, err := mnist.Load(dir)
	if err != nil {
		t.Skipf("MNIST: %v", err)
	}
	calib := t.TempDir()
	for i := 0; i < 16; i++ {
		img := &image.Gray{Pix: test.Pixels[i*784 : (i+1)*784], Stride: 28, Rect: image.Rect(0, 0, 28, 28)}
		if err := imageio.WriteFile(filepath.Join(calib, fmt.Sprintf("%02d.png", i)), img); err != nil {
			t.Fatal(err)
		}
	}
	model := "../../compiler/quant/testdata/mnist_cnn.onnx"
	var stdout, stderr bytes.Buffer
	args := []string{"quantize", model, "--calib", calib, "--crop", "1", "--mean", "0.1307", "--std", "0.3081", "--json"}
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var res quantizeResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	t.Logf("16 digits: cosine %.4f, top-1 agreement %.3f, worst tensor relative error %.4f (%s)",
		res.Agreement.CosineMean, res.Agreement.Top1, res.Worst.RelError, res.Worst.Name)
	if res.Agreement.Top1 < 0.9 || res.Agreement.CosineMean < 0.99 {
		t.Errorf("agreement %+v", res.Agreement)
	}
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"quantize", model, "--calib", calib}, &stdout, &stderr); code == 0 || !strings.Contains(stderr.String(), "takes grey images: give --mean and --std with one value each") {
		t.Errorf("grey model without --mean: exit %d, stderr %q", code, stderr.String())
	}
}
