package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	b, err := os.ReadFile(filepath.Join(reidCase, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want struct {
		MAP float64   `json:"mAP"`
		CMC []float64 `json:"cmc"`
	}
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
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
		if code == 0 || stdout.Len() != 0 || strings.Count(stderr.String(), "argus:") != 1 || strings.Contains(stderr.String(), "goroutine") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, stdout.String(), stderr.String())
		}
	}
}
