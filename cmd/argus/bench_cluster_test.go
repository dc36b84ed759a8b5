package main

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestBenchCluster(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"bench", "cluster", "--n", "170", "--dim", "16", "--noise", "0.1", "--json"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var rep benchClusterReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("output %q: %v", out.String(), err)
	}
	// Ten identities far apart: DBSCAN finds each.
	if rep.N != 170 || rep.Dim != 16 || rep.Identities != 10 || rep.Clusters != 10 || rep.Outliers != 0 {
		t.Errorf("report %+v, want 170 features of 16 dimensions, 10 identities and clusters, no outliers", rep)
	}
	if !(rep.Seconds > 0) || rep.FeatureBytes != 170*16*4 || rep.PeakHeapBytes < rep.FeatureBytes {
		t.Errorf("seconds %v, feature bytes %d, peak heap %d", rep.Seconds, rep.FeatureBytes, rep.PeakHeapBytes)
	}
}

func TestBenchClusterBadInput(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "cluster", "--n", "10"},
		{"bench", "cluster", "--n", "100", "--k2", "40"},
		{"bench", "cluster", "--n", "100", "--identities", "200"},
		{"bench", "cluster", "--n", "10000000", "--dim", "65536"},
		{"bench", "cluster", "--eps", "2"},
	} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code == 0 || out.Len() != 0 {
			t.Errorf("%v: exit %d, stdout %q", args, code, out.String())
		}
	}
}
