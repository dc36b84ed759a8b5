// Package target describes the DPU configurations a program can run on: the
// convolution engine's parallelism, the number of cores, the on-chip banks,
// DDR bandwidth and latency, and the clock. Each target is one JSON file in
// targets/, embedded in the binary; every number in a file comes with the
// assumption behind it in its "assumptions" object.
package target

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"path"
	"reflect"
	"sort"
	"strings"
	"sync"

	"argus/dpu/isa"
)

// Target is one DPU configuration.
type Target struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Arch is the family member, B<peak ops per cycle per core>.
	Arch string `json:"arch"`

	// Convolution engine parallelism of one core.
	PixelParallel         int `json:"pixel_parallel"`
	InputChannelParallel  int `json:"input_channel_parallel"`
	OutputChannelParallel int `json:"output_channel_parallel"`
	// Pixels per cycle of the depthwise, pooling and element-wise datapaths
	// (each also handles InputChannelParallel channels per pixel).
	DepthwisePixelParallel int `json:"depthwise_pixel_parallel"`
	PoolPixelParallel      int `json:"pool_pixel_parallel"`
	ElewPixelParallel      int `json:"elew_pixel_parallel"`

	Cores    int     `json:"cores"`
	ClockMHz float64 `json:"clock_mhz"`

	// On-chip memory of one core. Feature-map and weight banks have
	// InputChannelParallel int8 lanes per line; the bias bank has
	// OutputChannelParallel lanes.
	FMBankGroups    int     `json:"fm_bank_groups"`
	FMBanksPerGroup int     `json:"fm_banks_per_group"`
	WeightBanks     int     `json:"weight_banks"`
	BankDepth       int     `json:"bank_depth"`
	BiasBankDepth   int     `json:"bias_bank_depth"`
	ComputeSetup    int     `json:"compute_setup_cycles"`
	InitCycles      int     `json:"init_cycles"`
	DDRGBPerSecond  float64 `json:"ddr_gb_per_s"`
	DDRLatency      int     `json:"ddr_latency_cycles"`
	BurstBytes      int     `json:"burst_bytes"`

	// Assumptions holds, for each numeric field by its JSON name, the
	// reasoning or source behind the value.
	Assumptions map[string]string `json:"assumptions"`
}

// PeakOpsPerCycle is the peak of one core: PP x ICP x OCP x 2 (a
// multiply-accumulate counts as two operations).
func (t *Target) PeakOpsPerCycle() int {
	return t.PixelParallel * t.InputChannelParallel * t.OutputChannelParallel * 2
}

// TotalPeakOpsPerCycle is the peak of all cores together.
func (t *Target) TotalPeakOpsPerCycle() int { return t.Cores * t.PeakOpsPerCycle() }

// PeakOpsPerSecond is the peak of all cores at the target's clock.
func (t *Target) PeakOpsPerSecond() float64 {
	return float64(t.TotalPeakOpsPerCycle()) * t.ClockMHz * 1e6
}

// DDRBytesPerCycle is the DDR bandwidth, shared by all cores, in bytes per
// DPU clock cycle.
func (t *Target) DDRBytesPerCycle() float64 { return t.DDRGBPerSecond * 1e9 / (t.ClockMHz * 1e6) }

// FMLanes is the number of int8 channels in one line of a feature-map or
// weight bank.
func (t *Target) FMLanes() int { return t.InputChannelParallel }

// BiasLanes is the number of int8 biases in one line of the bias bank.
func (t *Target) BiasLanes() int { return t.OutputChannelParallel }

// Validate checks that the target is self-consistent and fits the ISA.
func (t *Target) Validate() error {
	pos := map[string]float64{
		"pixel_parallel": float64(t.PixelParallel), "input_channel_parallel": float64(t.InputChannelParallel),
		"output_channel_parallel": float64(t.OutputChannelParallel), "depthwise_pixel_parallel": float64(t.DepthwisePixelParallel),
		"pool_pixel_parallel": float64(t.PoolPixelParallel), "elew_pixel_parallel": float64(t.ElewPixelParallel),
		"cores": float64(t.Cores), "clock_mhz": t.ClockMHz, "fm_bank_groups": float64(t.FMBankGroups),
		"fm_banks_per_group": float64(t.FMBanksPerGroup), "weight_banks": float64(t.WeightBanks),
		"bank_depth": float64(t.BankDepth), "bias_bank_depth": float64(t.BiasBankDepth),
		"ddr_gb_per_s": t.DDRGBPerSecond, "burst_bytes": float64(t.BurstBytes), "init_cycles": float64(t.InitCycles),
	}
	for k, v := range pos {
		if !(v > 0) || math.IsInf(v, 0) {
			return fmt.Errorf("target %s: %s must be positive, got %v", t.Name, k, v)
		}
	}
	if t.DDRLatency < 0 || t.ComputeSetup < 0 {
		return fmt.Errorf("target %s: latencies must not be negative", t.Name)
	}
	if want := fmt.Sprintf("B%d", t.PeakOpsPerCycle()); t.Arch != want {
		return fmt.Errorf("target %s: arch %s but PP x ICP x OCP x 2 = %s", t.Name, t.Arch, want)
	}
	if t.FMBankGroups*t.FMBanksPerGroup > isa.FMBanks || t.FMBanksPerGroup != isa.FMGroupBanks {
		return fmt.Errorf("target %s: feature-map banks must be groups of %d, at most %d in all", t.Name, isa.FMGroupBanks, isa.FMBanks)
	}
	if t.WeightBanks > isa.WeightBanks {
		return fmt.Errorf("target %s: at most %d weight banks", t.Name, isa.WeightBanks)
	}
	if t.BankDepth > isa.BankDepth || t.BiasBankDepth > isa.BankDepth {
		return fmt.Errorf("target %s: banks deeper than the %d lines an address can name", t.Name, isa.BankDepth)
	}
	if t.DepthwisePixelParallel > t.PixelParallel || t.PoolPixelParallel > t.PixelParallel || t.ElewPixelParallel > t.PixelParallel {
		return fmt.Errorf("target %s: a datapath is wider than the convolution engine", t.Name)
	}
	for _, k := range numericFields() {
		if strings.TrimSpace(t.Assumptions[k]) == "" {
			return fmt.Errorf("target %s: no assumption stated for %s", t.Name, k)
		}
	}
	return nil
}

// numericFields lists the JSON names of the numeric fields of Target.
func numericFields() []string {
	var out []string
	rt := reflect.TypeFor[Target]()
	for i := range rt.NumField() {
		f := rt.Field(i)
		switch f.Type.Kind() {
		case reflect.Int, reflect.Float64:
			out = append(out, strings.Split(f.Tag.Get("json"), ",")[0])
		}
	}
	return out
}

//go:embed targets/*.json
var files embed.FS

var (
	loadOnce sync.Once
	all      []*Target
	loadErr  error
)

func load() {
	entries, err := files.ReadDir("targets")
	if err != nil {
		loadErr = err
		return
	}
	for _, e := range entries {
		b, err := files.ReadFile(path.Join("targets", e.Name()))
		if err != nil {
			loadErr = err
			return
		}
		t, err := Parse(b)
		if err != nil {
			loadErr = fmt.Errorf("%s: %w", e.Name(), err)
			return
		}
		if t.Name+".json" != e.Name() {
			loadErr = fmt.Errorf("%s: target named %q", e.Name(), t.Name)
			return
		}
		all = append(all, t)
	}
	sort.Slice(all, func(i, j int) bool {
		pi, pj := all[i].TotalPeakOpsPerCycle(), all[j].TotalPeakOpsPerCycle()
		if pi != pj {
			return pi < pj
		}
		return all[i].Name < all[j].Name
	})
}

// Parse reads and validates one target file.
func Parse(b []byte) (*Target, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var t Target
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("parse target: %w", err)
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return &t, nil
}

// All returns every built-in target, smallest peak first.
func All() ([]*Target, error) {
	loadOnce.Do(load)
	return all, loadErr
}

// Lookup returns the built-in target called name.
func Lookup(name string) (*Target, error) {
	ts, err := All()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, t := range ts {
		if t.Name == name {
			c := *t
			return &c, nil
		}
		names = append(names, t.Name)
	}
	return nil, fmt.Errorf("unknown target %q (have %s)", name, strings.Join(names, ", "))
}

// Fingerprint identifies the configuration: the first 16 hexadecimal
// digits of the SHA-256 of the target's JSON encoding. A compiled program
// records it, so that it is never run on a machine that differs.
func (t *Target) Fingerprint() string {
	b, err := json.Marshal(t)
	if err != nil {
		panic(fmt.Sprintf("target: %v", err)) // a struct of numbers and strings always encodes
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:8])
}
