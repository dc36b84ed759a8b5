package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"argus/data/synth"
)

// TestTrainEvalPredictSegment trains two CDCL iterations on two tiny
// synthetic datasets, then evaluates, predicts and exports with the
// checkpoint, and checks the commands' bad-input lines.
func TestTrainEvalPredictSegment(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "streets")
	if _, err := synth.Segmentation(data, synth.Options{Seed: 1, Size: 4, Workers: 2}); err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(dir, "run")
	out, e, code := runArgus(t, "train", "segment", "--data", data, "--datasets", "cityscapes,camvid", "--iters", "2", "--batch", "2",
		"--crop", "32", "--limit", "2", "--workers", "2", "--eval-scale", "64", "--out", run, "--json")
	if code != 0 {
		t.Fatalf("train segment: %s", e)
	}
	var rep segmentTrainReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %q", err, out)
	}
	if rep.Iters != 2 || rep.Method != "cdcl" || len(rep.Datasets) != 2 || rep.Checkpoint == "" {
		t.Fatalf("report %+v", rep)
	}
	if s := rep.Datasets["camvid"]; !(s.MIoU >= 0 && s.MIoU <= 1 && s.AAcc >= 0 && s.AAcc <= 1) {
		t.Errorf("camvid scores %+v", s)
	}
	out, e, code = runArgus(t, "eval", "segment", "--checkpoint", rep.Checkpoint, "--data", data, "--dataset", "camvid", "--limit", "1", "--scale", "64", "--json")
	if code != 0 {
		t.Fatalf("eval segment: %s", e)
	}
	var met map[string]any
	if err := json.Unmarshal([]byte(out), &met); err != nil {
		t.Fatalf("%v: %q", err, out)
	}
	for _, k := range []string{"aAcc", "mIoU", "mAcc", "mDice", "IoU", "Acc", "Dice"} {
		if _, ok := met[k]; !ok {
			t.Errorf("eval segment --json has no %s: %s", k, out)
		}
	}
	if n := len(met["IoU"].([]any)); n != 11 {
		t.Errorf("%d per-class IoUs for camvid's 11 classes", n)
	}
	img := filepath.Join(data, "camvid", "val", "seq01_00003.png")
	pred := filepath.Join(dir, "pred")
	if _, e, code = runArgus(t, "predict", "segment", "--checkpoint", rep.Checkpoint, "--dataset", "camvid", "--out", pred, "--scale", "64", img, "--json"); code != 0 {
		t.Fatalf("predict segment: %s", e)
	}
	for _, f := range []string{"seq01_00003.png", "seq01_00003_overlay.png"} {
		if _, err := os.Stat(filepath.Join(pred, f)); err != nil {
			t.Error(err)
		}
	}
	gt := filepath.Join(dir, "gt")
	onnxPath := filepath.Join(dir, "camvid.onnx")
	out, e, code = runArgus(t, "export", "--checkpoint", rep.Checkpoint, "--dataset", "camvid", "--size", "48", "--out", onnxPath, "--json")
	if code != 0 {
		t.Fatalf("export: %s", e)
	}
	if !strings.Contains(out, `"dataset":"camvid"`) || strings.Contains(out, "BatchNormalization") {
		t.Errorf("export of camvid's network: %s", out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"train", "segment", "--data", data, "--datasets", "cityscapes,bdd", "--out", filepath.Join(dir, "r2")}, `dataset "bdd" is not in`},
		{[]string{"train", "segment", "--data", data, "--datasets", "cityscapes,camvid", "--method", "single", "--out", filepath.Join(dir, "r3")}, "method single trains one dataset"},
		{[]string{"train", "segment", "--data", data, "--datasets", "camvid", "--batch", "1", "--out", filepath.Join(dir, "r4")}, "--batch"},
		{[]string{"eval", "segment", "--checkpoint", rep.Checkpoint, "--data", data, "--dataset", "coarse"}, `not trained on dataset "coarse"`},
		{[]string{"eval", "segment", "--checkpoint", rep.Checkpoint, "--dataset", "camvid"}, "--data is required"},
		{[]string{"eval", "segment", "--gt", gt}, `required flag "pred"`},
		{[]string{"export", "--checkpoint", rep.Checkpoint, "--size", "48", "--out", onnxPath}, "give --dataset (one of cityscapes, camvid)"},
		{[]string{"predict", "segment", "--checkpoint", rep.Checkpoint, "--dataset", "camvid", "--out", pred, filepath.Join(dir, "none.png")}, "none.png"},
	} {
		_, e, code := runArgus(t, c.args...)
		if code == 0 || !strings.Contains(e, c.want) || strings.Count(strings.TrimSpace(e), "\n") > 0 && !strings.Contains(e, "argus") {
			t.Errorf("%v: exit %d, %q (want %q)", c.args, code, e, c.want)
		}
	}
}

func TestBenchTrainStepSegment(t *testing.T) {
	out, e, code := runArgus(t, "bench", "train-step", "--model", "pspnet-r18", "--method", "cdcl", "--datasets", "2", "--batch", "2",
		"--size", "32", "--iters", "1", "--warmup", "0", "--json")
	if code != 0 {
		t.Fatalf("bench train-step: %s", e)
	}
	if !strings.Contains(out, `"model":"pspnet-r18"`) || !strings.Contains(out, `"classes":19`) {
		t.Errorf("report %s", out)
	}
	if _, e, code := runArgus(t, "bench", "train-step", "--model", "pspnet-r18", "--method", "single", "--datasets", "3", "--size", "32"); code == 0 || !strings.Contains(e, "--method single") {
		t.Errorf("single over 3 datasets: %q", e)
	}
}

// TestReproCDCLTiny runs the reproduction's pipeline at the tiny preset
// and checks its report: three methods, a score per dataset, the same
// FLOPs for every method's network of a dataset.
func TestReproCDCLTiny(t *testing.T) {
	out, e, code := runArgus(t, "repro", "cdcl", "--preset", "tiny", "--seeds", "1", "--out", filepath.Join(t.TempDir(), "r"), "--json")
	if code != 0 {
		t.Fatalf("repro cdcl: %s", e)
	}
	var rep cdclReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %q", err, out)
	}
	if len(rep.Rows) != 3 || len(rep.Trainings) != 5 {
		t.Fatalf("%d rows, %d trainings", len(rep.Rows), len(rep.Trainings))
	}
	for _, d := range rep.Datasets {
		single := rep.Rows[0].Datasets[d]
		for _, r := range rep.Rows {
			sc := r.Datasets[d]
			if len(sc.MIoU) != 1 || !(sc.MIoUMean >= 0 && sc.MIoUMean <= 1) {
				t.Errorf("%s %s: mIoU %v", r.Method, d, sc.MIoU)
			}
			if sc.FLOPs == 0 || sc.FLOPs != single.FLOPs {
				t.Errorf("%s %s: %d FLOPs, single-dataset %d", r.Method, d, sc.FLOPs, single.FLOPs)
			}
		}
	}
}
