package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"argus/data/cocofile"
)

// detectArgs are a small, quick detection run: a narrow two-stage head.
func detectArgs(data, out string, more ...string) []string {
	return append([]string{"train", "detect", "--data", data, "--model", "sparse-rcnn-r18", "--size", "64", "--batch", "2",
		"--epochs", "1", "--num-proposals", "10", "--width", "32", "--stages", "2", "--workers", "2", "--out", out, "--json"}, more...)
}

func TestTrainEvalPredictDetect(t *testing.T) {
	data := filepath.Join(t.TempDir(), "coco")
	if code, _, stderr := runCLI("data", "synth", "detection", "--size", "6", "--out", data); code != 0 {
		t.Fatalf("synth: exit %d: %s", code, stderr)
	}
	out := t.TempDir()
	code, stdout, stderr := runCLI(detectArgs(data, out, "--assign", "dla", "--proposals", "dpg")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	rep := decodeReport(t, stdout)
	for _, k := range []string{"AP", "AP50", "AP75", "APs", "APm", "APl", "epochs", "seconds", "checkpoint"} {
		if _, ok := rep[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	if rep["assign"] != "dla" || rep["proposals"] != "dpg" || rep["classes"].(float64) != 10 {
		t.Errorf("report %v", rep)
	}
	ckpt := filepath.Join(out, "checkpoint.safetensors")
	results := filepath.Join(t.TempDir(), "dets.json")
	code, stdout, stderr = runCLI("eval", "detect", "--checkpoint", ckpt, "--data", data, "--results", results, "--json")
	if code != 0 {
		t.Fatalf("eval: exit %d: %s", code, stderr)
	}
	ev := decodeReport(t, stdout)
	// The evaluation repeats the training's.
	for _, k := range []string{"AP", "AP50", "AR100"} {
		if ev[k] != rep[k] {
			t.Errorf("eval %s = %v, training's %v", k, ev[k], rep[k])
		}
	}
	rs, err := cocofile.ReadResultsFile(results)
	if err != nil || len(rs) != 10*1 {
		t.Fatalf("results: %d, %v (want 10 detections of the one val image)", len(rs), err)
	}
	img := filepath.Join(data, "val2017", "000000000001.jpg")
	drawn := t.TempDir()
	code, stdout, stderr = runCLI("predict", "detect", "--checkpoint", ckpt, "--out", drawn, "--score", "0", "--json", img)
	if code != 0 {
		t.Fatalf("predict: exit %d: %s", code, stderr)
	}
	pr := decodeReport(t, stdout)["images"].([]any)[0].(map[string]any)
	if n := len(pr["detections"].([]any)); n != 10 {
		t.Errorf("%d detections at score 0, want 10", n)
	}
	if _, err := os.Stat(filepath.Join(drawn, "000000000001.png")); err != nil {
		t.Error(err)
	}
	// Export is refused with one line, writing nothing.
	onnxOut := filepath.Join(t.TempDir(), "det.onnx")
	code, _, stderr = runCLI("export", "--checkpoint", ckpt, "--out", onnxOut)
	if code == 0 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "cannot be exported yet") {
		t.Errorf("export of a detector: exit %d, %q", code, stderr)
	}
	if _, err := os.Stat(onnxOut); err == nil {
		t.Errorf("a refused export wrote %s", onnxOut)
	}
	// Bad input: a box outside its image names the file.
	b, err := os.ReadFile(filepath.Join(data, "annotations", "instances_val2017.json"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := cocofile.ReadDataset(strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	d.Annotations[0].BBox[0] = -50
	if err := cocofile.WriteDatasetFile(filepath.Join(data, "annotations", "instances_val2017.json"), d); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCLI("eval", "detect", "--checkpoint", ckpt, "--data", data)
	if code == 0 || !strings.Contains(stderr, "outside its") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("box outside its image: exit %d, %q", code, stderr)
	}
}

// TestDetectSkipBad checks that a corrupt image stops training with one
// line and nothing left in --out, and that --skip-bad leaves it out, and
// a box outside its image, counting both.
func TestDetectSkipBad(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "coco")
	if code, _, stderr := runCLI("data", "synth", "detection", "--size", "6", "--out", data); code != 0 {
		t.Fatalf("synth: exit %d: %s", code, stderr)
	}
	if err := os.WriteFile(filepath.Join(data, "train2017", "000000000001.jpg"), []byte("\xff\xd8\xff not a jpeg"), 0o644); err != nil {
		t.Fatal(err)
	}
	ann := filepath.Join(data, "annotations", "instances_val2017.json")
	d, err := cocofile.ReadDatasetFile(ann)
	if err != nil {
		t.Fatal(err)
	}
	d.Annotations[0].BBox[0] = 5000
	if err := cocofile.WriteDatasetFile(ann, d); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "run")
	code, _, stderr := runCLI(detectArgs(data, out)...)
	if code == 0 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "outside its") {
		t.Errorf("box outside its image: exit %d, %q", code, stderr)
	}
	d.Annotations[0].BBox[0] = 1
	if err := cocofile.WriteDatasetFile(ann, d); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCLI(detectArgs(data, out)...)
	if code == 0 || !strings.Contains(stderr, "000000000001.jpg") {
		t.Errorf("corrupt image: exit %d, %q", code, stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("a failed fresh run left %s", out)
	}
	d.Annotations[0].BBox[0] = 5000
	if err := cocofile.WriteDatasetFile(ann, d); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(detectArgs(data, out, "--skip-bad")...)
	if code != 0 {
		t.Fatalf("--skip-bad: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, `"skipped":{"images":1,"boxes":1}`) {
		t.Errorf("--skip-bad counts: %s", stdout)
	}
}

// TestReproDynamicSparseRCNNTiny runs the tiny preset once: the four rows,
// and the easy variant generated under --out.
func TestReproDynamicSparseRCNNTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("four trainings")
	}
	out := t.TempDir()
	code, stdout, stderr := runCLI("repro", "dynamic-sparse-rcnn", "--preset", "tiny", "--seeds", "1", "--out", out, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	rep := decodeReport(t, stdout)
	rows := rep["rows"].([]any)
	if len(rows) != 4 || len(rep["trainings"].([]any)) != 4 || rep["easy"] != true {
		t.Fatalf("report %v", rep)
	}
	for i, name := range []string{"sparse-rcnn", "+dla", "+dpg", "+dla+dpg"} {
		if r := rows[i].(map[string]any); r["name"] != name || len(r["AP50"].([]any)) != 1 {
			t.Errorf("row %d: %v", i, r)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "data-12-easy", "annotations", "instances_val2017.json")); err != nil {
		t.Error(err)
	}
}
