package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"argus/coco"
	"argus/data/cocofile"
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

// TestBenchCOCOBounds: sizes that would grow without bound are refused at
// once, naming the flag, before anything is generated.
func TestBenchCOCOBounds(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--images", "1000000000000"}, `invalid argument "1000000000000" for "--images" flag: must be 1 to 200000`},
		{[]string{"--images", "1e12"}, `invalid argument "1e12" for "--images" flag: must be 1 to 200000`},
		{[]string{"--dets", "-1"}, `invalid argument "-1" for "--dets" flag: must be 0 to 1000`},
		{[]string{"--cats", "0"}, `invalid argument "0" for "--cats" flag: must be 1 to 10000`},
		{[]string{"--images", "200000", "--dets", "1000"}, "--images 200000 x --dets 1000 is 200000000 detections, more than the 5000000 this benchmark holds in memory"},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		code := run(append([]string{"bench", "coco"}, tt.args...), &out, &errOut)
		if code == 0 || errOut.String() != "argus bench coco: "+tt.want+"\n" || out.Len() != 0 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q, want the one line %q", tt.args, code, out.String(), errOut.String(), tt.want)
		}
	}
}

// TestEvalCOCOPlotOverInput: --plot may not replace the files evaluated.
func TestEvalCOCOPlotOverInput(t *testing.T) {
	dir := t.TempDir()
	gt, dt := filepath.Join(dir, "gt.png"), filepath.Join(dir, "dt.png")
	for src, dst := range map[string]string{"../../coco/testdata/golden/case_0001/gt.json": gt, "../../coco/testdata/golden/case_0001/dt.json": dt} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(dst, b, 0o644)
	}
	for _, plot := range []string{gt, dt} {
		before, _ := os.ReadFile(plot)
		var out, errOut bytes.Buffer
		code := run([]string{"eval", "coco", "--gt", gt, "--dt", dt, "--plot", plot}, &out, &errOut)
		if code == 0 || !strings.Contains(errOut.String(), "--plot "+plot+" is also the --") {
			t.Errorf("--plot %s: exit %d, stderr %q", plot, code, errOut.String())
		}
		if after, _ := os.ReadFile(plot); !bytes.Equal(before, after) {
			t.Errorf("%s was overwritten", plot)
		}
	}
}

// TestPRLegendOutsideCurves: the legend of pr.png lies beside the data
// area, not over the curves, and inside the image.
func TestPRLegendOutsideCurves(t *testing.T) {
	dir := "../../coco/testdata/golden/case_0001"
	gt, err := cocofile.ReadDatasetFile(filepath.Join(dir, "gt.json"))
	if err != nil {
		t.Fatal(err)
	}
	dt, err := cocofile.ReadResultsFile(filepath.Join(dir, "dt.json"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := coco.Evaluate(gt, dt)
	if err != nil {
		t.Fatal(err)
	}
	p, leg, err := prPlot(e)
	if err != nil {
		t.Fatal(err)
	}
	c, err := draw.NewFormattedCanvas(7*vg.Inch, 4.5*vg.Inch, "png")
	if err != nil {
		t.Fatal(err)
	}
	dc := draw.New(c)
	data, box := prLayout(p, leg, dc)
	if box.Min.X < data.Max.X {
		t.Errorf("legend %v overlaps the data area %v", box, data)
	}
	if box.Min.X < dc.Min.X || box.Max.X > dc.Max.X || box.Min.Y < dc.Min.Y || box.Max.Y > dc.Max.Y {
		t.Errorf("legend %v leaves the image %v", box, dc.Rectangle)
	}
	if data.Size().X < dc.Size().X/2 {
		t.Errorf("data area %v is less than half the image's width", data)
	}
}
