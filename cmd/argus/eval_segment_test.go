package main

import (
	"bytes"
	"encoding/json"
	"image"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"argus/data/imageio"
	"argus/internal/golden"
)

const segCases = "../../segmetric/testdata"

// segExpected is the part of a golden case's expected.json (written by
// tools/golden/segment/gen.py) that the command prints.
type segExpected struct {
	NumClasses      int            `json:"num_classes"`
	IgnoreIndex     int            `json:"ignore_index"`
	ReduceZeroLabel bool           `json:"reduce_zero_label"`
	LabelMap        map[string]int `json:"label_map"`
	NumImages       int            `json:"num_images"`
	AAcc            *float64       `json:"aAcc"`
	MIoU            *float64       `json:"mIoU"`
	MAcc            *float64       `json:"mAcc"`
	MDice           *float64       `json:"mDice"`
	IoU             []*float64     `json:"IoU"`
	Acc             []*float64     `json:"Acc"`
	Dice            []*float64     `json:"Dice"`
}

// segArgs returns the command line that evaluates a golden case.
func segArgs(dir string, e *segExpected) []string {
	args := []string{"eval", "segment", "--pred", filepath.Join(dir, "pred"), "--gt", filepath.Join(dir, "gt"),
		"--num-classes", strconv.Itoa(e.NumClasses), "--ignore-index", strconv.Itoa(e.IgnoreIndex)}
	if e.ReduceZeroLabel {
		args = append(args, "--reduce-zero-label")
	}
	if e.LabelMap != nil {
		args = append(args, "--label-map", filepath.Join(dir, "label_map.json"))
	}
	return args
}

func TestEvalSegmentGolden(t *testing.T) {
	cases, err := filepath.Glob(filepath.Join(segCases, "*", "expected.json"))
	if err != nil || len(cases) < 9 {
		t.Fatalf("golden cases: %v, %v", cases, err)
	}
	for _, p := range cases {
		dir := filepath.Dir(p)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var want segExpected
			golden.Load(t, p, &want)
			var stdout, stderr bytes.Buffer
			if code := run(append(segArgs(dir, &want), "--json"), &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			// The printed object has exactly the golden file's values: the
			// JSON floats are the shortest that read back to the same bits.
			var got segExpected
			if err := json.Unmarshal(stdout.Bytes(), &got); err != nil || bytes.Count(stdout.Bytes(), []byte("\n")) != 1 {
				t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout.String())
			}
			if got.NumImages != want.NumImages || got.NumClasses != want.NumClasses {
				t.Errorf("%d images, %d classes, want %d, %d", got.NumImages, got.NumClasses, want.NumImages, want.NumClasses)
			}
			same := func(a, b *float64) bool { return (a == nil && b == nil) || (a != nil && b != nil && *a == *b) }
			for _, c := range []struct {
				name      string
				got, want *float64
			}{{"aAcc", got.AAcc, want.AAcc}, {"mIoU", got.MIoU, want.MIoU}, {"mAcc", got.MAcc, want.MAcc}, {"mDice", got.MDice, want.MDice}} {
				if !same(c.got, c.want) {
					t.Errorf("%s %v, want %v", c.name, show(c.got), show(c.want))
				}
			}
			for _, c := range []struct {
				name      string
				got, want []*float64
			}{{"IoU", got.IoU, want.IoU}, {"Acc", got.Acc, want.Acc}, {"Dice", got.Dice, want.Dice}} {
				if !slices.EqualFunc(c.got, c.want, same) {
					t.Errorf("%s differs from the golden file", c.name)
				}
			}
		})
	}
}

func show(p *float64) any {
	if p == nil {
		return "null"
	}
	return *p
}

func TestEvalSegmentText(t *testing.T) {
	var want segExpected
	dir := filepath.Join(segCases, "absent")
	golden.Load(t, filepath.Join(dir, "expected.json"), &want)
	var stdout, stderr bytes.Buffer
	if code := run(segArgs(dir, &want), &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	out := stdout.String()
	miou := strconv.FormatFloat(*want.MIoU, 'f', 4, 64)
	for _, s := range []string{"per class results:", "summary:", "mIoU", miou, "nan"} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
	if !strings.Contains(stderr.String(), "evaluated 2 images, 5 classes") {
		t.Errorf("stderr %q", stderr.String())
	}
}

// writeLabels writes a w×h 8-bit label PNG of value v.
func writeLabels(t *testing.T, path string, w, h int, v uint8) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	g := image.NewGray(image.Rect(0, 0, w, h))
	for i := range g.Pix {
		g.Pix[i] = v
	}
	if err := imageio.WriteFile(path, g); err != nil {
		t.Fatal(err)
	}
}

func TestEvalSegmentBadInput(t *testing.T) {
	dir := t.TempDir()
	// ok: a good pair in a subfolder; missing: a ground truth without its
	// prediction; extra: a prediction without its ground truth; size: a
	// pair of different sizes; corrupt: a prediction that is no PNG.
	mk := func(name string, files map[string][2]int) string {
		root := filepath.Join(dir, name)
		for rel, wh := range files {
			writeLabels(t, filepath.Join(root, rel), wh[0], wh[1], 1)
		}
		os.MkdirAll(filepath.Join(root, "pred"), 0o755)
		os.MkdirAll(filepath.Join(root, "gt"), 0o755)
		return root
	}
	ok := mk("ok", map[string][2]int{"pred/a/x.png": {4, 3}, "gt/a/x.png": {4, 3}})
	missing := mk("missing", map[string][2]int{"pred/a.png": {4, 3}, "gt/a.png": {4, 3}, "gt/sub/b.png": {4, 3}})
	extra := mk("extra", map[string][2]int{"pred/a.png": {4, 3}, "gt/a.png": {4, 3}, "pred/c.png": {4, 3}})
	size := mk("size", map[string][2]int{"pred/a.png": {4, 3}, "gt/a.png": {4, 3}, "pred/b.png": {5, 3}, "gt/b.png": {4, 3}})
	corrupt := mk("corrupt", map[string][2]int{"gt/a.png": {4, 3}})
	os.WriteFile(filepath.Join(corrupt, "pred", "a.png"), []byte("\x89PNG\r\n\x1a\nbroken"), 0o644)
	empty := mk("empty", nil)
	badMap := filepath.Join(dir, "bad_map.json")
	os.WriteFile(badMap, []byte(`{"1": 2, "1": 3}`), 0o644)
	okArgs := func(extra ...string) []string {
		return append([]string{"eval", "segment", "--pred", filepath.Join(ok, "pred"), "--gt", filepath.Join(ok, "gt")}, extra...)
	}
	pairArgs := func(root string) []string {
		return []string{"eval", "segment", "--pred", filepath.Join(root, "pred"), "--gt", filepath.Join(root, "gt"), "--num-classes", "2"}
	}
	for _, tt := range []struct {
		name string
		args []string
		want string // in the error line
	}{
		{"no flags", []string{"eval", "segment"}, "required flag"},
		{"no classes flag", okArgs(), `"num-classes" not set`},
		{"zero classes", okArgs("--num-classes", "0"), `"--num-classes" flag: must be 1 to 65536`},
		{"negative classes", okArgs("--num-classes", "-3"), `"--num-classes" flag: must be 1 to 65536`},
		{"too many classes", okArgs("--num-classes", "65537"), `"--num-classes" flag: must be 1 to 65536`},
		{"classes not a number", okArgs("--num-classes", "x"), "num-classes"},
		{"negative ignore", okArgs("--num-classes", "2", "--ignore-index", "-1"), `"--ignore-index" flag: must be 0 to 65535`},
		{"ignore over 16 bits", okArgs("--num-classes", "2", "--ignore-index", "65536"), `"--ignore-index" flag: must be 0 to 65535`},
		{"argument", append(okArgs("--num-classes", "2"), "extra"), "unknown command"},
		{"missing label map", okArgs("--num-classes", "2", "--label-map", filepath.Join(dir, "none.json")), "none.json"},
		{"bad label map", okArgs("--num-classes", "2", "--label-map", badMap), "bad_map.json"},
		{"missing pred folder", []string{"eval", "segment", "--pred", filepath.Join(dir, "nope"), "--gt", filepath.Join(ok, "gt"), "--num-classes", "2"}, "nope"},
		{"gt is a file", []string{"eval", "segment", "--pred", filepath.Join(ok, "pred"), "--gt", badMap, "--num-classes", "2"}, "bad_map.json"},
		{"empty gt", pairArgs(empty), "holds no .png files"},
		{"missing prediction", pairArgs(missing), filepath.Join(missing, "pred", "sub", "b.png")},
		{"extra prediction", pairArgs(extra), filepath.Join(extra, "pred", "c.png")},
		{"size mismatch", pairArgs(size), filepath.Join(size, "pred", "b.png")},
		{"corrupt prediction", pairArgs(corrupt), filepath.Join(corrupt, "pred", "a.png")},
	} {
		var stdout, stderr bytes.Buffer
		code := run(tt.args, &stdout, &stderr)
		line := stderr.String()
		if code == 0 || stdout.Len() != 0 || strings.Count(line, "\n") != 1 || !strings.HasPrefix(line, "argus eval segment: ") ||
			!strings.Contains(line, tt.want) || strings.Contains(line, "goroutine") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q, want one line with %q", tt.name, code, stdout.String(), line, tt.want)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run(okArgs("--num-classes", "2", "--json"), &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), `"aAcc":1`) {
		t.Errorf("good pair: exit %d, %s %s", code, stdout.String(), stderr.String())
	}
}
