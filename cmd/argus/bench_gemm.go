package main

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/spf13/cobra"

	"argus/internal/kernels"
)

// gemmReport is the JSON printed by `argus bench gemm --json`.
type gemmReport struct {
	GFLOPS     float64 `json:"gflops"`
	M          int     `json:"m"`
	N          int     `json:"n"`
	K          int     `json:"k"`
	Batch      int     `json:"batch"`
	TransA     bool    `json:"trans_a"`
	TransB     bool    `json:"trans_b"`
	Seconds    float64 `json:"seconds"`
	MeanGFLOPS float64 `json:"mean_gflops"`
	Repeats    int     `json:"repeats"`
	Threads    int     `json:"threads"`
	Kernel     string  `json:"kernel"`
	MC         int     `json:"mc"`
	KC         int     `json:"kc"`
	NC         int     `json:"nc"`
}

// Bounds of bench gemm's sizes: each dimension below 2^20, and all three
// matrices of the batch together at most 2^31 float32 values (8 GiB).
const (
	maxGemmDim      = 1<<20 - 1
	maxGemmElements = 1 << 31
)

// newBenchGemmCmd builds argus bench gemm.
func newBenchGemmCmd() *cobra.Command {
	var m, n, k, batch, rounds int
	var kernel string
	var blocks kernels.GemmConfig
	var seed uint64
	var transA, transB, asJSON bool
	var minTime time.Duration
	cmd := &cobra.Command{
		Use:   "gemm --m M --n N --k K",
		Short: "Measure single-precision matrix multiplication in GFLOP/s",
		Long: `Times C = A*B for random m×k and k×n float32 matrices (or a batch of them
with --batch) on GOMAXPROCS threads. The products run in --rounds rounds of at
least --min-time each; gflops and seconds come from the fastest round, since
other work on the machine only ever slows a round down, and mean_gflops from
all of them.

--kernel forces a micro-kernel (an unknown one, or one the CPU cannot run, is
an error that lists those it can), and --mc, --kc and --nc force cache blocks;
by default the product runs as Sgemm does in every command, on the kernel and
blocks chosen at start-up (ARGUS_GEMM_KERNEL, then the tune file written by
argus bench tune, then the blocks derived from the CPU's caches).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Each size is below 2^20, so the products cannot overflow.
			if elems := batch * (m*k + k*n + m*n); elems > maxGemmElements {
				return fmt.Errorf("--batch %d of %dx%dx%d products needs %d float32 values, more than the limit of %d (8 GiB)",
					batch, m, n, k, elems, maxGemmElements)
			}
			e, err := gemmFor(kernel, blocks)
			if err != nil {
				return err
			}
			rep := benchGemm(e, m, n, k, batch, transA, transB, rounds, minTime, seed)
			if asJSON {
				return printJSON(cmd, rep)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "sgemm %dx%dx%d batch %d: %.1f GFLOP/s best, %.1f mean (%.3g s per call, %d threads, %s mc=%d kc=%d nc=%d)\n",
				m, n, k, batch, rep.GFLOPS, rep.MeanGFLOPS, rep.Seconds, rep.Threads, rep.Kernel, rep.MC, rep.KC, rep.NC)
			return nil
		},
	}
	f := cmd.Flags()
	intFlag(f, &m, "m", 1024, 1, maxGemmDim, "rows of C")
	intFlag(f, &n, "n", 1024, 1, maxGemmDim, "columns of C")
	intFlag(f, &k, "k", 1024, 1, maxGemmDim, "shared dimension")
	intFlag(f, &batch, "batch", 1, 1, maxGemmDim, "independent products per call")
	f.BoolVar(&transA, "trans-a", false, "store A transposed (k×m)")
	f.BoolVar(&transB, "trans-b", false, "store B transposed (n×k)")
	intFlag(f, &rounds, "rounds", 5, 1, noLimit, "timed rounds")
	durationFlag(f, &minTime, "min-time", 300*time.Millisecond, time.Millisecond, noDurationLimit, "least duration of a round")
	f.StringVar(&kernel, "kernel", "", "micro-kernel to force, such as avx512-14x32, avx2-6x16 or go4x4")
	intFlag(f, &blocks.MC, "mc", 0, 0, 1<<20, "rows of the packed A block (0: the chosen one)")
	intFlag(f, &blocks.KC, "kc", 0, 0, 1<<20, "shared dimension of a packed block (0: the chosen one)")
	intFlag(f, &blocks.NC, "nc", 0, 0, 1<<24, "columns of the packed B block (0: the chosen one)")
	f.Uint64Var(&seed, "seed", 1, "seed of the random matrices")
	f.BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

// gemmFor returns the Gemm that --kernel, --mc, --kc and --nc ask for:
// the start-up choice where they are unset.
func gemmFor(kernel string, blocks kernels.GemmConfig) (kernels.Gemm, error) {
	chosen, _, _ := kernels.GemmChoice()
	if kernel == "" {
		kernel = chosen.Kernel
	}
	if blocks.MC < 0 || blocks.KC < 0 || blocks.NC < 0 {
		return kernels.Gemm{}, fmt.Errorf("--mc, --kc and --nc must not be negative")
	}
	if kernel == chosen.Kernel {
		// Unset blocks keep the chosen ones, which may come from the tune file.
		blocks.MC = cmp.Or(blocks.MC, chosen.MC)
		blocks.KC = cmp.Or(blocks.KC, chosen.KC)
		blocks.NC = cmp.Or(blocks.NC, chosen.NC)
	}
	blocks.Kernel = kernel
	return kernels.NewGemm(blocks)
}

func benchGemm(e kernels.Gemm, m, n, k, batch int, transA, transB bool, rounds int, minTime time.Duration, seed uint64) gemmReport {
	rng := rand.New(rand.NewPCG(seed, 2))
	fill := func(x []float32) []float32 {
		for i := range x {
			x[i] = float32(rng.Float64()*2 - 1)
		}
		return x
	}
	a := fill(make([]float32, batch*m*k))
	b := fill(make([]float32, batch*k*n))
	c := make([]float32, batch*m*n)
	lda, ldb := k, n
	if transA {
		lda = m
	}
	if transB {
		ldb = k
	}
	call := func() {
		e.SgemmStrided(transA, transB, batch, m, n, k, 1, a, lda, m*k, b, ldb, k*n, 0, c, n, m*n)
	}
	call() // warm the caches, the pack buffers and the worker pool
	best := 0.0
	var total time.Duration
	calls := 0
	for range rounds {
		start := time.Now()
		r := 0
		for ; r == 0 || time.Since(start) < minTime; r++ {
			call()
		}
		el := time.Since(start)
		per := el.Seconds() / float64(r)
		if best == 0 || per < best {
			best = per
		}
		total += el
		calls += r
	}
	flops := 2 * float64(m) * float64(n) * float64(k) * float64(batch)
	cfg := e.Config()
	return gemmReport{
		GFLOPS: flops / best / 1e9, M: m, N: n, K: k, Batch: batch, TransA: transA, TransB: transB,
		Seconds: best, MeanGFLOPS: flops * float64(calls) / total.Seconds() / 1e9, Repeats: calls,
		Threads: runtime.GOMAXPROCS(0), Kernel: cfg.Kernel, MC: cfg.MC, KC: cfg.KC, NC: cfg.NC,
	}
}
