package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDataSynthAndShow(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		task, size string
		show       string // dataset folder under the output to preview
	}{
		{"detection", "4", ""},
		{"reid", "4", "domain_b"},
		{"segmentation", "5", "camvid"},
		{"finegrained", "2", ""},
	}
	for _, c := range cases {
		t.Run(c.task, func(t *testing.T) {
			out := filepath.Join(dir, c.task)
			var so, se bytes.Buffer
			if code := run([]string{"data", "synth", c.task, "--out", out, "--seed", "2", "--size", c.size, "--json"}, &so, &se); code != 0 {
				t.Fatalf("synth exit %d: %s", code, se.String())
			}
			var sum struct {
				Task   string `json:"task"`
				Images int    `json:"images"`
			}
			if err := json.Unmarshal(so.Bytes(), &sum); err != nil || sum.Task != c.task || sum.Images == 0 {
				t.Fatalf("summary %q: %v", so.String(), err)
			}
			png := filepath.Join(dir, c.task+".png")
			so.Reset()
			if code := run([]string{"data", "show", "--data", filepath.Join(out, c.show), "--out", png, "--n", "3", "--size", "48", "--json"}, &so, &se); code != 0 {
				t.Fatalf("show exit %d: %s", code, se.String())
			}
			var shown struct {
				Samples int    `json:"samples"`
				Format  string `json:"format"`
			}
			if err := json.Unmarshal(so.Bytes(), &shown); err != nil || shown.Samples != 3 {
				t.Fatalf("show summary %q: %v", so.String(), err)
			}
			if b, err := os.ReadFile(png); err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
				t.Fatalf("grid not written: %v", err)
			}
		})
	}
}

func TestDataErrors(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "bad.json"), []byte("{"), 0o644)
	os.MkdirAll(filepath.Join(dir, "coco", "annotations"), 0o755)
	os.WriteFile(filepath.Join(dir, "coco", "annotations", "instances_train2017.json"), []byte(`{"images": 3}`), 0o644)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"data", "synth", "cats", "--out", filepath.Join(dir, "x")}, "unknown task"},
		{[]string{"data", "synth", "reid"}, `required flag(s) "out" not set`},
		{[]string{"data", "synth", "reid", "--out", dir}, "already exists"},
		{[]string{"data", "synth", "reid", "--out", filepath.Join(dir, "y"), "--size", "3"}, "size"},
		{[]string{"data", "show", "--data", dir, "--out", filepath.Join(dir, "g.png"), "--format", "voc"}, "unknown format"},
		{[]string{"data", "show", "--data", filepath.Join(dir, "coco"), "--out", filepath.Join(dir, "g.png")}, "instances_train2017.json"},
		{[]string{"data", "show", "--data", dir, "--out", filepath.Join(dir, "g.jpg")}, ".png"},
	}
	for _, c := range cases {
		var so, se bytes.Buffer
		code := run(c.args, &so, &se)
		if code == 0 || !strings.Contains(se.String(), c.want) || strings.Count(strings.TrimSpace(se.String()), "\n") != 0 {
			t.Errorf("%v: exit %d, stderr %q (want one line with %q)", c.args, code, se.String(), c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "y")); err == nil {
		t.Fatal("a failed synth left its folder")
	}
}

func TestDataShowCorrupt(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "fg")
	var so, se bytes.Buffer
	if code := run([]string{"data", "synth", "finegrained", "--out", out, "--size", "2"}, &so, &se); code != 0 {
		t.Fatal(se.String())
	}
	classes, _ := os.ReadDir(filepath.Join(out, "train"))
	bad := filepath.Join(out, "train", classes[0].Name(), "0000.jpg")
	os.WriteFile(bad, []byte("\xff\xd8\xff\xe0 truncated"), 0o644)
	args := []string{"data", "show", "--data", out, "--out", filepath.Join(dir, "g.png"), "--n", "20", "--size", "32"}
	se.Reset()
	if code := run(args, &so, &se); code == 0 || !strings.Contains(se.String(), "0000.jpg") {
		t.Fatalf("corrupt image: exit %d, %q", code, se.String())
	}
	so.Reset()
	if code := run(append(args, "--skip-bad", "--json"), &so, &se); code != 0 {
		t.Fatalf("--skip-bad: %s", se.String())
	}
	var sum struct{ Samples, Skipped int }
	if err := json.Unmarshal(so.Bytes(), &sum); err != nil || sum.Skipped != 1 || sum.Samples != 19 {
		t.Fatalf("summary %s: %v", so.String(), err)
	}
}
