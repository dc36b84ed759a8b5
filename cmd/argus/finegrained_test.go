package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"argus/checkpoint"
	"argus/models"
	"argus/tensor"
)

// TestFinegrainedCommands trains a DeiT-tiny with both DCAL branches for
// one epoch on 32×32 crops, then evaluates, predicts and explains with its
// checkpoint.
func TestFinegrainedCommands(t *testing.T) {
	data, out := synthClassify(t), t.TempDir()
	code, stdout, stderr := runCLI("train", "finegrained", "--data", data, "--model", "deit-tiny", "--dcal", "glca,pwca", "--size", "32",
		"--batch", "8", "--epochs", "1", "--workers", "2", "--glca-ratio", "0.5", "--out", out, "--json")
	if code != 0 {
		t.Fatalf("train: exit %d: %s", code, stderr)
	}
	rep := decodeReport(t, stdout)
	for _, k := range []string{"top1", "top5", "top1_sa", "top1_glca", "epochs", "seconds", "checkpoint"} {
		if v, ok := rep[k]; !ok || v == nil {
			t.Errorf("JSON lacks %q: %v", k, rep)
		}
	}
	terms, _ := rep["terms"].(map[string]any)
	if len(terms) != 3 || rep["dcal"] != "glca,pwca" || rep["classes"].(float64) != 20 {
		t.Errorf("report %v", rep)
	}
	ckpt := filepath.Join(out, "checkpoint.safetensors")
	code, stdout, stderr = runCLI("eval", "finegrained", "--checkpoint", ckpt, "--data", data, "--json")
	if code != 0 {
		t.Fatalf("eval: exit %d: %s", code, stderr)
	}
	ev := decodeReport(t, stdout)
	for _, k := range []string{"top1", "top5", "top1_sa", "top1_glca"} {
		if ev[k] != rep[k] {
			t.Errorf("eval %s = %v, training's evaluation %v", k, ev[k], rep[k])
		}
	}
	img := filepath.Join(data, "val", firstClass(t, data))
	entries, err := os.ReadDir(img)
	if err != nil || len(entries) == 0 {
		t.Fatalf("val images: %v", err)
	}
	img = filepath.Join(img, entries[0].Name())
	code, stdout, stderr = runCLI("predict", "classify", "--checkpoint", ckpt, "--top", "3", img, "--json")
	if code != 0 {
		t.Fatalf("predict: exit %d: %s", code, stderr)
	}
	preds := decodeReport(t, stdout)["predictions"].([]any)
	if len(preds) != 1 || len(preds[0].(map[string]any)["classes"].([]any)) != 3 {
		t.Errorf("predictions %v", preds)
	}
	dir := filepath.Join(t.TempDir(), "explain")
	code, stdout, stderr = runCLI("explain", "--checkpoint", ckpt, "--out", dir, img, "--json")
	if code != 0 {
		t.Fatalf("explain: exit %d: %s", code, stderr)
	}
	ex := decodeReport(t, stdout)["images"].([]any)[0].(map[string]any)
	if _, err := os.Stat(ex["png"].(string)); err != nil || len(ex["patches"].([]any)) != 2 {
		t.Errorf("explain %v: %v", ex, err)
	}
}

func firstClass(t *testing.T, data string) string {
	t.Helper()
	e, err := os.ReadDir(filepath.Join(data, "val"))
	if err != nil || len(e) == 0 {
		t.Fatalf("val: %v", err)
	}
	return e[0].Name()
}

// TestFinegrainedInit starts a run from a timm-style DeiT-tiny state dict
// (1000 classes, 224×224) and checks the strict and the lenient refusals.
func TestFinegrainedInit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a full DeiT-tiny")
	}
	data, dir := synthClassify(t), t.TempDir()
	spec, err := models.Lookup("deit-tiny")
	if err != nil {
		t.Fatal(err)
	}
	v, err := spec.New(tensor.NewRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	f, err := checkpoint.EncodeModel(v, checkpoint.Contents{})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Add("dist_token", checkpoint.Float32Entry(tensor.Zeros(1, 1, 192))); err != nil {
		t.Fatal(err)
	}
	w := filepath.Join(dir, "w.safetensors")
	if err := checkpoint.WriteFile(w, f); err != nil {
		t.Fatal(err)
	}
	args := []string{"train", "finegrained", "--data", data, "--size", "32", "--batch", "8", "--epochs", "1", "--workers", "2",
		"--limit", "8", "--init", w, "--json"}
	code, _, stderr := runCLI(append(args, "--out", filepath.Join(dir, "strict"))...)
	if code == 0 || !strings.Contains(stderr, "unexpected: dist_token") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Fatalf("strict: exit %d: %q", code, stderr)
	}
	code, stdout, stderr := runCLI(append(args, "--init-strict=false", "--out", filepath.Join(dir, "lenient"))...)
	if code != 0 {
		t.Fatalf("lenient: exit %d: %s", code, stderr)
	}
	init := decodeReport(t, stdout)["init"].(map[string]any)
	if init["glca_from"] != "blocks.11" || len(init["unexpected"].([]any)) != 1 || len(init["skipped"].([]any)) != 2 {
		t.Errorf("init %v", init)
	}
	if code, _, stderr := runCLI(append(args, "--init-lenient", "--out", filepath.Join(dir, "lenient2"))...); code != 0 {
		t.Fatalf("--init-lenient: exit %d: %s", code, stderr)
	}
	// A run started from --init resumes from its checkpoint alone.
	if err := os.Remove(w); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCLI("train", "finegrained", "--data", data, "--resume", filepath.Join(dir, "lenient", "checkpoint.safetensors"), "--epochs", "2")
	if code != 0 {
		t.Errorf("resume: exit %d: %s", code, stderr)
	}
}

// TestReproDCALTiny runs the DCAL reproduction's pipeline at its smallest.
func TestReproDCALTiny(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := runCLI("repro", "dcal", "--preset", "tiny", "--seeds", "1", "--out", out, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	rep := decodeReport(t, stdout)
	rows := rep["rows"].([]any)
	if len(rows) != 4 || len(rep["trainings"].([]any)) != 4 {
		t.Fatalf("report %v", rep)
	}
	for i, name := range []string{"baseline", "+GLCA", "+PWCA", "+GLCA +PWCA"} {
		r := rows[i].(map[string]any)
		if r["name"] != name || len(r["top1"].([]any)) != 1 {
			t.Errorf("row %d: %v", i, r)
		}
	}
}

// TestFinegrainedCorruptImage checks that an undecodable image stops a run
// with one line naming it, and that --skip-bad drops and counts it.
func TestFinegrainedCorruptImage(t *testing.T) {
	data, dir := synthClassify(t), t.TempDir()
	class := firstClass(t, data)
	entries, err := os.ReadDir(filepath.Join(data, "train", class))
	if err != nil || len(entries) == 0 {
		t.Fatalf("train images: %v", err)
	}
	bad := filepath.Join(data, "train", class, entries[0].Name())
	if err := os.WriteFile(bad, []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"train", "finegrained", "--data", data, "--size", "32", "--batch", "20", "--epochs", "1", "--workers", "2", "--json"}
	code, _, stderr := runCLI(append(args, "--out", filepath.Join(dir, "a"))...)
	if code == 0 || !strings.Contains(stderr, bad) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Fatalf("exit %d: %q", code, stderr)
	}
	code, stdout, stderr := runCLI(append(args, "--skip-bad", "--out", filepath.Join(dir, "b"))...)
	if code != 0 {
		t.Fatalf("--skip-bad: exit %d: %s", code, stderr)
	}
	if n := decodeReport(t, stdout)["skipped_images"]; n != 1.0 {
		t.Errorf("skipped_images %v, want 1", n)
	}
}

// TestExportFinegrained exports a PWCA checkpoint (PWCA dropped: the
// export is the ViT, checked against it by the export itself) and refuses
// a GLCA one with one line.
func TestExportFinegrained(t *testing.T) {
	data, dir := synthClassify(t), t.TempDir()
	for _, d := range []string{"pwca", "glca"} {
		out := filepath.Join(dir, d)
		if code, _, stderr := runCLI("train", "finegrained", "--data", data, "--dcal", d, "--size", "32", "--batch", "20", "--epochs", "1",
			"--limit", "20", "--workers", "2", "--out", out); code != 0 {
			t.Fatalf("train %s: %s", d, stderr)
		}
	}
	code, stdout, stderr := runCLI("export", "--checkpoint", filepath.Join(dir, "pwca", "checkpoint.safetensors"), "--out", filepath.Join(dir, "pwca.onnx"), "--json")
	if code != 0 {
		t.Fatalf("export pwca: %s", stderr)
	}
	if rep := decodeReport(t, stdout); rep["max_abs_diff"].(float64) > 1e-4 {
		t.Errorf("export %v", rep)
	}
	code, _, stderr = runCLI("export", "--checkpoint", filepath.Join(dir, "glca", "checkpoint.safetensors"), "--out", filepath.Join(dir, "glca.onnx"))
	if code == 0 || !strings.Contains(stderr, "cannot be exported yet") {
		t.Errorf("export glca: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "glca.onnx")); err == nil {
		t.Error("a refused export left a file")
	}
}

// TestTrainFinegrainedInterrupt sends SIGINT once the first checkpoint
// exists: the run stops with a resumable checkpoint that continues with
// its branches, and a resume that changes them is refused.
func TestTrainFinegrainedInterrupt(t *testing.T) {
	data, out := synthClassify(t), t.TempDir()
	ckpt := filepath.Join(out, "checkpoint.safetensors")
	stdout, stderr := interruptAfter(t, ckpt, "train", "finegrained", "--data", data, "--dcal", "glca,pwca", "--size", "32", "--batch", "10",
		"--epochs", "100", "--workers", "2", "--out", out, "--json")
	rep := decodeReport(t, stdout.String())
	lines := strings.Split(strings.TrimRight(stderr.String(), "\n"), "\n")
	if line := lines[len(lines)-1]; rep["stopped"] != "interrupt" || !strings.HasSuffix(line, "; continue with --resume "+ckpt) {
		t.Errorf("report %v, error line %q", rep, line)
	}
	epochs := int(rep["epochs"].(float64)) + 1
	code, resumed, errs := runCLI("train", "finegrained", "--data", data, "--resume", ckpt, "--epochs", strconv.Itoa(epochs), "--json")
	if code != 0 {
		t.Fatalf("resume: exit %d: %s", code, errs)
	}
	if r := decodeReport(t, resumed); int(r["epochs"].(float64)) != epochs || r["dcal"] != "glca,pwca" {
		t.Errorf("resumed report %v", r)
	}
	code, _, errs = runCLI("train", "finegrained", "--data", data, "--resume", ckpt, "--epochs", strconv.Itoa(epochs+1), "--dcal", "glca")
	if code == 0 || !strings.Contains(errs, "dcal") {
		t.Errorf("resume with other branches: exit %d, %q", code, errs)
	}
}

// TestPredictClassifyResNet classifies an image with a checkpoint of argus
// train classify.
func TestPredictClassifyResNet(t *testing.T) {
	data, out := synthClassify(t), t.TempDir()
	if code, _, stderr := runCLI(classifyArgs(data, out)...); code != 0 {
		t.Fatalf("train: %s", stderr)
	}
	img := filepath.Join(data, "val", firstClass(t, data))
	entries, err := os.ReadDir(img)
	if err != nil || len(entries) == 0 {
		t.Fatalf("val images: %v", err)
	}
	img = filepath.Join(img, entries[0].Name())
	code, stdout, stderr := runCLI("predict", "classify", "--checkpoint", filepath.Join(out, "checkpoint.safetensors"), "--top", "20", img, "--json")
	if code != 0 {
		t.Fatalf("predict: %s", stderr)
	}
	rep := decodeReport(t, stdout)
	classes := rep["predictions"].([]any)[0].(map[string]any)["classes"].([]any)
	var sum float64
	for _, c := range classes {
		sum += c.(map[string]any)["score"].(float64)
	}
	if rep["model"] != "resnet18" || len(classes) != 20 || sum < 0.999 || sum > 1.001 {
		t.Errorf("report %v (scores sum to %v)", rep, sum)
	}
}
