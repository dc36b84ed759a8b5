package kernels

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestGemmRegistry(t *testing.T) {
	names := GemmKernels()
	if len(names) == 0 || names[len(names)-1] != "go4x4" {
		t.Fatalf("GemmKernels = %v, want the Go kernel last", names)
	}
	seen := map[string]bool{}
	for _, mk := range gemmRegistry {
		if seen[mk.name] {
			t.Errorf("kernel %s registered twice", mk.name)
		}
		seen[mk.name] = true
		if mk.mc < mk.mr || mk.mc%mk.mr != 0 || mk.kc < 1 || mk.nc < mk.nr || mk.nc%mk.nr != 0 {
			t.Errorf("%s: blocks mc=%d kc=%d nc=%d do not fit a %dx%d tile", mk.name, mk.mc, mk.kc, mk.nc, mk.mr, mk.nr)
		}
	}
	if _, err := NewGemm(GemmConfig{Kernel: "avx1024-99x99"}); !errors.Is(err, ErrNoKernel) {
		t.Errorf("NewGemm of an unknown kernel: %v, want ErrNoKernel", err)
	}
	if _, err := NewGemm(GemmConfig{Kernel: "go4x4", KC: -1}); err == nil {
		t.Error("NewGemm with a negative block succeeded")
	}
	e, err := NewGemm(GemmConfig{Kernel: names[0], MC: 1, KC: 9, NC: 1})
	if err != nil {
		t.Fatal(err)
	}
	if c := e.Config(); c.MC != gemmRegistry[0].mr || c.KC != 9 || c.NC != gemmRegistry[0].nr {
		t.Errorf("NewGemm rounded the blocks to %v", c)
	}
}

// TestGemmConfigs runs every kernel of the registry, with its derived
// blocks and with tiny forced ones, through the public methods on packed,
// parallel and batched products.
func TestGemmConfigs(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, name := range GemmKernels() {
		for _, c := range []GemmConfig{{Kernel: name}, {Kernel: name, MC: 20, KC: 40, NC: 70}} {
			e, err := NewGemm(c)
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range transCases {
				o := newOperands(rng, tc.a, tc.b, 150, 170, 190, 1, 1, 0.5)
				got := append([]float32(nil), o.c...)
				e.Sgemm(o.transA, o.transB, o.m, o.n, o.k, o.alpha, o.a, o.lda, o.b, o.ldb, o.beta, got, o.ldc)
				o.check(t, got)
				got = append([]float32(nil), o.c...)
				e.SgemmStrided(o.transA, o.transB, 1, o.m, o.n, o.k, o.alpha, o.a, o.lda, 0, o.b, o.ldb, 0, o.beta, got, o.ldc, 0)
				o.check(t, got)
				if t.Failed() {
					t.Fatalf("%v tA=%v tB=%v", e.Config(), tc.a, tc.b)
				}
			}
		}
	}
}

func TestTuneFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "argus", "tune.json")
	cpu := HostCPU()
	other := CPU{Vendor: "GenuineIntel", Family: 6, Model: 207}
	want := GemmConfig{Kernel: "go4x4", MC: 64, KC: 128, NC: 512}
	at := time.Date(2026, 12, 3, 14, 0, 0, 0, time.UTC)
	if err := SaveTune(path, TuneEntry{CPU: other, Gemm: GemmConfig{Kernel: "avx512-12x32", MC: 192, KC: 256, NC: 4096}, Time: at}); err != nil {
		t.Fatal(err)
	}
	entry := TuneEntry{CPU: cpu, Gemm: want, Time: at,
		Measured: []TuneMeasure{{Gemm: want, Shape: "1024x1024x1024", GFLOPS: 1.5}}}
	if err := SaveTune(path, entry); err != nil {
		t.Fatal(err)
	}
	tf, err := ReadTuneFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(tf.CPUs) != 2 || tf.CPUs[other.Key()].Gemm.Kernel != "avx512-12x32" {
		t.Errorf("the other CPU's entry was lost: %+v", tf.CPUs)
	}
	got := tf.CPUs[cpu.Key()]
	if got.Gemm != want || !got.Time.Equal(at) || !slices.Equal(got.Measured, entry.Measured) {
		t.Errorf("read back %+v, want %+v", got, entry)
	}
	e, source, err := chooseGemm("", func() (string, error) { return path, nil }, cpu)
	if err != nil || e.Config() != want || source != "tune file "+path {
		t.Errorf("chooseGemm = %v from %q (%v), want %v from the tune file", e.Config(), source, err, want)
	}
}

func TestTuneFileFallback(t *testing.T) {
	dir := t.TempDir()
	derived := Gemm{gemmRegistry[0]}.Config()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	key := HostCPU().Key()
	cases := map[string]func() (string, error){
		"missing":      func() (string, error) { return filepath.Join(dir, "none.json"), nil },
		"no cache dir": func() (string, error) { return "", errors.New("no home") },
		"corrupt":      func() (string, error) { return write("corrupt.json", `{"version":1,"cpus":{`), nil },
		"old version":  func() (string, error) { return write("v0.json", `{"version":0,"cpus":{}}`), nil },
		"other cpu": func() (string, error) {
			return write("other.json", `{"version":1,"cpus":{"x/1/2":{"gemm":{"kernel":"go4x4"}}}}`), nil
		},
		"bad kernel": func() (string, error) {
			return write("bad.json", `{"version":1,"cpus":{"`+key+`":{"gemm":{"kernel":"avx1024-99x99"}}}}`), nil
		},
	}
	for name, path := range cases {
		e, source, err := chooseGemm("", path, HostCPU())
		if err != nil || source != "derived" || e.Config() != derived {
			t.Errorf("%s: chooseGemm = %v from %q (%v), want the derived %v", name, e.Config(), source, err, derived)
		}
	}
	e, source, err := chooseGemm("go4x4", cases["missing"], HostCPU())
	if err != nil || source != GemmKernelEnv || e.Config().Kernel != "go4x4" {
		t.Errorf("chooseGemm with go4x4 forced = %v from %q (%v)", e.Config(), source, err)
	}
	e, source, err = chooseGemm("avx1024-99x99", cases["missing"], HostCPU())
	if !errors.Is(err, ErrNoKernel) || source != "derived" || e.Config() != derived {
		t.Errorf("chooseGemm with an unknown kernel forced = %v from %q (%v), want the derived choice and ErrNoKernel", e.Config(), source, err)
	}
}
