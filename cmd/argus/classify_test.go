package main

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"argus/checkpoint"
)

// synthClassify writes the fine-grained synthetic set (20 classes, one
// training and one validation image each) for the classify tests.
func synthClassify(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "birds")
	if code, _, stderr := runCLI("data", "synth", "finegrained", "--size", "2", "--out", dir); code != 0 {
		t.Fatalf("synth: exit %d: %s", code, stderr)
	}
	return dir
}

// classifyArgs are a small, quick training run.
func classifyArgs(data, out string, more ...string) []string {
	return append([]string{"train", "classify", "--data", data, "--model", "resnet18", "--size", "32", "--batch", "8",
		"--epochs", "1", "--lr", "0.05", "--warmup", "0", "--workers", "2", "--out", out, "--json"}, more...)
}

func TestTrainEvalClassify(t *testing.T) {
	data, out := synthClassify(t), t.TempDir()
	code, stdout, stderr := runCLI(classifyArgs(data, out, "--aug", "deepimage", "--scales", "32,40")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	rep := decodeReport(t, stdout)
	for _, k := range []string{"top1", "top5", "epochs", "seconds", "images_per_second", "checkpoint"} {
		if _, ok := rep[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	if rep["classes"].(float64) != 20 || rep["train_images"].(float64) != 20 || rep["aug"] != "deepimage" || rep["epochs"].(float64) != 1 {
		t.Errorf("report %v", rep)
	}
	ckpt := filepath.Join(out, "checkpoint.safetensors")
	// The compiled evaluation at the training size repeats the training's
	// evaluation on the autograd engine.
	code, stdout, stderr = runCLI("eval", "classify", "--checkpoint", ckpt+","+ckpt, "--data", data, "--json")
	if code != 0 {
		t.Fatalf("eval: exit %d: %s", code, stderr)
	}
	ev := decodeReport(t, stdout)
	members := ev["members"].([]any)
	ens := ev["ensemble"].(map[string]any)
	m0 := members[0].(map[string]any)
	if len(members) != 2 || m0["top1"] != rep["top1"] || m0["top5"] != rep["top5"] || ens["top1"] != rep["top1"] ||
		math.Abs(m0["loss"].(float64)-rep["val_loss"].(float64)) > 1e-3*math.Max(1, rep["val_loss"].(float64)) {
		t.Errorf("eval %v, training's evaluation %v", ev, rep)
	}
	// Two scales and the flip: two scale entries, one member score.
	code, stdout, stderr = runCLI("eval", "classify", "--checkpoint", ckpt, "--data", data, "--scales", "32,48", "--tta", "flip", "--json")
	if code != 0 {
		t.Fatalf("eval at two scales: exit %d: %s", code, stderr)
	}
	ev = decodeReport(t, stdout)
	if sc := ev["members"].([]any)[0].(map[string]any)["scales"].([]any); len(sc) != 2 || sc[1].(map[string]any)["size"].(float64) != 48 {
		t.Errorf("scales %v", sc)
	}
	// Export rebuilds the 20-class network from the checkpoint's metadata.
	code, stdout, stderr = runCLI("export", "--checkpoint", ckpt, "--size", "32", "--out", filepath.Join(t.TempDir(), "m.onnx"), "--json")
	if code != 0 {
		t.Fatalf("export: exit %d: %s", code, stderr)
	}
	if shape := decodeReport(t, stdout)["output"].(map[string]any)["shape"].([]any); shape[1].(float64) != 20 {
		t.Errorf("exported output shape %v, want 20 classes", shape)
	}
}

func TestClassifyBadInput(t *testing.T) {
	data := synthClassify(t)
	ckptDir := t.TempDir()
	if code, _, stderr := runCLI(classifyArgs(data, ckptDir)...); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	ckpt := filepath.Join(ckptDir, "checkpoint.safetensors")
	classes, _ := os.ReadDir(filepath.Join(data, "train"))
	// A copy of the set with a class folder in val/ only, and one with an
	// unreadable image.
	extra := filepath.Join(t.TempDir(), "extra")
	os.CopyFS(extra, os.DirFS(data))
	os.MkdirAll(filepath.Join(extra, "val", "zz_new"), 0o755)
	os.WriteFile(filepath.Join(extra, "val", "zz_new", "a.jpg"), []byte("x"), 0o644)
	broken := filepath.Join(t.TempDir(), "broken")
	os.CopyFS(broken, os.DirFS(data))
	bad := filepath.Join(broken, "train", classes[3].Name(), "0000.jpg")
	os.WriteFile(bad, []byte("not a jpeg"), 0o644)
	cfgFile := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(cfgFile, []byte("deepimage:\n  lens_k: 0.4\n"), 0o644)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"deit", classifyArgs(data, t.TempDir(), "--model", "deit-tiny"), "argus train classify: model deit-tiny takes 224×224 images only, not 32×32"},
		{"aug", classifyArgs(data, t.TempDir(), "--aug", "heavy"), `unknown aug "heavy" (have standard, deepimage)`},
		{"scales", classifyArgs(data, t.TempDir(), "--scales", "32,x"), `invalid argument "32,x" for "--scales" flag: "x" is not a size in pixels`},
		{"small", classifyArgs(data, t.TempDir(), "--scales", "16"), "model resnet18 needs images of at least 32×32, not 16×16"},
		{"config", classifyArgs(data, t.TempDir(), "--config", cfgFile), "deepimage lens_k must be in [0, 1/3), got 0.4"},
		{"val only class", classifyArgs(extra, t.TempDir()), "class folder zz_new is in val/ but not in train/"},
		{"unreadable", classifyArgs(broken, t.TempDir()), bad},
		{"no data", classifyArgs(filepath.Join(t.TempDir(), "none"), t.TempDir()), "no such file or directory"},
		{"eval tta", []string{"eval", "classify", "--checkpoint", ckpt, "--data", data, "--tta", "five"}, `unknown --tta "five" (want none or flip)`},
		{"eval other classes", []string{"eval", "classify", "--checkpoint", ckpt, "--data", extra}, "class folder zz_new is in val/ but not in train/"},
		{"eval missing", []string{"eval", "classify", "--checkpoint", ckpt + ",nothere.safetensors", "--data", data}, "nothere.safetensors"},
		{"eval small", []string{"eval", "classify", "--checkpoint", ckpt, "--data", data, "--scales", "8"}, "--scales: model resnet18 needs images of at least 32×32"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(tc.args...)
			lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
			last := lines[len(lines)-1]
			if code == 0 || stdout != "" || !strings.Contains(last, tc.want) || !strings.HasPrefix(last, "argus "+tc.args[0]+" classify: ") ||
				strings.Contains(stderr, "goroutine") {
				t.Errorf("exit %d, stdout %q, stderr %q, want one error line with %q", code, stdout, stderr, tc.want)
			}
		})
	}
}

// TestTrainClassifyInterrupt: SIGINT after the first checkpoint stops the
// run with a resumable checkpoint, which a resumed run continues.
func TestTrainClassifyInterrupt(t *testing.T) {
	data, out := synthClassify(t), t.TempDir()
	ckpt := filepath.Join(out, "checkpoint.safetensors")
	stdout, stderr := interruptAfter(t, ckpt, classifyArgs(data, out, "--epochs", "100", "--aug", "deepimage")...)
	rep := decodeReport(t, stdout.String())
	lines := strings.Split(strings.TrimRight(stderr.String(), "\n"), "\n")
	if line := lines[len(lines)-1]; rep["stopped"] != "interrupt" || !strings.HasPrefix(line, "argus train classify: interrupted after step ") ||
		!strings.HasSuffix(line, "; continue with --resume "+ckpt) {
		t.Errorf("report %v, error line %q", rep, line)
	}
	f, err := checkpoint.ReadFile(ckpt)
	if err != nil || f.Metadata[checkpoint.MetaClasses] != "20" {
		t.Fatalf("checkpoint after the interrupt: %v, metadata %v", err, f.Metadata[checkpoint.MetaClasses])
	}
	epochs := int(rep["epochs"].(float64)) + 1
	code, resumed, errs := runCLI("train", "classify", "--data", data, "--resume", ckpt, "--epochs", strconv.Itoa(epochs), "--json")
	if code != 0 {
		t.Fatalf("resume: exit %d: %s", code, errs)
	}
	if r := decodeReport(t, resumed); int(r["epochs"].(float64)) != epochs || r["stopped"] != nil || r["aug"] != "deepimage" {
		t.Errorf("resumed report %v", r)
	}
	code, _, errs = runCLI("train", "classify", "--data", data, "--resume", ckpt, "--epochs", strconv.Itoa(epochs+1), "--aug", "standard")
	if code == 0 || !strings.Contains(errs, "cannot change aug (deepimage in the checkpoint, standard now)") {
		t.Errorf("resume with another aug: exit %d, %q", code, errs)
	}
}

// TestDataShowDeepImage previews the deepimage augmentation with the
// parameters of a classify config: the defaults differ from a config that
// turns every augmentation off, and a bad config is one error line.
func TestDataShowDeepImage(t *testing.T) {
	data, dir := synthClassify(t), t.TempDir()
	none := filepath.Join(dir, "none.yaml")
	os.WriteFile(none, []byte("flip: 0\ncrop_min_area: 1\ndeepimage: {rotate_p: 0, lens_p: 0, color_cast_p: 0, vignette_p: 0}\n"), 0o644)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("deepimage: {vignette_p: 3}\n"), 0o644)
	var grids [][]byte
	for i, args := range [][]string{{}, {"--config", none}} {
		out := filepath.Join(dir, strconv.Itoa(i)+".png")
		code, stdout, stderr := runCLI(append([]string{"data", "show", "--data", data, "--aug", "deepimage", "--size", "48", "--n", "4", "--out", out, "--json"}, args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		if rep := decodeReport(t, stdout); rep["samples"].(float64) != 4 {
			t.Errorf("report %v", rep)
		}
		b, _ := os.ReadFile(out)
		grids = append(grids, b)
	}
	if bytes.Equal(grids[0], grids[1]) {
		t.Error("the default augmentation and none at all give the same grid")
	}
	code, _, stderr := runCLI("data", "show", "--data", data, "--aug", "deepimage", "--config", bad, "--out", filepath.Join(dir, "b.png"))
	if code == 0 || !strings.Contains(stderr, "deepimage vignette_p must be in [0, 1], got 3") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Errorf("bad config: exit %d, %q", code, stderr)
	}
}

// TestReproDeepImageTiny runs the reproduction's whole pipeline on its tiny
// preset with one seed: four rows of top-1 in [0, 1], a standard deviation
// that is null for one seed, three trainings.
func TestReproDeepImageTiny(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := runCLI("repro", "deep-image", "--preset", "tiny", "--seeds", "1", "--out", out, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	rep := decodeReport(t, stdout)
	rows, trainings := rep["rows"].([]any), rep["trainings"].([]any)
	if len(rows) != 4 || len(trainings) != 3 || rep["classes"].(float64) != 20 {
		t.Fatalf("report %v", rep)
	}
	for _, r := range rows {
		r := r.(map[string]any)
		if v := r["top1_mean"].(float64); v < 0 || v > 1 || r["top1_std"] != nil || len(r["top1"].([]any)) != 1 {
			t.Errorf("row %v", r)
		}
	}
	if code, _, stderr := runCLI("repro", "deep-image", "--preset", "huge"); code == 0 || !strings.Contains(stderr, `unknown preset "huge" (have medium, small, tiny)`) {
		t.Errorf("unknown preset: exit %d, %q", code, stderr)
	}
}
