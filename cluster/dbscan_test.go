package cluster

import (
	"math"
	"slices"
	"testing"

	"argus/internal/golden"
)

type goldenFile struct {
	Cases []struct {
		Eps         float64     `json:"eps"`
		MinSamples  int         `json:"min_samples"`
		Features    [][]float32 `json:"features"`
		Labels      []int       `json:"labels"`
		PEps        float64     `json:"precomputed_eps"`
		Distances   [][]float32 `json:"distances"`
		PLabels     []int       `json:"precomputed_labels"`
		Rho         float64     `json:"rho"`
		AdaptiveEps float64     `json:"adaptive_eps"`
		Shared      int         `json:"shared_border_points"`
	} `json:"cases"`
}

func readGolden(t *testing.T) goldenFile {
	var g goldenFile
	golden.Load(t, "testdata/dbscan.json", &g)
	return g
}

// TestSklearn compares labels with sklearn.cluster.DBSCAN, border points
// shared between clusters and noise included.
func TestSklearn(t *testing.T) {
	g := readGolden(t)
	shared := 0
	for ci, c := range g.Cases {
		shared += c.Shared
		n, d := len(c.Features), len(c.Features[0])
		var x []float32
		for _, r := range c.Features {
			x = append(x, r...)
		}
		nb, err := FeatureNeighbors(x, n, d, c.Eps)
		if err != nil {
			t.Fatal(err)
		}
		if got := DBSCAN(nb, c.MinSamples); !slices.Equal(got, c.Labels) {
			t.Errorf("case %d features: labels\n%v\nwant\n%v", ci, got, c.Labels)
		}
		var dist []float32
		for _, r := range c.Distances {
			dist = append(dist, r...)
		}
		nb, err = RadiusNeighbors(dist, n, c.PEps)
		if err != nil {
			t.Fatal(err)
		}
		if got := DBSCAN(nb, c.MinSamples); !slices.Equal(got, c.PLabels) {
			t.Errorf("case %d precomputed: labels\n%v\nwant\n%v", ci, got, c.PLabels)
		}
		var upper []float32
		for i := range n {
			upper = append(upper, dist[i*n+i+1:(i+1)*n]...)
		}
		eps, err := AdaptiveEps(upper, 0, 0, c.Rho)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(eps-c.AdaptiveEps) > 1e-9*math.Max(1, c.AdaptiveEps) {
			t.Errorf("case %d: adaptive eps %v, want %v", ci, eps, c.AdaptiveEps)
		}
	}
	if shared == 0 {
		t.Error("golden cases hold no border point shared by two clusters")
	}
}

func TestAdaptiveEpsImplicit(t *testing.T) {
	// Nine nonzero distances: three explicit (the zero is skipped, as
	// np.nonzero skips it) and six implicit ones of 1.
	vals := []float32{0.5, 0, 0.25, 2}
	tests := []struct {
		rho  float64
		want float64
	}{
		{0.1, 0.25},             // one value
		{0.2, (0.25 + 0.5) / 2}, // two
		{0.4, (0.25 + 0.5 + 1 + 1) / 4},
		{0.9, (0.25 + 0.5 + 6) / 8}, // round(8.1): all but the 2
	}
	for _, tt := range tests {
		got, err := AdaptiveEps(vals, 6, 1, tt.rho)
		if err != nil || math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("rho %v: %v, %v; want %v", tt.rho, got, err, tt.want)
		}
	}
	if _, err := AdaptiveEps(vals, 6, 1, 0); err == nil {
		t.Error("rho 0: no error")
	}
	if _, err := AdaptiveEps(nil, 0, 0, 0.5); err == nil {
		t.Error("no distances: no error")
	}
}

func TestErrors(t *testing.T) {
	if _, err := RadiusNeighbors([]float32{0, 1, 1}, 2, 0.5); err == nil {
		t.Error("short matrix: no error")
	}
	if _, err := RadiusNeighbors([]float32{0}, 1, -1); err == nil {
		t.Error("negative eps: no error")
	}
	if _, err := FeatureNeighbors([]float32{0, float32(math.NaN())}, 1, 2, 1); err == nil {
		t.Error("NaN feature: no error")
	}
}
