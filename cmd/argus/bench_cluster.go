package main

import (
	"fmt"
	"math"
	"runtime"
	"runtime/metrics"
	"time"

	"github.com/spf13/cobra"

	"argus/cluster"
	"argus/reid"
	"argus/reid/rerank"
	"argus/tensor"
)

// benchClusterReport is the JSON printed by `argus bench cluster --json`.
type benchClusterReport struct {
	N          int     `json:"n"`
	Dim        int     `json:"dim"`
	Identities int     `json:"identities"`
	K1         int     `json:"k1"`
	K2         int     `json:"k2"`
	Eps        float64 `json:"eps"`
	MinSamples int     `json:"min_samples"`
	// JaccardSeconds times the distances and their eps-neighbourhoods
	// (computed together, so that the full sparse matrix is never held),
	// DBSCANSeconds the clustering; Seconds is their sum (generating the
	// features is excluded).
	JaccardSeconds float64 `json:"jaccard_seconds"`
	DBSCANSeconds  float64 `json:"dbscan_seconds"`
	Seconds        float64 `json:"seconds"`
	Clusters       int     `json:"clusters"`
	Outliers       int     `json:"outliers"`
	// FeatureBytes is the size of the n×d features; PeakHeapBytes the
	// largest live heap sampled while clustering (features included), and
	// PeakRuntimeBytes the largest memory the Go runtime held from the
	// system then.
	FeatureBytes     int64 `json:"feature_bytes"`
	PeakHeapBytes    int64 `json:"peak_heap_bytes"`
	PeakRuntimeBytes int64 `json:"peak_runtime_bytes"`
	Threads          int   `json:"threads"`
}

// benchClusterFeatures returns n L2-normalised d-dimensional features of
// ids identities: a random unit centre each, plus Gaussian noise of norm
// about noise, image i of identity i mod ids.
func benchClusterFeatures(n, d, ids int, noise float64, seed uint64) []float32 {
	r := tensor.NewRNG(seed).Rand()
	centres := make([]float32, ids*d)
	for i := range centres {
		centres[i] = float32(r.NormFloat64())
	}
	centres = reid.Normalized(centres, ids, d)
	x := make([]float32, n*d)
	s := noise / math.Sqrt(float64(d))
	for i := range n {
		c := centres[(i%ids)*d : (i%ids+1)*d]
		for k := range d {
			x[i*d+k] = c[k] + float32(s*r.NormFloat64())
		}
	}
	return reid.Normalized(x, n, d)
}

// memPeak samples the runtime's heap and total memory until stopped.
type memPeak struct {
	heap, total int64
	stop        chan struct{}
	done        chan struct{}
}

func startMemPeak() *memPeak {
	p := &memPeak{stop: make(chan struct{}), done: make(chan struct{})}
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/total:bytes"}}
	read := func() {
		metrics.Read(samples)
		p.heap = max(p.heap, int64(samples[0].Value.Uint64()))
		p.total = max(p.total, int64(samples[1].Value.Uint64()))
	}
	go func() {
		defer close(p.done)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			read()
			select {
			case <-p.stop:
				read()
				return
			case <-t.C:
			}
		}
	}()
	return p
}

func (p *memPeak) finish() { close(p.stop); <-p.done }

// newBenchClusterCmd builds argus bench cluster.
func newBenchClusterCmd() *cobra.Command {
	var n, d, ids, minSamples int
	var eps, noise float64
	var seed uint64
	var asJSON bool
	opt := rerank.DefaultOptions()
	cmd := &cobra.Command{
		Use:   "cluster --n N",
		Short: "Time the pseudo labelling of UDA re-ID: k-reciprocal Jaccard distances and DBSCAN",
		Long: `Times what every adaptation epoch of argus train reid --mode uda does after
extraction: the k-reciprocal Jaccard distances (k1, k2) of --n
L2-normalised --dim-dimensional features and DBSCAN on them (--eps,
--min-samples). Each row keeps only its neighbours within --eps as it is
computed, as training does, so memory is the features plus the k-reciprocal
encoding. The features are synthetic, --identities random unit centres
with Gaussian noise of norm --noise (Market-1501 has 12,936 training images of
751 identities, about 17 each: the default identities are n/17). Generating
them is not timed.

Prints the seconds of each stage, the clusters and outliers found, and the
peak memory: the largest live heap sampled while clustering (the features
included) and the most the Go runtime held from the system.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opt.K2 > opt.K1 {
				return fmt.Errorf("--k2 %d exceeds --k1 %d", opt.K2, opt.K1)
			}
			if opt.K1 >= n {
				return fmt.Errorf("--k1 %d needs more than %d features (--n)", opt.K1, n)
			}
			if int64(n)*int64(d) > maxBenchClusterValues {
				return fmt.Errorf("--n %d × --dim %d features exceed %d values", n, d, int64(maxBenchClusterValues))
			}
			if ids == 0 {
				ids = max(1, n/17)
			}
			if ids > n {
				return fmt.Errorf("--identities %d exceeds --n %d", ids, n)
			}
			x := benchClusterFeatures(n, d, ids, noise, seed)
			runtime.GC()
			rep := benchClusterReport{N: n, Dim: d, Identities: ids, K1: opt.K1, K2: opt.K2, Eps: eps, MinSamples: minSamples,
				FeatureBytes: int64(len(x)) * 4, Threads: runtime.GOMAXPROCS(0)}
			fmt.Fprintf(cmd.ErrOrStderr(), "jaccard distance of %d features of %d dimensions (k1 %d, k2 %d)\n", n, d, opt.K1, opt.K2)
			peak := startMemPeak()
			start := time.Now()
			nb, err := rerank.JaccardNeighbors(x, n, d, opt, eps)
			if err != nil {
				peak.finish()
				return err
			}
			rep.JaccardSeconds = time.Since(start).Seconds()
			fmt.Fprintf(cmd.ErrOrStderr(), "dbscan (eps %g, min samples %d)\n", eps, minSamples)
			start = time.Now()
			labels := cluster.DBSCAN(nb, minSamples)
			rep.DBSCANSeconds = time.Since(start).Seconds()
			peak.finish()
			rep.Seconds = rep.JaccardSeconds + rep.DBSCANSeconds
			rep.PeakHeapBytes, rep.PeakRuntimeBytes = peak.heap, peak.total
			for _, l := range labels {
				if l < 0 {
					rep.Outliers++
				} else {
					rep.Clusters = max(rep.Clusters, l+1)
				}
			}
			if asJSON {
				return printJSON(cmd, rep)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d features × %d: jaccard %.2f s, dbscan %.2f s, total %.2f s on %d threads\n",
				n, d, rep.JaccardSeconds, rep.DBSCANSeconds, rep.Seconds, rep.Threads)
			fmt.Fprintf(cmd.OutOrStdout(), "%d clusters, %d outliers (%d identities); peak heap %.1f MiB (features %.1f MiB), runtime %.1f MiB\n",
				rep.Clusters, rep.Outliers, ids, float64(rep.PeakHeapBytes)/(1<<20), float64(rep.FeatureBytes)/(1<<20), float64(rep.PeakRuntimeBytes)/(1<<20))
			return nil
		},
	}
	f := cmd.Flags()
	intFlag(f, &n, "n", 20000, 2, 10_000_000, "number of features")
	intFlag(f, &d, "dim", 2048, 1, 65536, "feature dimension")
	intFlag(f, &ids, "identities", 0, 0, 10_000_000, "identities the features are drawn around (0: n/17)")
	floatFlag(f, &noise, "noise", 0.8, 0, 100, "norm of the noise added to each unit centre")
	floatFlag(f, &eps, "eps", 0.6, 0, 1, "DBSCAN radius on the Jaccard distance")
	intFlag(f, &minSamples, "min-samples", 4, 1, noLimit, "DBSCAN core point threshold, the point itself included")
	intFlag(f, &opt.K1, "k1", opt.K1, 1, noLimit, "k-reciprocal neighbourhood size")
	intFlag(f, &opt.K2, "k2", opt.K2, 1, noLimit, "query expansion size, at most k1")
	f.Uint64Var(&seed, "seed", 1, "random seed of the features")
	f.BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

// maxBenchClusterValues bounds bench cluster's features: 2^31 float32
// values (8 GiB).
const maxBenchClusterValues = 1 << 31
