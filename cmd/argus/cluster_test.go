package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"argus/internal/golden"
)

func TestClusterCommand(t *testing.T) {
	out := filepath.Join(t.TempDir(), "labels.json")
	var stdout, stderr bytes.Buffer
	args := []string{"cluster", "--features", "../../reid/rerank/testdata/k30.json", "--eps", "0.6", "--min-samples", "4", "--out", out, "--json"}
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var sum clusterSummary
	if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
		t.Fatalf("stdout: %v\n%s", err, stdout.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var labels clusterLabels
	if err := json.Unmarshal(b, &labels); err != nil {
		t.Fatal(err)
	}
	// The golden file holds sklearn's labels for the same features.
	var want struct {
		Labels []int `json:"dbscan_labels"`
	}
	golden.Load(t, "../../reid/rerank/testdata/k30.json", &want)
	if len(labels.Labels) != len(want.Labels) || sum.NumClusters != labels.NumClusters {
		t.Fatalf("%d labels, %d/%d clusters", len(labels.Labels), sum.NumClusters, labels.NumClusters)
	}
	for i := range want.Labels {
		if labels.Labels[i] != want.Labels[i] {
			t.Fatalf("label %d: %d, want %d", i, labels.Labels[i], want.Labels[i])
		}
	}
	total := labels.NumOutliers
	for _, c := range labels.Counts {
		total += c
	}
	if total != len(labels.Labels) {
		t.Errorf("counts add up to %d, want %d", total, len(labels.Labels))
	}
}

func TestClusterBadInput(t *testing.T) {
	dir := t.TempDir()
	ragged := filepath.Join(dir, "ragged.json")
	os.WriteFile(ragged, []byte(`{"features": [[1, 2], [3]]}`), 0o644)
	out := filepath.Join(dir, "labels.json")
	for _, args := range [][]string{
		{"cluster"},
		{"cluster", "--features", ragged, "--out", out},
		{"cluster", "--features", "../../reid/rerank/testdata/k30.json", "--distance", "manhattan", "--out", out},
		{"cluster", "--features", "../../reid/rerank/testdata/k30.json", "--eps", "1.5", "--out", out},
		{"cluster", "--features", "../../reid/rerank/testdata/k30.json", "--min-samples", "0", "--out", out},
	} {
		var stdout, stderr bytes.Buffer
		code := run(args, &stdout, &stderr)
		if code == 0 || stdout.Len() != 0 || strings.Count(stderr.String(), "argus cluster: ") != 1 || strings.Contains(stderr.String(), "goroutine") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, stdout.String(), stderr.String())
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a failed run left a labels file")
	}
}

func TestClusterEuclideanAdaptive(t *testing.T) {
	var stdout, stderr bytes.Buffer
	args := []string{"cluster", "--features", "../../reid/rerank/testdata/small.json", "--distance", "euclidean", "--rho", "0.05", "--json"}
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var sum clusterSummary
	if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil || sum.Eps <= 0 || sum.NumFeatures != 120 {
		t.Errorf("got %+v, %v", sum, err)
	}
}
