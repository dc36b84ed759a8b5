package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"argus/autograd"
	"argus/checkpoint"
	"argus/compiler/onnx"
	"argus/compiler/xgraph"
	"argus/models"
	"argus/nn"
	"argus/tensor"
)

// exportJSON runs `argus export ... --json` and decodes its report.
func exportJSON(t *testing.T, args ...string) exportReport {
	t.Helper()
	out, errs, code := onnxCLI(append([]string{"export", "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("export %v: exit %d: %s", args, code, errs)
	}
	var rep exportReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || strings.Count(out, "\n") != 1 {
		t.Fatalf("want one JSON line, got %q (%v)", out, err)
	}
	return rep
}

// runScores runs `argus run` of model on x and returns its N×K scores.
func runScores(t *testing.T, model string, x *tensor.Tensor, k int) [][]float64 {
	t.Helper()
	in := filepath.Join(t.TempDir(), "x.pb")
	if err := onnx.WriteTensor(in, xgraph.FromDense(x), "input"); err != nil {
		t.Fatal(err)
	}
	out, errs, code := onnxCLI("run", model, "--input", in, "--json", "--top", strconv.Itoa(k))
	if code != 0 {
		t.Fatalf("run: exit %d: %s", code, errs)
	}
	var res runResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	scores := make([][]float64, len(res.Outputs[0].Top))
	for b, hits := range res.Outputs[0].Top {
		scores[b] = make([]float64, k)
		for _, h := range hits {
			scores[b][h.Class] = float64(h.Score)
		}
	}
	return scores
}

// sameAsModel checks `argus run` of the export against m's forward pass.
func sameAsModel(t *testing.T, file string, m nn.Layer, x *tensor.Tensor) {
	t.Helper()
	nn.Train(m, false)
	var y *autograd.Var
	nn.NoGrad(m, func() { y = m.Forward(autograd.Const(x)) })
	k := y.Shape()[1]
	got := runScores(t, file, x, k)
	worst := 0.0
	for b := range got {
		for c, s := range got[b] {
			worst = math.Max(worst, math.Abs(s-float64(y.Value().Data()[b*k+c])))
		}
	}
	if worst > 1e-5 {
		t.Errorf("argus run of %s differs from the model by %.3g", filepath.Base(file), worst)
	}
}

func TestExportCommand(t *testing.T) {
	dir := t.TempDir()

	// A trained checkpoint names its model.
	trained := models.NewMNISTNet(tensor.NewRNG(5))
	ckpt := filepath.Join(dir, "mnist.safetensors")
	if err := checkpoint.Save(ckpt, trained, checkpoint.Contents{Metadata: map[string]string{checkpoint.MetaModel: "mnist-cnn"}}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "mnist.onnx")
	rep := exportJSON(t, "--checkpoint", ckpt, "--out", out)
	if rep.Model != "mnist-cnn" || rep.Weights != ckpt || rep.Opset != 13 || rep.IRVersion != 8 || rep.Parameters != 1199882 ||
		!equalInts(rep.Input.Shape, []int{-1, 1, 28, 28}) || !equalInts(rep.Output.Shape, []int{-1, 10}) {
		t.Errorf("report %+v", rep)
	}
	x := tensor.NewRNG(9).Uniform(0, 1, 3, 1, 28, 28)
	sameAsModel(t, out, trained, x)

	// A ResNet without a checkpoint: seeded random weights, a fixed batch
	// and a smaller image.
	out = filepath.Join(dir, "r18.onnx")
	rep = exportJSON(t, "--model", "resnet18", "--size", "64,48", "--batch", "2", "--seed", "3", "--out", out)
	if !equalInts(rep.Input.Shape, []int{2, 3, 64, 48}) || rep.Execution != "compiled" || rep.MaxAbsDiff > 1e-5 {
		t.Errorf("report %+v", rep)
	}
	r18, _ := models.New("resnet18", tensor.NewRNG(3))
	sameAsModel(t, out, r18, tensor.NewRNG(10).Uniform(-1, 1, 2, 3, 64, 48))

	// --init loads a state dict without metadata.
	init := filepath.Join(dir, "w.safetensors")
	if err := checkpoint.Save(init, trained, checkpoint.Contents{}); err != nil {
		t.Fatal(err)
	}
	out = filepath.Join(dir, "init.onnx")
	exportJSON(t, "--model", "mnist-cnn", "--init", init, "--out", out)
	sameAsModel(t, out, trained, x)

	// argus inspect reads the export and says how argus run executes it: after
	// the default passes, each batch norm is folded into its convolution.
	stdout, errs, code := onnxCLI("inspect", filepath.Join(dir, "r18.onnx"), "--json")
	var info struct {
		Name, Execution string
		Nodes           int
		Ops             map[string]int
	}
	if err := json.Unmarshal([]byte(stdout), &info); err != nil || code != 0 {
		t.Fatalf("inspect: exit %d, %v: %s", code, err, errs)
	}
	if info.Name != "resnet18" || info.Execution != "compiled" || info.Nodes != 49 || info.Ops["Conv"] != 20 || info.Ops["BatchNormalization"] != 0 {
		t.Errorf("inspect %+v", info)
	}

	// The plain output names the file and the check.
	stdout, errs, code = onnxCLI("export", "--checkpoint", ckpt, "--out", out)
	if code != 0 || !strings.Contains(stdout, "wrote "+out) || !strings.Contains(stdout, "max abs difference") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, errs)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestExportErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, m nn.Module, meta map[string]string) string {
		p := filepath.Join(dir, name)
		if err := checkpoint.Save(p, m, checkpoint.Contents{Metadata: meta}); err != nil {
			t.Fatal(err)
		}
		return p
	}
	mnist := models.NewMNISTNet(tensor.NewRNG(1))
	good := write("good.safetensors", mnist, map[string]string{checkpoint.MetaModel: "mnist-cnn"})
	unnamed := write("unnamed.safetensors", mnist, nil)
	vgg := write("vgg.safetensors", mnist, map[string]string{checkpoint.MetaModel: "vgg16"})
	lying := write("lying.safetensors", mnist, map[string]string{checkpoint.MetaModel: "resnet18"})
	garbage := filepath.Join(dir, "garbage.safetensors")
	if err := os.WriteFile(garbage, []byte("\x10\x00\x00\x00\x00\x00\x00\x00{not json}      "), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.onnx")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no out", []string{"--checkpoint", good}, "--out is required"},
		{"no model", []string{"--out", out}, "give --checkpoint, or --model"},
		{"both weights", []string{"--checkpoint", good, "--init", good, "--out", out}, "not both"},
		{"missing checkpoint", []string{"--checkpoint", filepath.Join(dir, "none.safetensors"), "--out", out}, "none.safetensors"},
		{"garbage checkpoint", []string{"--checkpoint", garbage, "--out", out}, "read " + garbage},
		{"directory checkpoint", []string{"--checkpoint", dir, "--out", out}, "is a directory"},
		{"unnamed checkpoint", []string{"--checkpoint", unnamed, "--out", out}, "names no model in its metadata; give --model"},
		{"unknown model", []string{"--checkpoint", vgg, "--out", out}, `unknown model "vgg16"`},
		{"other model", []string{"--checkpoint", good, "--model", "resnet18", "--out", out}, `holds model "mnist-cnn", not "resnet18"`},
		{"other model's init", []string{"--model", "resnet18", "--init", good, "--out", out}, `holds model "mnist-cnn", not "resnet18"`},
		{"wrong weights", []string{"--checkpoint", lying, "--out", out}, "load " + lying + ": checkpoint does not match the model"},
		{"bad size", []string{"--model", "resnet18", "--size", "64x64", "--out", out}, `--size "64x64"`},
		{"small size", []string{"--model", "resnet18", "--size", "16", "--out", out}, "at least 32×32"},
		{"fixed size", []string{"--model", "mnist-cnn", "--size", "32", "--out", out}, "takes 28×28 images only"},
		{"negative batch", []string{"--model", "mnist-cnn", "--batch", "-1", "--out", out}, `"--batch" flag: must be 0 to 65536`},
		{"overwrite input", []string{"--checkpoint", good, "--out", good}, "never overwritten"},
		{"missing folder", []string{"--model", "mnist-cnn", "--out", filepath.Join(dir, "no", "m.onnx")}, "write " + filepath.Join(dir, "no", "m.onnx")},
	}
	before, _ := os.ReadFile(good)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stdout, errs, code := onnxCLI(append([]string{"export"}, c.args...)...)
			if code != 1 || stdout != "" || strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, "argus export: ") || !strings.Contains(errs, c.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 and one line containing %q", code, stdout, errs, c.want)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("a failed export wrote %s", out)
			}
		})
	}
	if after, _ := os.ReadFile(good); string(after) != string(before) {
		t.Error("an export changed its input checkpoint")
	}
}

// FuzzExportCheckpoint feeds arbitrary bytes to `argus export` as a
// checkpoint: every input gives a clean exit, never an internal error.
func FuzzExportCheckpoint(f *testing.F) {
	good := filepath.Join(f.TempDir(), "good.safetensors")
	if err := checkpoint.Save(good, models.NewMNISTNet(tensor.NewRNG(1)), checkpoint.Contents{Metadata: map[string]string{checkpoint.MetaModel: "mnist-cnn"}}); err != nil {
		f.Fatal(err)
	}
	data, _ := os.ReadFile(good)
	f.Add(data)
	f.Add(data[:len(data)/2])
	f.Add(data[:200])
	f.Add([]byte{})
	f.Add([]byte("\xff\xff\xff\xff\xff\xff\xff\x7f{}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		in := filepath.Join(dir, "c.safetensors")
		if err := os.WriteFile(in, b, 0o644); err != nil {
			t.Fatal(err)
		}
		_, errs, code := onnxCLI("export", "--checkpoint", in, "--out", filepath.Join(dir, "m.onnx"))
		if code == 2 || (code != 0 && (strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, "argus export: "))) {
			t.Fatalf("exit %d, stderr %q", code, errs)
		}
	})
}
