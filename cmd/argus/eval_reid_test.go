package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"argus/checkpoint"
	"argus/internal/golden"
	"argus/reid"
	"argus/tensor"
)

const reidCase = "../../reid/testdata/golden/case_0003"

func TestEvalReidJSON(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"eval", "reid", "--features", filepath.Join(reidCase, "case.json"), "--json"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var got map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout.String())
	}
	var want struct {
		MAP float64   `json:"mAP"`
		CMC []float64 `json:"cmc"`
	}
	golden.Load(t, filepath.Join(reidCase, "expected.json"), &want)
	if m := got["mAP"].(float64); math.Abs(m-want.MAP) > 1e-9 {
		t.Errorf("mAP %v, want %v", m, want.MAP)
	}
	for _, k := range []string{"mINP", "rank1", "rank5", "rank10", "cmc"} {
		if _, ok := got[k]; !ok {
			t.Errorf("no %q in %s", k, stdout.String())
		}
	}
	if r1 := got["rank1"].(float64); math.Abs(r1-want.CMC[0]) > 1e-6 {
		t.Errorf("rank1 %v, want %v", r1, want.CMC[0])
	}
	if n := len(got["cmc"].([]any)); n != 50 {
		t.Errorf("%d CMC ranks, want 50", n)
	}
}

func TestEvalReidRerank(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"eval", "reid", "--features", filepath.Join(reidCase, "case.json"), "--rerank", "--k1", "20", "--json"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var got struct {
		MAP    float64 `json:"mAP"`
		Rerank bool    `json:"rerank"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil || !got.Rerank || !(got.MAP > 0 && got.MAP <= 1) {
		t.Errorf("got %+v, %v from %s", got, err, stdout.String())
	}
}

func TestEvalReidBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"query_features": [[1, 2]], "query_pids": [1], "query_camids": [0], "gallery_features": [[1]], "gallery_pids": [1], "gallery_camids": [1]}`), 0o644)
	for _, args := range [][]string{
		{"eval", "reid"},
		{"eval", "reid", "--features", filepath.Join(dir, "missing.json")},
		{"eval", "reid", "--features", bad},
		{"eval", "reid", "--features", filepath.Join(reidCase, "case.json"), "--rerank", "--k1", "0"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(args, &stdout, &stderr)
		if code == 0 || stdout.Len() != 0 || strings.Count(stderr.String(), "argus eval reid: ") != 1 || strings.Contains(stderr.String(), "goroutine") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, stdout.String(), stderr.String())
		}
	}
}

// TestEvalReidSafetensors evaluates the same case stored as safetensors.
func TestEvalReidSafetensors(t *testing.T) {
	fs, err := reid.ReadFeatureFile(filepath.Join(reidCase, "case.json"))
	if err != nil {
		t.Fatal(err)
	}
	f := checkpoint.NewFile()
	ids := func(v []int) checkpoint.Entry {
		out := make([]int64, len(v))
		for i, x := range v {
			out[i] = int64(x)
		}
		return checkpoint.Int64Entry(out, len(out))
	}
	for name, e := range map[string]checkpoint.Entry{
		"query_features":   checkpoint.Float32Entry(tensor.FromSlice(fs.Query, fs.NumQuery(), fs.Dim)),
		"gallery_features": checkpoint.Float32Entry(tensor.FromSlice(fs.Gallery, fs.NumGallery(), fs.Dim)),
		"query_pids":       ids(fs.QueryPids),
		"query_camids":     ids(fs.QueryCams),
		"gallery_pids":     ids(fs.GalleryPids),
		"gallery_camids":   ids(fs.GalleryCams),
	} {
		if err := f.Add(name, e); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "features.safetensors")
	if err := checkpoint.WriteFile(path, f); err != nil {
		t.Fatal(err)
	}
	var a, b, stderr bytes.Buffer
	if code := run([]string{"eval", "reid", "--features", path, "--json"}, &a, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if code := run([]string{"eval", "reid", "--features", filepath.Join(reidCase, "case.json"), "--json"}, &b, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var ra, rb map[string]any
	json.Unmarshal(a.Bytes(), &ra)
	json.Unmarshal(b.Bytes(), &rb)
	if ra["mAP"] != rb["mAP"] || ra["mINP"] != rb["mINP"] || ra["rank1"] != rb["rank1"] {
		t.Errorf("safetensors %v, JSON %v", ra, rb)
	}
}
