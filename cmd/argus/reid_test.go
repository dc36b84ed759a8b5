package main

import (
	"path/filepath"
	"strings"
	"testing"

	"argus/reid"
)

// TestTrainExtractEvalPredictReid trains one tiny supervised epoch, then
// checks that eval reid --checkpoint repeats the training's evaluation,
// that extract writes what eval reid --features and cluster read, and that
// predict reid ranks the gallery.
func TestTrainExtractEvalPredictReid(t *testing.T) {
	data := filepath.Join(t.TempDir(), "reid")
	if code, _, stderr := runCLI("data", "synth", "reid", "--size", "8", "--out", data); code != 0 {
		t.Fatalf("synth: exit %d: %s", code, stderr)
	}
	out := t.TempDir()
	code, stdout, stderr := runCLI("train", "reid", "--data", data, "--model", "resnet18", "--epochs", "1", "--batch", "8",
		"--height", "32", "--width", "16", "--workers", "1", "--out", out, "--force", "--json")
	if code != 0 {
		t.Fatalf("train: exit %d: %s", code, stderr)
	}
	rep := decodeReport(t, stdout)
	for _, k := range []string{"mAP", "rank1", "rank5", "rank10", "mINP", "clusters", "epochs", "seconds", "checkpoint"} {
		if _, ok := rep[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	ckpt := rep["checkpoint"].(string)
	dom := filepath.Join(data, "domain_a")
	code, stdout, stderr = runCLI("eval", "reid", "--checkpoint", ckpt, "--data", dom, "--json")
	if code != 0 {
		t.Fatalf("eval: exit %d: %s", code, stderr)
	}
	ev := decodeReport(t, stdout)
	if ev["mAP"] != rep["mAP"] || ev["mINP"] != rep["mINP"] {
		t.Errorf("eval reid --checkpoint: mAP %v mINP %v, training's %v %v", ev["mAP"], ev["mINP"], rep["mAP"], rep["mINP"])
	}
	feats := filepath.Join(t.TempDir(), "qg.safetensors")
	if code, _, stderr = runCLI("extract", "--checkpoint", ckpt, "--data", dom, "--out", feats); code != 0 {
		t.Fatalf("extract: exit %d: %s", code, stderr)
	}
	fs, err := reid.ReadFeatureFile(feats)
	if err != nil || fs.Distance != reid.Cosine {
		t.Fatalf("extracted features: %v, %v", fs, err)
	}
	code, stdout, _ = runCLI("eval", "reid", "--features", feats, "--json")
	if code != 0 || decodeReport(t, stdout)["mAP"] != rep["mAP"] {
		t.Errorf("eval reid --features on extracted features: exit %d, %s", code, stdout)
	}
	train := filepath.Join(t.TempDir(), "train.safetensors")
	if code, _, stderr = runCLI("extract", "--checkpoint", ckpt, "--data", dom, "--split", "train", "--out", train); code != 0 {
		t.Fatalf("extract train: exit %d: %s", code, stderr)
	}
	if code, _, stderr = runCLI("cluster", "--features", train, "--k1", "5", "--k2", "2", "--json"); code != 0 {
		t.Errorf("cluster of extracted features: exit %d: %s", code, stderr)
	}
	matches, _ := filepath.Glob(filepath.Join(dom, "query", "*.jpg"))
	strip := filepath.Join(t.TempDir(), "strip.png")
	code, stdout, stderr = runCLI("predict", "reid", "--checkpoint", ckpt, "--query", matches[0], "--gallery", filepath.Join(dom, "bounding_box_test"),
		"--top", "3", "--out", strip, "--json")
	if code != 0 {
		t.Fatalf("predict: exit %d: %s", code, stderr)
	}
	if ranked := decodeReport(t, stdout)["ranked"].([]any); len(ranked) != 3 || !strings.Contains(ranked[0].(map[string]any)["image"].(string), "bounding_box_test") {
		t.Errorf("predict ranked %v", ranked)
	}
}
