package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestBenchGemm(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"bench", "gemm", "--m", "33", "--n", "20", "--k", "17", "--batch", "2", "--rounds", "2", "--min-time", "1ms", "--json"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var rep map[string]any
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("output %q: %v", out.String(), err)
	}
	if g, ok := rep["gflops"].(float64); !ok || !(g > 0) {
		t.Errorf("gflops = %v", rep["gflops"])
	}
	if rep["m"] != 33.0 || rep["n"] != 20.0 || rep["k"] != 17.0 || rep["batch"] != 2.0 {
		t.Errorf("sizes = %v %v %v %v", rep["m"], rep["n"], rep["k"], rep["batch"])
	}
	if s, ok := rep["seconds"].(float64); !ok || !(s > 0) {
		t.Errorf("seconds = %v", rep["seconds"])
	}
	if strings.Count(out.String(), "\n") != 1 {
		t.Errorf("want one line, got %q", out.String())
	}
}

func TestBenchGemmBadInput(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "gemm", "--m", "0"},
		{"bench", "gemm", "--k", "-3"},
		{"bench", "gemm", "--m", "x"},
		{"bench", "gemm", "--rounds", "0"},
	} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code == 0 {
			t.Errorf("%v: exit 0", args)
		}
		if out.Len() != 0 || strings.Count(errb.String(), "\n") != 1 {
			t.Errorf("%v: stdout %q stderr %q", args, out.String(), errb.String())
		}
	}
}
