package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestParseBytes(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"1M", 1 << 20, true},
		{"25M", 25 << 20, true},
		{"4K", 4096, true},
		{"2G", 2 << 30, true},
		{"100", 100, true},
		{"0", 0, false},
		{"-1M", 0, false},
		{"1.5M", 0, false},
		{"M", 0, false},
		{"1T", 0, false},
	}
	for _, tt := range tests {
		got, err := parseBytes(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d (ok %v)", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// TestBenchAllreduceOneProcess runs the benchmark outside mpirun: a run of
// one process, whose report lists every size and algorithm with zeros.
func TestBenchAllreduceOneProcess(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"bench", "allreduce", "--bytes", "1K,3K", "--iters", "2", "--json"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var rep allreduceReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("output %q: %v", out.String(), err)
	}
	if rep.Ranks != 1 || len(rep.Results) != 4 {
		t.Fatalf("report %+v, want 1 rank and 4 results", rep)
	}
	want := []struct {
		bytes int
		alg   string
	}{{1024, "ring"}, {1024, "butterfly"}, {3072, "ring"}, {3072, "butterfly"}}
	for i, r := range rep.Results {
		if r.Bytes != want[i].bytes || r.Algorithm != want[i].alg || r.Seconds != 0 || r.BusBandwidth != 0 {
			t.Errorf("result %d = %+v, want %d bytes by %s with zeros", i, r, want[i].bytes, want[i].alg)
		}
	}
}

func TestDistFlagsBadInput(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "allreduce", "--bytes", "1X"},
		{"bench", "allreduce", "--algorithms", "tree"},
		{"bench", "allreduce", "--iters", "0"},
		{"train", "mnist", "--allreduce", "tree"},
		{"train", "mnist", "--bucket", "0"},
		{"train", "mnist", "--first-bucket", "x"},
	} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code == 0 || strings.Count(errb.String(), "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want one error line", args, code, errb.String())
		}
	}
}
