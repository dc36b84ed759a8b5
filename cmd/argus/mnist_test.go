package main

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"argus/checkpoint"
	"argus/models"
	"argus/tensor"
)

// writeIDX writes a small synthetic MNIST-format set: n images whose label
// is drawn as a bright horizontal bar at a digit-dependent row.
func writeIDX(t *testing.T, dir, prefix string, n int, zip bool) {
	t.Helper()
	img := binary.BigEndian.AppendUint32(nil, 0x803)
	img = binary.BigEndian.AppendUint32(img, uint32(n))
	img = binary.BigEndian.AppendUint32(img, 28)
	img = binary.BigEndian.AppendUint32(img, 28)
	lab := binary.BigEndian.AppendUint32(nil, 0x801)
	lab = binary.BigEndian.AppendUint32(lab, uint32(n))
	for i := range n {
		d := i % 10
		px := make([]byte, 28*28)
		for c := 2; c < 26; c++ {
			px[(2+2*d)*28+c] = 255
		}
		img = append(img, px...)
		lab = append(lab, byte(d))
	}
	write := func(name string, b []byte) {
		if zip {
			var buf bytes.Buffer
			w := gzip.NewWriter(&buf)
			w.Write(b)
			w.Close()
			b = buf.Bytes()
			name += ".gz"
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(prefix+"-images-idx3-ubyte", img)
	write(prefix+"-labels-idx1-ubyte", lab)
}

func fakeMNIST(t *testing.T) string {
	dir := t.TempDir()
	writeIDX(t, dir, "train", 96, true)
	writeIDX(t, dir, "t10k", 40, false)
	return dir
}

func runCLI(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

func TestTrainAndEvalMNIST(t *testing.T) {
	data, out := fakeMNIST(t), t.TempDir()
	code, stdout, stderr := runCLI("train", "mnist", "--data", data, "--epochs", "2", "--batch", "16", "--out", out, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep map[string]any
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("stdout is not one JSON object: %q", stdout)
	}
	for _, k := range []string{"test_accuracy", "epochs", "seconds", "images_per_second", "checkpoint"} {
		if _, ok := rep[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	if rep["epochs"].(float64) != 2 {
		t.Errorf("epochs = %v", rep["epochs"])
	}
	// stderr is no terminal here, so the progress bar stays silent and
	// only the epoch lines come out.
	if !strings.Contains(stderr, "epoch 2/2: train loss") || strings.Contains(stderr, "\r") {
		t.Errorf("stderr is not the epoch lines alone: %q", stderr)
	}
	for _, f := range []string{"checkpoint.safetensors", "metrics.jsonl", "metrics.png"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	ckpt := filepath.Join(out, "checkpoint.safetensors")
	code, stdout, stderr = runCLI("eval", "mnist", "--checkpoint", ckpt, "--data", data, "--json")
	if code != 0 {
		t.Fatalf("eval exit %d: %s", code, stderr)
	}
	var ev map[string]any
	if err := json.Unmarshal([]byte(stdout), &ev); err != nil {
		t.Fatalf("eval stdout %q", stdout)
	}
	if ev["test_accuracy"] != rep["test_accuracy"] || ev["images"].(float64) != 40 {
		t.Errorf("eval %v disagrees with train %v", ev, rep)
	}
	// Resuming a finished run with more epochs continues from epoch 2.
	code, stdout, stderr = runCLI("train", "mnist", "--data", data, "--resume", ckpt, "--epochs", "3", "--json")
	if code != 0 {
		t.Fatalf("resume exit %d: %s", code, stderr)
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || rep["epochs"].(float64) != 3 {
		t.Errorf("resume report %v, %v", rep, err)
	}
}

func TestMNISTBadInput(t *testing.T) {
	data := fakeMNIST(t)
	dir := t.TempDir()
	corrupt := t.TempDir()
	writeIDX(t, corrupt, "train", 20, true)
	writeIDX(t, corrupt, "t10k", 10, true)
	os.WriteFile(filepath.Join(corrupt, "train-images-idx3-ubyte.gz"), []byte("\x1f\x8bnot really gzip"), 0o644)

	good := filepath.Join(dir, "good.safetensors")
	m := models.NewMNISTNet(tensor.NewRNG(1))
	if err := checkpoint.Save(good, m, checkpoint.Contents{Metadata: map[string]string{"model": "mnist-cnn"}}); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(good)
	truncated := filepath.Join(dir, "truncated.safetensors")
	os.WriteFile(truncated, raw[:len(raw)/2], 0o644)
	foreign := filepath.Join(dir, "foreign.safetensors")
	os.WriteFile(foreign, []byte("PK\x03\x04this is a zip file, not a checkpoint at all"), 0o644)
	other := filepath.Join(dir, "other.safetensors")
	r18, _ := models.NewResNet(tensor.NewRNG(1), 18, 10)
	checkpoint.Save(other, r18, checkpoint.Contents{Metadata: map[string]string{"model": "resnet18"}})
	unnamed := filepath.Join(dir, "unnamed.safetensors")
	checkpoint.Save(unnamed, r18, checkpoint.Contents{})

	out := filepath.Join(dir, "run")
	misspelt := filepath.Join(dir, "misspelt.yaml")
	os.WriteFile(misspelt, []byte("epochs: 1\nlrr: 0.1\n"), 0o644)
	otherModel := filepath.Join(dir, "other.yaml")
	os.WriteFile(otherModel, []byte("model: resnet18\n"), 0o644)
	badValue := filepath.Join(dir, "bad.yaml")
	os.WriteFile(badValue, []byte("epochs: two\n"), 0o644)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"train", "mnist", "--epoch", "2"}, "unknown flag: --epoch"},
		{"unknown eval flag", []string{"eval", "mnist", "--ckpt", good}, "unknown flag: --ckpt"},
		{"missing data", []string{"train", "mnist", "--data", filepath.Join(dir, "nope"), "--out", out}, "train-images-idx3-ubyte.gz"},
		{"corrupt data", []string{"train", "mnist", "--data", corrupt, "--out", out}, "train-images-idx3-ubyte.gz"},
		{"bad epochs", []string{"train", "mnist", "--data", data, "--epochs", "0", "--out", out}, "epochs"},
		{"bad optimizer", []string{"train", "mnist", "--data", data, "--optimizer", "rmsprop", "--out", out}, "rmsprop"},
		{"no checkpoint flag", []string{"eval", "mnist", "--data", data}, `required flag(s) "checkpoint" not set`},
		{"missing checkpoint", []string{"eval", "mnist", "--data", data, "--checkpoint", filepath.Join(dir, "none")}, "no such file"},
		{"truncated checkpoint", []string{"eval", "mnist", "--data", data, "--checkpoint", truncated}, "not a valid safetensors file"},
		{"foreign checkpoint", []string{"eval", "mnist", "--data", data, "--checkpoint", foreign}, "not a valid safetensors file"},
		{"other model", []string{"eval", "mnist", "--data", data, "--checkpoint", other}, `"resnet18", not "mnist-cnn"`},
		{"no moving average", []string{"eval", "mnist", "--data", data, "--checkpoint", good, "--ema"}, "kept no moving average"},
		{"other model unnamed", []string{"eval", "mnist", "--data", data, "--checkpoint", unnamed}, "missing: conv1.bias"},
		{"resume other model", []string{"train", "mnist", "--data", data, "--resume", other, "--out", out}, "another model"},
		{"resume truncated", []string{"train", "mnist", "--data", data, "--resume", truncated, "--out", out}, "not a valid safetensors file"},
		{"misspelt config key", []string{"train", "mnist", "--data", data, "--config", misspelt, "--out", out}, "field lrr not found"},
		{"missing config", []string{"train", "mnist", "--data", data, "--config", filepath.Join(dir, "none.yaml"), "--out", out}, "no such file"},
		{"config of another model", []string{"train", "mnist", "--data", data, "--config", otherModel, "--out", out}, `model must be "mnist-cnn", got "resnet18"`},
		{"bad value in config", []string{"train", "mnist", "--data", data, "--config", badValue, "--out", out}, "cannot unmarshal"},
		{"resume without state", []string{"train", "mnist", "--data", data, "--resume", good, "--out", out}, "no training configuration"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(c.args...)
			if code == 0 {
				t.Fatalf("exit 0, stdout %q", stdout)
			}
			lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "argus "+c.args[0]+" "+c.args[1]+": ") || strings.Contains(stderr, "goroutine") {
				t.Errorf("stderr is not one error line: %q", stderr)
			}
			if !strings.Contains(stderr, c.want) {
				t.Errorf("stderr %q does not mention %q", stderr, c.want)
			}
			if _, err := os.Stat(filepath.Join(out, "checkpoint.safetensors")); err == nil {
				t.Errorf("a checkpoint was written")
			}
		})
	}
}
