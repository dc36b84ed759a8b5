package kernels

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"argus/internal/atomicfile"
)

// GemmConfig names one way to compute Sgemm: a micro-kernel and the cache
// blocks of the packed path. The A block (MC×KC floats) stays in L2, the B
// micro-panel (KC×nr) in L1 and the B block (KC×NC) in L3.
type GemmConfig struct {
	Kernel string `json:"kernel"`
	MC     int    `json:"mc"`
	KC     int    `json:"kc"`
	NC     int    `json:"nc"`
}

func (c GemmConfig) String() string {
	return fmt.Sprintf("%s mc=%d kc=%d nc=%d", c.Kernel, c.MC, c.KC, c.NC)
}

// Gemm computes products with one micro-kernel and blocking. The zero
// value is not usable; NewGemm makes one.
type Gemm struct{ mk *microKernel }

// Config returns the kernel and blocking e computes with.
func (e Gemm) Config() GemmConfig {
	return GemmConfig{Kernel: e.mk.name, MC: e.mk.mc, KC: e.mk.kc, NC: e.mk.nc}
}

// ErrNoKernel is returned for a micro-kernel that this build or CPU does not
// run.
var ErrNoKernel = errors.New("no such GEMM kernel on this CPU")

// NewGemm returns the Gemm for c. A zero block size takes the one derived
// from HostCPU for that kernel; a kernel this CPU cannot run is ErrNoKernel.
func NewGemm(c GemmConfig) (Gemm, error) {
	i := slices.IndexFunc(gemmRegistry, func(mk *microKernel) bool { return mk.name == c.Kernel })
	if i < 0 {
		return Gemm{}, fmt.Errorf("%w: %q (this CPU runs %s)", ErrNoKernel, c.Kernel, strings.Join(GemmKernels(), ", "))
	}
	if c.MC < 0 || c.KC < 0 || c.NC < 0 {
		return Gemm{}, fmt.Errorf("GEMM blocks must not be negative, got %v", c)
	}
	mk := *gemmRegistry[i]
	if c.MC > 0 {
		mk.mc = roundUp(c.MC, mk.mr)
	}
	if c.KC > 0 {
		mk.kc = c.KC
	}
	if c.NC > 0 {
		mk.nc = roundUp(c.NC, mk.nr)
	}
	return Gemm{&mk}, nil
}

// GemmKernels lists the micro-kernels this build runs on this CPU, in the
// order of preference used when nothing else decides: widest registers and
// most accumulators first, the portable Go kernel last.
func GemmKernels() []string {
	names := make([]string, len(gemmRegistry))
	for i, mk := range gemmRegistry {
		names[i] = mk.name
	}
	return names
}

// gemmRegistry holds every kernel this CPU runs, fastest first, with the
// cache blocks derived from HostCPU.
var gemmRegistry = func() []*microKernel {
	cpu := HostCPU()
	var ks []*microKernel
	for _, raw := range kernelsAvailable() {
		mk := *raw
		mk.mc, mk.kc, mk.nc = deriveBlocking(mk.mr, mk.nr, cpu)
		ks = append(ks, &mk)
	}
	return ks
}()

// deriveBlocking sizes the cache blocks of an mr×nr kernel for the caches
// of cpu, as BLIS's analytical model does, with the fractions measured on
// a Zen 5 core (docs/perf/gemm.md):
//
//   - kc: the B micro-panel, kc×nr floats, fills two thirds of L1d, leaving
//     the rest to the A micro-panel streaming through and to C (a multiple
//     of 16, from 64 to 512);
//   - mc: the packed A block, mc×kc floats, fills a fifth of L2, leaving the
//     rest to the B panels passing through, C and the other hardware
//     thread (a multiple of mr, at least mr);
//   - nc: the packed B block, kc×nc floats, fills a quarter of this
//     process's share of L3 (L3 over the CPUs that share it and that the
//     process may use), at most 16384 columns.
func deriveBlocking(mr, nr int, cpu CPU) (mc, kc, nc int) {
	kc = min(max(cpu.L1D*2/3/(4*nr)/16*16, 64), 512)
	mc = max(cpu.L2/5/(4*kc)/mr*mr, mr)
	share := max(min(cpu.L3Sharing, cpu.Cores), 1)
	nc = min(max(cpu.L3/share/4/(4*kc)/nr*nr, 4*nr), 16384/nr*nr)
	return mc, kc, nc
}

func roundUp(x, unit int) int { return (x + unit - 1) / unit * unit }

// GemmKernelEnv is the environment variable that forces the micro-kernel
// of every Sgemm in the process, such as ARGUS_GEMM_KERNEL=avx2-6x16; its
// blocks are the derived ones.
const GemmKernelEnv = "ARGUS_GEMM_KERNEL"

// std is the Gemm that Sgemm and SgemmStrided use, chosen once at start-up.
var std, stdSource, stdErr = chooseGemm(os.Getenv(GemmKernelEnv), tunePath, HostCPU())

// GemmChoice returns the kernel and blocking Sgemm uses and where the
// choice came from: "ARGUS_GEMM_KERNEL", "tune file PATH" or "derived".
// err reports a choice that was asked for and could not be honoured (an
// unknown kernel in ARGUS_GEMM_KERNEL); Sgemm then runs the next choice.
func GemmChoice() (c GemmConfig, source string, err error) {
	return std.Config(), stdSource, stdErr
}

// chooseGemm picks the start-up Gemm: the kernel named by env, else this
// CPU model's entry in the tune file at the path tunePath returns, else the
// first kernel of the registry with derived blocks. A missing, unreadable
// or corrupt tune file, or one naming a kernel this CPU lacks, falls
// through to the derived choice.
func chooseGemm(env string, tunePath func() (string, error), cpu CPU) (Gemm, string, error) {
	var envErr error
	if env != "" {
		e, err := NewGemm(GemmConfig{Kernel: env})
		if err == nil {
			return e, GemmKernelEnv, nil
		}
		envErr = fmt.Errorf("%s: %w", GemmKernelEnv, err)
	}
	if path, err := tunePath(); err == nil {
		if tf, err := ReadTuneFile(path); err == nil {
			if entry, ok := tf.CPUs[cpu.Key()]; ok {
				if e, err := NewGemm(entry.Gemm); err == nil {
					return e, "tune file " + path, envErr
				}
			}
		}
	}
	return Gemm{gemmRegistry[0]}, "derived", envErr
}

// TuneFile is what `argus bench tune` stores: the measured best Gemm per
// CPU model, keyed by CPU.Key.
type TuneFile struct {
	Version int                  `json:"version"`
	CPUs    map[string]TuneEntry `json:"cpus"`
}

// TuneEntry is the tuned choice for one CPU model.
type TuneEntry struct {
	CPU      CPU           `json:"cpu"`
	Gemm     GemmConfig    `json:"gemm"`
	Time     time.Time     `json:"time"`
	Measured []TuneMeasure `json:"measured,omitempty"`
}

// TuneMeasure is one candidate's speed on one shape.
type TuneMeasure struct {
	Gemm   GemmConfig `json:"gemm"`
	Shape  string     `json:"shape"`
	GFLOPS float64    `json:"gflops"`
}

// tuneVersion is the version of the tune file's format.
const tuneVersion = 1

// tunePath returns the tune file of this user:
// os.UserCacheDir()/argus/tune.json.
func tunePath() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "argus", "tune.json"), nil
}

// TunePath returns where `argus bench tune` stores its choices and where
// Sgemm looks for them at start-up.
func TunePath() (string, error) { return tunePath() }

// ReadTuneFile reads a tune file; a file of another version is an error.
func ReadTuneFile(path string) (TuneFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return TuneFile{}, err
	}
	var tf TuneFile
	if err := json.Unmarshal(b, &tf); err != nil {
		return TuneFile{}, fmt.Errorf("read %s: %w", path, err)
	}
	if tf.Version != tuneVersion {
		return TuneFile{}, fmt.Errorf("read %s: tune file version %d, want %d", path, tf.Version, tuneVersion)
	}
	return tf, nil
}

// SaveTune stores entry under its CPU's key in the tune file at path,
// keeping the other CPUs' entries; a missing or unreadable file is started
// afresh. The folder is created and the file replaced atomically.
func SaveTune(path string, entry TuneEntry) error {
	tf, err := ReadTuneFile(path)
	if err != nil {
		tf = TuneFile{}
	}
	tf.Version = tuneVersion
	if tf.CPUs == nil {
		tf.CPUs = map[string]TuneEntry{}
	}
	tf.CPUs[entry.CPU.Key()] = entry
	b, err := json.MarshalIndent(tf, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(b, '\n'))
}
