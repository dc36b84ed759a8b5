package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestHPSSearchTrainEvalDetectATSS searches two trials, then two more in
// a second process on the same SQLite study (no trial repeated), trains
// ATSS with the searched values, evaluates and predicts with it.
func TestHPSSearchTrainEvalDetectATSS(t *testing.T) {
	data := filepath.Join(t.TempDir(), "coco")
	if code, _, stderr := runCLI("data", "synth", "detection", "--size", "6", "--out", data); code != 0 {
		t.Fatalf("synth: exit %d: %s", code, stderr)
	}
	dir := t.TempDir()
	best := filepath.Join(dir, "best.json")
	search := func(trials string) map[string]any {
		t.Helper()
		code, stdout, stderr := runCLI("hps", "search", "--data", data, "--trials", trials, "--storage", "sqlite:"+filepath.Join(dir, "s.db"),
			"--study", "s", "--out", best, "--epochs", "1", "--size", "64", "--width", "32", "--batch", "2", "--startup", "2", "--workers", "2", "--json")
		if code != 0 {
			t.Fatalf("hps search: exit %d: %s", code, stderr)
		}
		return decodeReport(t, stdout)
	}
	if rep := search("2"); rep["complete"].(float64) != 2 {
		t.Fatalf("first search: %v", rep)
	}
	rep := search("3")
	if rep["complete"].(float64) != 1 || rep["best"].(map[string]any)["trials"].(float64) != 3 {
		t.Fatalf("resumed search ran %v trials, study has %v (want 1 and 3)", rep["complete"], rep["best"])
	}
	out := t.TempDir()
	args := []string{"train", "detect", "--data", data, "--model", "atss-r18", "--size", "64", "--batch", "2", "--epochs", "1",
		"--width", "32", "--workers", "2", "--out", out, "--json"}
	code, stdout, stderr := runCLI(append(args, "--assign", "hps", "--hps", best)...)
	if code != 0 {
		t.Fatalf("train: exit %d: %s", code, stderr)
	}
	tr := decodeReport(t, stdout)
	if tr["assign"] != "hps" || len(tr["hps_k"].([]any)) != 3 {
		t.Errorf("report %v", tr)
	}
	ckpt := filepath.Join(out, "checkpoint.safetensors")
	code, stdout, stderr = runCLI("eval", "detect", "--checkpoint", ckpt, "--data", data, "--json")
	if code != 0 {
		t.Fatalf("eval: exit %d: %s", code, stderr)
	}
	if ev := decodeReport(t, stdout); ev["AP"] != tr["AP"] {
		t.Errorf("eval AP %v, training's %v", ev["AP"], tr["AP"])
	}
	img := filepath.Join(data, "val2017", "000000000001.jpg")
	if code, _, stderr = runCLI("predict", "detect", "--checkpoint", ckpt, "--out", t.TempDir(), "--score", "0", "--json", img); code != 0 {
		t.Fatalf("predict: exit %d: %s", code, stderr)
	}
	for _, c := range []struct {
		more []string
		want string
	}{
		{[]string{"--assign", "dla"}, "assign must be atss, topk, simota, hps"},
		{[]string{"--k", "3"}, "--k goes with an ATSS model and --assign topk"},
		{[]string{"--assign", "topk"}, "--assign topk needs --k"},
		{[]string{"--assign", "hps"}, "--assign hps needs --hps FILE"},
		{[]string{"--assign", "hps", "--hps", filepath.Join(dir, "none.json")}, "no such file"},
	} {
		code, _, stderr := runCLI(append(args, c.more...)...)
		if code == 0 || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, %q (want %q)", c.more, code, stderr, c.want)
		}
	}
}
