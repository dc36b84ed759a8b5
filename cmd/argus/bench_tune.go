package main

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"argus/internal/kernels"
)

// tuneReport is the JSON printed by `argus bench tune --json`.
type tuneReport struct {
	CPU      kernels.CPU           `json:"cpu"`
	Key      string                `json:"key"`
	Choice   kernels.GemmConfig    `json:"choice"`
	Derived  kernels.GemmConfig    `json:"derived"`
	Speedup  float64               `json:"speedup_over_derived"`
	Out      string                `json:"out"`
	Measured []kernels.TuneMeasure `json:"measured"`
}

// tuneShapes are the products `argus bench tune` measures by default: a
// square one and two convolution-like ones (ResNet's 3×3 layers of stage 1
// at 56×56 and of stage 3 at 28×28 as im2col products).
var tuneShapes = []string{"1024x1024x1024", "64x3136x576", "256x784x2304"}

// newBenchTuneCmd builds argus bench tune.
func newBenchTuneCmd() *cobra.Command {
	var shapes []string
	var rounds int
	var minTime time.Duration
	var out string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "tune",
		Short: "Measure the GEMM kernels and cache blocks and store the fastest for this CPU",
		Long: `Times every GEMM micro-kernel this CPU runs, each with the cache blocks
derived from the CPU's caches and with smaller and larger ones, on a few
representative products (--shape, m×n×k), and stores the candidate with the
highest geometric mean GFLOP/s under this CPU model (vendor, family, model) in
the tune file, which every argus process reads at start-up. The candidates are
measured in turns, --rounds times, and each keeps its fastest round, so that
other work on the machine slows them alike. The tune file is
os.UserCacheDir()/argus/tune.json unless --out names another; entries of other
CPU models in it are kept. ARGUS_GEMM_KERNEL, when set, still overrides it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if rounds < 1 || minTime <= 0 {
				return fmt.Errorf("--rounds and --min-time must be positive")
			}
			dims := make([][3]int, len(shapes))
			for i, s := range shapes {
				d, err := parseShape(s)
				if err != nil {
					return err
				}
				dims[i] = d
			}
			if len(dims) == 0 {
				return fmt.Errorf("--shape: no products to measure")
			}
			if out == "" {
				p, err := kernels.TunePath()
				if err != nil {
					return fmt.Errorf("no cache folder for the tune file (give --out): %w", err)
				}
				out = p
			}
			rep, err := benchTune(cmd, dims, rounds, minTime)
			if err != nil {
				return err
			}
			rep.Out = out
			entry := kernels.TuneEntry{CPU: rep.CPU, Gemm: rep.Choice, Time: time.Now().UTC(), Measured: rep.Measured}
			if err := kernels.SaveTune(out, entry); err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd, rep)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%s (%s, %d CPUs, L1d %d KiB, L2 %d KiB, L3 %d MiB from %s)\n", rep.Key, rep.CPU.Name,
				rep.CPU.Cores, rep.CPU.L1D>>10, rep.CPU.L2>>10, rep.CPU.L3>>20, rep.CPU.Caches)
			fmt.Fprintf(w, "chose %v: %.2f× the derived %v; wrote %s\n", rep.Choice, rep.Speedup, rep.Derived, out)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&shapes, "shape", tuneShapes, "products to measure, as MxNxK")
	intFlag(f, &rounds, "rounds", 3, 1, 1000, "turns over all candidates")
	durationFlag(f, &minTime, "min-time", 100*time.Millisecond, time.Millisecond, time.Hour, "least duration of one candidate's round on one product")
	f.StringVar(&out, "out", "", "write the tune file here instead of the user's cache folder")
	f.BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

// parseShape parses "MxNxK".
func parseShape(s string) ([3]int, error) {
	parts := strings.Split(s, "x")
	var d [3]int
	if len(parts) != 3 {
		return d, fmt.Errorf("--shape %q: want MxNxK", s)
	}
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 1 || v > 1<<14 {
			return d, fmt.Errorf("--shape %q: want MxNxK with sizes from 1 to 16384", s)
		}
		d[i] = v
	}
	return d, nil
}

// tuneCandidates returns the configurations to measure: every kernel that
// runs here with its derived blocks, with kc three quarters and one and a
// half times as large, and with mc half and twice as large. The portable Go
// kernel is measured only when it is the only one.
func tuneCandidates() ([]kernels.Gemm, error) {
	names := kernels.GemmKernels()
	if len(names) > 1 {
		names = slices.DeleteFunc(names, func(n string) bool { return n == "go4x4" })
	}
	var cs []kernels.Gemm
	seen := map[kernels.GemmConfig]bool{}
	for _, name := range names {
		d, err := kernels.NewGemm(kernels.GemmConfig{Kernel: name})
		if err != nil {
			return nil, err
		}
		c := d.Config()
		for _, v := range []kernels.GemmConfig{c,
			{Kernel: name, MC: c.MC, KC: max(16, c.KC*3/4/16*16), NC: c.NC},
			{Kernel: name, MC: c.MC, KC: c.KC * 3 / 2 / 16 * 16, NC: c.NC},
			{Kernel: name, MC: c.MC / 2, KC: c.KC, NC: c.NC},
			{Kernel: name, MC: c.MC * 2, KC: c.KC, NC: c.NC},
		} {
			e, err := kernels.NewGemm(v)
			if err != nil {
				return nil, err
			}
			if !seen[e.Config()] {
				seen[e.Config()] = true
				cs = append(cs, e)
			}
		}
	}
	return cs, nil
}

// tuneMargin is how much faster than the derived choice, by the geometric
// mean, a candidate must be to replace it.
const tuneMargin = 1.03

// benchTune measures the candidates and picks the one with the highest
// geometric mean over the shapes; the first candidate is the derived choice.
func benchTune(cmd *cobra.Command, dims [][3]int, rounds int, minTime time.Duration) (tuneReport, error) {
	cands, err := tuneCandidates()
	if err != nil {
		return tuneReport{}, err
	}
	best := make([][]float64, len(cands)) // best[c][s], GFLOP/s
	for c := range best {
		best[c] = make([]float64, len(dims))
	}
	for r := range rounds {
		for c, e := range cands {
			for s, d := range dims {
				rep := benchGemm(e, d[0], d[1], d[2], 1, false, false, 1, minTime, uint64(s+1))
				best[c][s] = max(best[c][s], rep.GFLOPS)
			}
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "tune: round %d of %d done\n", r+1, rounds)
	}
	rep := tuneReport{CPU: kernels.HostCPU()}
	rep.Key = rep.CPU.Key()
	score := func(c int) float64 {
		var l float64
		for _, g := range best[c] {
			l += math.Log(g)
		}
		return math.Exp(l / float64(len(dims)))
	}
	// Another candidate replaces the derived one only when it is clearly
	// faster, so that noise does not move the choice back and forth.
	top := 0
	for c, e := range cands {
		if score(c) > score(top) && score(c) > tuneMargin*score(0) {
			top = c
		}
		for s, d := range dims {
			rep.Measured = append(rep.Measured, kernels.TuneMeasure{Gemm: e.Config(),
				Shape: fmt.Sprintf("%dx%dx%d", d[0], d[1], d[2]), GFLOPS: best[c][s]})
		}
	}
	rep.Choice, rep.Derived = cands[top].Config(), cands[0].Config()
	rep.Speedup = score(top) / score(0)
	return rep, nil
}
