package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func runArgus(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestDPUAsmDisasmSim(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join("..", "..", "examples", "dpu", "conv_relu_pool.s")
	bin := filepath.Join(dir, "p.bin")
	if _, e, code := runArgus(t, "dpu", "asm", src, "--out", bin); code != 0 {
		t.Fatalf("asm: %s", e)
	}
	out, e, _ := runArgus(t, "dpu", "asm", src, "--out", bin, "--json")
	if !strings.Contains(out, `"words":`) {
		t.Fatalf("asm --json: %q %s", out, e)
	}
	text, e, code := runArgus(t, "dpu", "disasm", bin)
	if code != 0 {
		t.Fatalf("disasm: %s", e)
	}
	s2 := filepath.Join(dir, "p2.s")
	if err := os.WriteFile(s2, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	bin2 := filepath.Join(dir, "p2.bin")
	if _, e, code := runArgus(t, "dpu", "asm", s2, "-o", bin2); code != 0 {
		t.Fatalf("asm of disassembly: %s", e)
	}
	b1, _ := os.ReadFile(bin)
	b2, _ := os.ReadFile(bin2)
	if !bytes.Equal(b1, b2) {
		t.Fatal("asm -> disasm -> asm changed the binary")
	}

	var reps []map[string]any
	for _, prog := range []string{src, bin} {
		out, e, code := runArgus(t, "dpu", "sim", prog, "--target", "zcu104", "--json", "--trace", filepath.Join(dir, "trace.json"))
		if code != 0 {
			t.Fatalf("sim %s: %s", prog, e)
		}
		var rep map[string]any
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("sim output is not one JSON object: %v\n%s", err, out)
		}
		for _, k := range []string{"cycles", "seconds", "ops", "ops_per_second", "utilization", "ddr_bytes"} {
			if _, ok := rep[k]; !ok {
				t.Errorf("sim JSON lacks %q", k)
			}
		}
		reps = append(reps, rep)
	}
	if reps[0]["cycles"] != reps[1]["cycles"] || reps[0]["cycles"].(float64) <= 0 {
		t.Fatalf("text and binary runs differ: %v vs %v", reps[0]["cycles"], reps[1]["cycles"])
	}
	tr, err := os.ReadFile(filepath.Join(dir, "trace.json"))
	if err != nil || !bytes.Contains(tr, []byte(`"traceEvents"`)) {
		t.Fatalf("trace: %v", err)
	}
	// Without --json the same command prints a readable summary.
	out, _, code = runArgus(t, "dpu", "sim", src, "--target", "zu2")
	if code != 0 || !strings.Contains(out, "utilization") || strings.HasPrefix(out, "{") {
		t.Fatalf("plain sim output:\n%s", out)
	}
}

func TestDPUSimDDRImage(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "copy.s")
	prog := "LOAD signal=save bank=fm0 ddr=0 h=1 w=4 c=2 row_stride=8 pixel_stride=2\nSAVE wait=load bank=fm0 ddr=8 h=1 w=4 c=2 row_stride=8 pixel_stride=2\nEND\n"
	if err := os.WriteFile(src, []byte(prog), 0o644); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "in.bin")
	if err := os.WriteFile(img, []byte{1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0}, 0o644); err != nil {
		t.Fatal(err)
	}
	outImg := filepath.Join(dir, "out.bin")
	if _, e, code := runArgus(t, "dpu", "sim", src, "--target", "b512", "--ddr", img, "--ddr-out", outImg, "--json"); code != 0 {
		t.Fatal(e)
	}
	got, _ := os.ReadFile(outImg)
	if want := []byte{1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8}; !bytes.Equal(got, want) {
		t.Fatalf("DDR after copy: %v", got)
	}
}

func TestDPUBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.s")
	if err := os.WriteFile(bad, []byte("; bad kernel\nCONVINIT kernel_h=17 kernel_w=3\nEND\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dead := filepath.Join(dir, "dead.s")
	if err := os.WriteFile(dead, []byte("LOAD wait=save bank=fm0 h=1 w=1 c=1\nEND\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	odd := filepath.Join(dir, "odd.bin")
	if err := os.WriteFile(odd, []byte{1, 2, 3}, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "bad.bin")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"field", []string{"dpu", "asm", bad, "-o", out}, "line 2: CONVINIT: field kernel_h: 17 out of range [1, 16]"},
		{"deadlock", []string{"dpu", "sim", dead, "--target", "b4096"}, "deadlock: core 0 load engine at line 1 LOAD waits for save"},
		{"odd binary", []string{"dpu", "disasm", odd}, "not a multiple of 4"},
		{"no target", []string{"dpu", "sim", dead}, `required flag(s) "target" not set`},
		{"unknown target", []string{"dpu", "sim", dead, "--target", "zu19"}, `unknown target "zu19"`},
		{"missing file", []string{"dpu", "sim", filepath.Join(dir, "none.s"), "--target", "zu9"}, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, e, code := runArgus(t, tt.args...)
			if code == 0 || !strings.Contains(e, tt.want) || strings.Count(strings.TrimSpace(e), "\n") != 0 || o != "" {
				t.Fatalf("code %d, stdout %q, stderr %q; want one line containing %q", code, o, e, tt.want)
			}
		})
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatal("failed asm left an output file")
	}
}

func TestDPUTargets(t *testing.T) {
	out, e, code := runArgus(t, "dpu", "targets", "--json")
	if code != 0 {
		t.Fatal(e)
	}
	var v struct {
		Targets []struct {
			Name            string            `json:"name"`
			PeakOpsPerCycle int               `json:"peak_ops_per_cycle"`
			Assumptions     map[string]string `json:"assumptions"`
		} `json:"targets"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	peaks := map[string]int{}
	for _, tg := range v.Targets {
		peaks[tg.Name] = tg.PeakOpsPerCycle
		if len(tg.Assumptions) == 0 {
			t.Errorf("%s: no assumptions", tg.Name)
		}
	}
	if peaks["zcu104"] != 8192 || peaks["zu9"] < 8545 || peaks["b512"] != 512 {
		t.Fatalf("peaks %v", peaks)
	}
	out, _, code = runArgus(t, "dpu", "targets", "zu9")
	if code != 0 || !strings.Contains(out, "8,545") {
		t.Fatalf("zu9 details:\n%s", out)
	}
}

// TestDPUNoOverwrite: no dpu command writes over one of its inputs, however
// the path is spelled; the input is left as it was.
func TestDPUNoOverwrite(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "p.s")
	example, err := os.ReadFile(filepath.Join("..", "..", "examples", "dpu", "conv_relu_pool.s"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(src, example, 0o644)
	// A text program whose default output (.bin) is itself.
	textBin := filepath.Join(dir, "text.bin")
	os.WriteFile(textBin, example, 0o644)
	bin := filepath.Join(dir, "p.bin")
	if _, e, code := runArgus(t, "dpu", "asm", src, "--out", bin); code != 0 {
		t.Fatal(e)
	}
	ddr := filepath.Join(dir, "ddr.img")
	os.WriteFile(ddr, make([]byte, 8192), 0o644)
	dot := func(p string) string { return filepath.Join(dir, ".", filepath.Base(p)) }
	tests := []struct {
		name  string
		args  []string
		input string
		want  string
	}{
		{"asm -o the input", []string{"dpu", "asm", src, "-o", dot(src)}, src, "--out " + dot(src) + " is also the program"},
		{"asm default output is the input", []string{"dpu", "asm", textBin}, textBin, "--out " + textBin + " is also the program"},
		{"disasm -o the input", []string{"dpu", "disasm", bin, "-o", bin}, bin, "is also the program"},
		{"sim --ddr-out the --ddr", []string{"dpu", "sim", src, "--target", "b4096", "--ddr", ddr, "--ddr-out", dot(ddr)}, ddr, "--ddr-out " + dot(ddr) + " is also the --ddr image"},
		{"sim --ddr-out the program", []string{"dpu", "sim", bin, "--target", "b4096", "--ddr-out", bin}, bin, "--ddr-out " + bin + " is also the program"},
		{"sim --trace the program", []string{"dpu", "sim", src, "--target", "b4096", "--trace", src}, src, "--trace " + src + " is also the program"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := os.ReadFile(tt.input)
			out, e, code := runArgus(t, tt.args...)
			if code == 0 || !strings.Contains(e, tt.want) || strings.Count(e, "\n") != 1 || out != "" {
				t.Errorf("exit %d, stdout %q, stderr %q, want one line with %q", code, out, e, tt.want)
			}
			if after, _ := os.ReadFile(tt.input); !bytes.Equal(before, after) {
				t.Errorf("%s was changed", tt.input)
			}
		})
	}
}

// heavyProgram is a valid program of n 3x3 convolutions over a whole
// 64x32x16 feature-map tile, 8.6 million operations each.
func heavyProgram(n int) string {
	var b strings.Builder
	b.WriteString(`LOAD bank=w0 addr=0 ddr=0 h=16 w=9 c=16 row_stride=144 pixel_stride=16
LOAD bank=bias addr=0 ddr=0 h=1 w=1 c=16 row_stride=16 pixel_stride=16
LOAD signal=compute bank=fm0 addr=0 ddr=0 h=64 w=32 c=16 row_stride=512 pixel_stride=16
CONVINIT kernel_h=3 kernel_w=3 act=relu round=dpu shift_cut=11 shift_bias=4
CONV wait=load in_bank=fm0 in_addr=0 in_h=64 in_w=32 ic=16 out_bank=fm8 out_addr=0 oc=16 w_bank=w0 w_addr=0 bias_addr=0
`)
	for range n - 1 {
		b.WriteString("CONV in_bank=fm0 in_addr=0 in_h=64 in_w=32 ic=16 out_bank=fm8 out_addr=0 oc=16 w_bank=w0 w_addr=0 bias_addr=0\n")
	}
	b.WriteString("END\n")
	return b.String()
}

// TestDPUMaxOps: a program needing more operations than --max-ops (by
// default 1e11, a minute or two of simulation) is refused before it runs,
// instead of running for as long as it takes.
func TestDPUMaxOps(t *testing.T) {
	dir := t.TempDir()
	huge := filepath.Join(dir, "huge.s")
	os.WriteFile(huge, []byte(heavyProgram(12000)), 0o644)
	small := filepath.Join(dir, "small.s")
	os.WriteFile(small, []byte(heavyProgram(2)), 0o644)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"default bound", []string{"dpu", "sim", huge, "--target", "b4096"}, huge + ": the program needs 102850560000 operations, more than --max-ops 1e+11; raise --max-ops to run it"},
		{"given bound", []string{"dpu", "sim", small, "--target", "b4096", "--max-ops", "1e7"}, "needs 17141760 operations, more than --max-ops 1e+07"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			type result struct {
				e    string
				code int
			}
			done := make(chan result, 1)
			go func() {
				_, e, code := runArgus(t, tt.args...)
				done <- result{e, code}
			}()
			select {
			case r := <-done:
				if r.code == 0 || !strings.Contains(r.e, tt.want) || strings.Count(r.e, "\n") != 1 {
					t.Errorf("exit %d, stderr %q, want one line with %q", r.code, r.e, tt.want)
				}
			case <-time.After(60 * time.Second):
				// Generous: only a run that simulates the whole program
				// gets here.
				t.Fatal("the program ran instead of being refused")
			}
		})
	}
	if out, e, code := runArgus(t, "dpu", "sim", small, "--target", "b4096", "--max-ops", "2e7", "--json"); code != 0 || !strings.Contains(out, `"ops":17141760`) {
		t.Errorf("within the bound: exit %d, %q %q", code, out, e)
	}
}

// TestDPUSimHugeDDR: a --ddr file too large to be a DDR image is refused
// before it is read into memory.
func TestDPUSimHugeDDR(t *testing.T) {
	huge := filepath.Join(t.TempDir(), "huge.img")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	// Sparse: nothing is written to the disk.
	if err := f.Truncate(maxDDRImage + 1); err != nil {
		t.Skipf("no sparse file: %v", err)
	}
	f.Close()
	src := filepath.Join("..", "..", "examples", "dpu", "conv_relu_pool.s")
	_, e, code := runArgus(t, "dpu", "sim", src, "--target", "b4096", "--ddr", huge)
	if code == 0 || e != "argus dpu sim: --ddr "+huge+" is 4294967297 bytes, larger than any DDR image (at most 4294967296)\n" {
		t.Errorf("exit %d, stderr %q", code, e)
	}
}
