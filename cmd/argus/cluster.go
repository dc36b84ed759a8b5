package main

import (
	"fmt"
	"math"
	"time"

	"github.com/spf13/cobra"

	"argus/cluster"
	"argus/reid"
	"argus/reid/rerank"
)

// clusterLabels is the file written by `argus cluster --out`.
type clusterLabels struct {
	// Labels holds one pseudo label per feature, -1 for outliers.
	Labels []int `json:"labels"`
	// Counts holds the size of each cluster, indexed by label.
	Counts      []int   `json:"counts"`
	NumClusters int     `json:"num_clusters"`
	NumOutliers int     `json:"num_outliers"`
	Distance    string  `json:"distance"`
	Eps         float64 `json:"eps"`
	MinSamples  int     `json:"min_samples"`
}

// clusterSummary is the JSON printed by `argus cluster --json`.
type clusterSummary struct {
	NumFeatures int     `json:"num_features"`
	NumClusters int     `json:"num_clusters"`
	NumOutliers int     `json:"num_outliers"`
	Largest     int     `json:"largest_cluster"`
	Distance    string  `json:"distance"`
	Eps         float64 `json:"eps"`
	MinSamples  int     `json:"min_samples"`
	Out         string  `json:"out,omitempty"`
	Seconds     float64 `json:"seconds"`
}

// newClusterCmd builds argus cluster.
func newClusterCmd() *cobra.Command {
	var path, out, distance string
	var eps, rho float64
	var minSamples int
	var asJSON bool
	opt := rerank.DefaultOptions()
	cmd := &cobra.Command{
		Use:   "cluster --features F",
		Short: "Pseudo labels by DBSCAN on k-reciprocal Jaccard distances",
		Long: `Clusters features with DBSCAN, as the unsupervised re-ID methods make
pseudo labels: by default on the k-reciprocal Jaccard distance (k1, k2) of the
L2-normalised features, otherwise on euclidean or cosine distance. Labels
match sklearn.cluster.DBSCAN; outliers are -1. With --rho, eps is MMT's
adaptive choice, the mean of the smallest rho fraction of the distances.

F is a JSON file {"features": [[...], ...]} or a .safetensors file with an
n×d tensor "features". --out writes {"labels": [...], "counts": [...],
"num_clusters", "num_outliers", "distance", "eps", "min_samples"}.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := notAnInput("out", out, path); err != nil {
				return err
			}
			start := time.Now()
			x, n, d, err := reid.ReadFeatureMatrix(path)
			if err != nil {
				return err
			}
			if err := checkPairs(path, n, n); err != nil {
				return err
			}
			logf := func(format string, args ...any) {
				fmt.Fprintf(cmd.ErrOrStderr(), format+"\n", args...)
			}
			var nb [][]int32
			switch distance {
			case "jaccard":
				if rho == 0 && !(eps >= 0 && eps < 1) {
					return fmt.Errorf("--eps %v outside [0, 1) of the Jaccard distance", eps)
				}
				logf("jaccard distance of %d features (k1 %d, k2 %d)", n, opt.K1, opt.K2)
				s, err := rerank.Jaccard(reid.Normalized(x, n, d), n, d, opt)
				if err != nil {
					return err
				}
				if rho > 0 {
					vals, implicit := s.Upper()
					if eps, err = cluster.AdaptiveEps(vals, implicit, s.Fill, rho); err != nil {
						return err
					}
				}
				if nb, err = s.Neighbors(eps); err != nil {
					return err
				}
			case "euclidean", "cosine":
				m := reid.Euclidean
				if distance == "cosine" {
					m = reid.Cosine
				}
				dist, err := reid.Distances(m, x, n, x, n, d)
				if err != nil {
					return err
				}
				if rho > 0 {
					var upper []float32
					for i := range n {
						upper = append(upper, dist[i*n+i+1:(i+1)*n]...)
					}
					if eps, err = cluster.AdaptiveEps(upper, 0, 0, rho); err != nil {
						return err
					}
				}
				if m == reid.Euclidean {
					nb, err = cluster.FeatureNeighbors(x, n, d, eps)
				} else {
					nb, err = cluster.RadiusNeighbors(dist, n, eps)
				}
				if err != nil {
					return err
				}
			default:
				return fmt.Errorf("unknown --distance %q (want jaccard, euclidean or cosine)", distance)
			}
			labels := cluster.DBSCAN(nb, minSamples)
			res := clusterLabels{Labels: labels, Distance: distance, Eps: eps, MinSamples: minSamples}
			for _, l := range labels {
				if l < 0 {
					res.NumOutliers++
					continue
				}
				for len(res.Counts) <= l {
					res.Counts = append(res.Counts, 0)
				}
				res.Counts[l]++
			}
			res.NumClusters = len(res.Counts)
			if res.Counts == nil {
				res.Counts = []int{}
			}
			if out != "" {
				if err := writeJSON(out, res); err != nil {
					return err
				}
			}
			sum := clusterSummary{
				NumFeatures: n, NumClusters: res.NumClusters, NumOutliers: res.NumOutliers,
				Distance: distance, Eps: eps, MinSamples: minSamples, Out: out,
				Seconds: time.Since(start).Seconds(),
			}
			for _, c := range res.Counts {
				sum.Largest = max(sum.Largest, c)
			}
			if asJSON {
				return printJSON(cmd, sum)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d features: %d clusters (largest %d), %d outliers; %s distance, eps %.4g, min samples %d\n",
				n, sum.NumClusters, sum.Largest, sum.NumOutliers, distance, eps, minSamples)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&path, "features", "", "features to cluster (JSON or .safetensors)")
	f.StringVar(&out, "out", "", "write the labels to this JSON file")
	f.StringVar(&distance, "distance", "jaccard", "jaccard, euclidean or cosine")
	floatFlag(f, &eps, "eps", 0.6, 0, math.Inf(1), "DBSCAN radius; below 1 for the jaccard distance")
	floatFlag(f, &rho, "rho", 0, 0, 1, "if > 0, eps is the mean of the smallest rho fraction of distances (MMT uses 1.6e-3)")
	intFlag(f, &minSamples, "min-samples", 4, 1, noLimit, "DBSCAN core point threshold, the point itself included")
	intFlag(f, &opt.K1, "k1", opt.K1, 1, noLimit, "jaccard: k-reciprocal neighbourhood size")
	intFlag(f, &opt.K2, "k2", opt.K2, 1, noLimit, "jaccard: query expansion size, at most k1")
	f.BoolVar(&asJSON, "json", false, "print one JSON object")
	cmd.MarkFlagRequired("features")
	return cmd
}
