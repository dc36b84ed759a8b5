package main

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"argus/dist"
)

// allreduceResult is one size and algorithm of `argus bench allreduce`.
type allreduceResult struct {
	Bytes     int    `json:"bytes"`
	Algorithm string `json:"algorithm"`
	// Seconds is the median time of one all-reduce on the slowest rank.
	Seconds float64 `json:"seconds"`
	// AlgBandwidth is bytes/seconds in GB/s; BusBandwidth scales it by
	// 2(N-1)/N, the share of the buffer each rank must send and receive
	// in any all-reduce, as nccl-tests reports it, so that numbers compare
	// across N and with the link's speed.
	AlgBandwidth float64 `json:"algbw_gbps"`
	BusBandwidth float64 `json:"busbw_gbps"`
}

// allreduceReport is the JSON printed by `argus bench allreduce --json`.
type allreduceReport struct {
	Ranks   int               `json:"ranks"`
	MPI     bool              `json:"mpi"`
	Iters   int               `json:"iters"`
	Results []allreduceResult `json:"results"`
}

// newBenchAllreduceCmd builds argus bench allreduce.
func newBenchAllreduceCmd() *cobra.Command {
	var sizes, algs string
	var iters int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "allreduce",
		Short: "Measure the gradient all-reduce under mpirun: seconds and bus bandwidth per size and algorithm",
		Long: `Times the all-reduce of float32 buffers of each size in --bytes by each
algorithm in --algorithms (ring: MPI_Allreduce; butterfly: reduce-scatter
then all-gather), --iters times after one warm-up, on every rank of the
run. Run it under mpirun with an argus built with -tags mpi:

  mpirun -np 2 argus bench allreduce --bytes 1M,25M,100M --json

seconds is the median of a rank's times, the slowest rank's; algbw_gbps is
bytes/seconds and busbw_gbps that times 2(N-1)/N, the bandwidth each
rank's links carried. Rank 0 prints the report. In a run of one process
there is nothing to reduce, and the numbers are zero.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if iters < 1 {
				return fmt.Errorf("--iters must be positive, got %d", iters)
			}
			var bytes []int
			for _, s := range strings.Split(sizes, ",") {
				n, err := parseBytes(s)
				if err != nil {
					return fmt.Errorf("--bytes: %w", err)
				}
				bytes = append(bytes, n)
			}
			var list []dist.Algorithm
			for _, s := range strings.Split(algs, ",") {
				a, err := dist.ParseAlgorithm(strings.TrimSpace(s))
				if err != nil {
					return fmt.Errorf("--algorithms: %w", err)
				}
				list = append(list, a)
			}
			c, err := dist.Open()
			if err != nil {
				return err
			}
			p := &parallel{comm: c, stderr: cmd.ErrOrStderr()}
			rep, err := benchAllreduce(c, bytes, list, iters)
			if err == nil && c.Rank() == 0 {
				err = printAllreduce(cmd, rep, asJSON)
			}
			return p.finish(cmd, err)
		},
	}
	f := cmd.Flags()
	f.StringVar(&sizes, "bytes", "1M,25M,100M", "comma-separated buffer sizes (K, M, G: KiB, MiB, GiB)")
	f.StringVar(&algs, "algorithms", "ring,butterfly", "comma-separated all-reduce algorithms: ring, butterfly")
	intFlag(f, &iters, "iters", 10, 1, 100000, "timed all-reduces per size and algorithm")
	f.BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

// benchAllreduce times every size and algorithm on every rank of c. Every
// rank runs the same collectives in the same order, so the loops are
// counted, never timed.
func benchAllreduce(c dist.Comm, sizes []int, algs []dist.Algorithm, iters int) (allreduceReport, error) {
	n := c.Size()
	rep := allreduceReport{Ranks: n, MPI: dist.MPI, Iters: iters}
	for _, size := range sizes {
		buf := make([]float32, (size+3)/4)
		scratch := make([]float32, (len(buf)+n-1)/n)
		for _, alg := range algs {
			times := make([]float64, iters)
			for i := -1; i < iters; i++ {
				for j := range buf {
					buf[j] = float32(j % 7)
				}
				start := time.Now()
				if err := dist.Allreduce(c, buf, alg, scratch); err != nil {
					return rep, fmt.Errorf("%v all-reduce of %d bytes: %w", alg, size, err)
				}
				if i >= 0 {
					times[i] = time.Since(start).Seconds()
				}
			}
			slices.Sort(times)
			// The slowest rank's median: the collective is only done when
			// it is done everywhere.
			all := make([]float32, n)
			if err := c.Allgather([]float32{float32(times[iters/2])}, all); err != nil {
				return rep, fmt.Errorf("gather times: %w", err)
			}
			r := allreduceResult{Bytes: size, Algorithm: alg.String()}
			if n > 1 {
				r.Seconds = float64(slices.Max(all))
			}
			if r.Seconds > 0 {
				r.AlgBandwidth = float64(size) / r.Seconds / 1e9
				r.BusBandwidth = r.AlgBandwidth * 2 * float64(n-1) / float64(n)
			}
			rep.Results = append(rep.Results, r)
		}
	}
	return rep, nil
}

func printAllreduce(cmd *cobra.Command, rep allreduceReport, asJSON bool) error {
	if asJSON {
		return printJSON(cmd, rep)
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "all-reduce over %d ranks (median of %d, slowest rank)\n", rep.Ranks, rep.Iters)
	for _, r := range rep.Results {
		fmt.Fprintf(w, "%10d B  %-9s  %9.3g s  algbw %6.2f GB/s  busbw %6.2f GB/s\n", r.Bytes, r.Algorithm, r.Seconds, r.AlgBandwidth, r.BusBandwidth)
	}
	return nil
}
