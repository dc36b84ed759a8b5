package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"argus/internal/golden"
)

func TestEvalCOCO(t *testing.T) {
	dir := "../../coco/testdata/golden/case_0001"
	gt, dt := filepath.Join(dir, "gt.json"), filepath.Join(dir, "dt.json")
	var want map[string]float64
	golden.Load(t, filepath.Join(dir, "expected.json"), &want)
	png := filepath.Join(t.TempDir(), "pr.png")
	var out, errOut bytes.Buffer
	if code := run([]string{"eval", "coco", "--gt", gt, "--dt", dt, "--json", "--plot", png}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var got map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, out.String())
	}
	for k, w := range want {
		g, ok := got[k].(float64)
		if !ok || math.Abs(g-w) > 1e-12 {
			t.Errorf("%s = %v, want %v", k, got[k], w)
		}
	}
	if cats, ok := got["per_category"].([]any); !ok || len(cats) != 4 {
		t.Errorf("per_category = %v", got["per_category"])
	}
	if st, err := os.Stat(png); err != nil || st.Size() == 0 {
		t.Errorf("plot not written: %v", err)
	}

	out.Reset()
	if code := run([]string{"eval", "coco", "--gt", gt, "--dt", dt}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d", code)
	}
	text := out.String()
	if !strings.Contains(text, " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.149") ||
		strings.Count(text, "Average ") != 12 || !strings.Contains(text, "c93") {
		t.Errorf("summary:\n%s", text)
	}
}

func TestEvalCOCOBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`[{"image_id":1,"category_id":1,"bbox":[1,2,3],"score":1}]`), 0o644)
	gt := "../../coco/testdata/golden/case_0001/gt.json"
	cases := [][]string{
		{"eval", "coco", "--gt", gt},
		{"eval", "coco", "--gt", gt, "--dt", bad},
		{"eval", "coco", "--gt", gt, "--dt", filepath.Join(dir, "missing.json")},
		{"eval", "coco", "--gt", bad, "--dt", bad},
		{"eval", "coco", "--gt", gt, "--dt", "../../coco/testdata/golden/case_0001/dt.json", "--plot", filepath.Join(dir, "pr.svg")},
	}
	for _, args := range cases {
		var out, errOut bytes.Buffer
		code := run(args, &out, &errOut)
		lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
		if code == 0 || out.Len() != 0 || !strings.HasPrefix(lines[len(lines)-1], "argus eval coco: ") || strings.Contains(errOut.String(), "goroutine") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out.String(), errOut.String())
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("files left behind: %v", ents)
	}
}

func TestBenchCOCO(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"bench", "coco", "--images", "20", "--dets", "10", "--cats", "3", "--json"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var got map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, out.String())
	}
	if got["detections"] != 200.0 || got["images"] != 20.0 {
		t.Errorf("bench coco: %v", got)
	}
	out.Reset()
	if code := run([]string{"bench", "coco", "--images", "0"}, &out, &errOut); code == 0 {
		t.Error("--images 0 accepted")
	}
}
