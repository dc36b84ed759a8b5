package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"argus/internal/kernels"
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

func TestBenchGemmKernel(t *testing.T) {
	for _, name := range kernels.GemmKernels() {
		var out, errb bytes.Buffer
		args := []string{"bench", "gemm", "--m", "40", "--n", "50", "--k", "30", "--rounds", "1", "--min-time", "1ms",
			"--kernel", name, "--kc", "16", "--json"}
		if code := run(args, &out, &errb); code != 0 {
			t.Fatalf("%s: exit %d: %s", name, code, errb.String())
		}
		var rep gemmReport
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Kernel != name || rep.KC != 16 || rep.MC < 1 || rep.NC < 1 {
			t.Errorf("%s: report %+v", name, rep)
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"bench", "gemm", "--kernel", "avx1024-99x99"}, &out, &errb); code == 0 ||
		!strings.Contains(errb.String(), "no such GEMM kernel") || !strings.Contains(errb.String(), "go4x4") {
		t.Errorf("unknown kernel: exit %d, stderr %q", code, errb.String())
	}
}

func TestBenchTune(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache", "tune.json")
	var out, errb bytes.Buffer
	args := []string{"bench", "tune", "--shape", "40x50x300", "--shape", "20x70x10", "--rounds", "1", "--min-time", "1ms",
		"--out", path, "--json"}
	if code := run(args, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var rep tuneReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("output %q: %v", out.String(), err)
	}
	if rep.Out != path || rep.Key != kernels.HostCPU().Key() || len(rep.Measured) == 0 || rep.Measured[0].GFLOPS <= 0 {
		t.Errorf("report %+v", rep)
	}
	tf, err := kernels.ReadTuneFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := tf.CPUs[rep.Key].Gemm; got != rep.Choice {
		t.Errorf("tune file holds %v, report chose %v", got, rep.Choice)
	}
	for _, bad := range [][]string{{"--shape", "1x2"}, {"--shape", "0x4x4"}, {"--rounds", "0"}} {
		out.Reset()
		errb.Reset()
		if code := run(append([]string{"bench", "tune", "--out", path}, bad...), &out, &errb); code == 0 {
			t.Errorf("%v: exit 0", bad)
		}
	}
}
