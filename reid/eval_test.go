package reid

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"argus/internal/golden"
)

type expected struct {
	MAP float64   `json:"mAP"`
	CMC []float64 `json:"cmc"`
}

func readCase(t testing.TB, dir string) (*FeatureSet, expected) {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "case.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fs, err := ReadFeatureSet(f)
	if err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	var want expected
	golden.Load(t, filepath.Join(dir, "expected.json"), &want)
	return fs, want
}

// TestGolden reproduces torchreid's eval_market1501 on every stored case.
func TestGolden(t *testing.T) {
	dirs, _ := filepath.Glob("testdata/golden/case_*")
	if len(dirs) == 0 {
		t.Fatal("no golden cases")
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			fs, want := readCase(t, dir)
			dist, err := fs.Distances()
			if err != nil {
				t.Fatal(err)
			}
			got, err := Evaluate(dist, fs.QueryPids, fs.GalleryPids, fs.QueryCams, fs.GalleryCams, DefaultMaxRank)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(got.MAP-want.MAP) > 1e-9 {
				t.Errorf("mAP %.12f, want %.12f", got.MAP, want.MAP)
			}
			if len(got.CMC) != len(want.CMC) {
				t.Fatalf("%d CMC ranks, want %d", len(got.CMC), len(want.CMC))
			}
			for r := range want.CMC {
				if math.Abs(float64(got.CMC[r])-want.CMC[r]) > 1e-6 {
					t.Errorf("CMC rank %d: %v, want %v", r+1, got.CMC[r], want.CMC[r])
				}
			}
		})
	}
}

// TestGoldenMINP compares mINP (and again mAP and CMC) with fast-reid's
// evaluation code on the golden cases.
func TestGoldenMINP(t *testing.T) {
	var want map[string]struct {
		MAP  float64   `json:"mAP"`
		MINP float64   `json:"mINP"`
		CMC  []float64 `json:"cmc"`
	}
	golden.Load(t, "testdata/minp.json", &want)
	if len(want) == 0 {
		t.Fatal("no cases")
	}
	for name, w := range want {
		fs, _ := readCase(t, filepath.Join("testdata/golden", name))
		dist, err := fs.Distances()
		if err != nil {
			t.Fatal(err)
		}
		got, err := Evaluate(dist, fs.QueryPids, fs.GalleryPids, fs.QueryCams, fs.GalleryCams, DefaultMaxRank)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got.MINP-w.MINP) > 1e-9 || math.Abs(got.MAP-w.MAP) > 1e-9 {
			t.Errorf("%s: mINP %v mAP %v, want %v %v", name, got.MINP, got.MAP, w.MINP, w.MAP)
		}
		for r := range w.CMC {
			if math.Abs(float64(got.CMC[r])-w.CMC[r]) > 1e-6 {
				t.Errorf("%s: CMC rank %d: %v, want %v", name, r+1, got.CMC[r], w.CMC[r])
			}
		}
	}
}

// refEval is the reference loop written plainly: argsort every row, drop
// same pid and camera, score the hits.
func refEval(dist []float32, qp, gp, qc, gc []int, maxRank int) (float64, float64, []float32) {
	ng := len(gp)
	maxRank = min(maxRank, ng)
	var aps, inps []float64
	counts := make([]float64, maxRank)
	for q := range qp {
		order := Argsort(dist[q*ng : (q+1)*ng])
		var raw []int
		for _, j := range order {
			if gp[j] == qp[q] && gc[j] == qc[q] {
				continue
			}
			if gp[j] == qp[q] {
				raw = append(raw, 1)
			} else {
				raw = append(raw, 0)
			}
		}
		hits, sum, first, last := 0, 0.0, -1, -1
		for i, m := range raw {
			if m == 1 {
				hits++
				sum += float64(hits) / float64(i+1)
				if first < 0 {
					first = i
				}
				last = i
			}
		}
		if hits == 0 {
			continue
		}
		for r := first; r < maxRank; r++ {
			counts[r]++
		}
		aps = append(aps, sum/float64(hits))
		inps = append(inps, float64(hits)/float64(last+1))
	}
	cmc := make([]float32, maxRank)
	for r := range cmc {
		cmc[r] = float32(counts[r]) / float32(len(aps))
	}
	return pairwiseMean(aps), pairwiseMean(inps), cmc
}

// TestEvaluateTies checks the counting path against full sorting on rows
// full of exact ties, where only the reference's sort order decides.
func TestEvaluateTies(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 50; trial++ {
		nq, ng := 1+rng.IntN(20), 1+rng.IntN(300)
		levels := 1 + rng.IntN(40)
		dist := make([]float32, nq*ng)
		for i := range dist {
			dist[i] = float32(rng.IntN(levels))
		}
		qp, qc := make([]int, nq), make([]int, nq)
		gp, gc := make([]int, ng), make([]int, ng)
		for i := range qp {
			qp[i], qc[i] = rng.IntN(6), rng.IntN(3)
		}
		for i := range gp {
			gp[i], gc[i] = rng.IntN(8)-1, rng.IntN(3)
		}
		got, err := Evaluate(dist, qp, gp, qc, gc, DefaultMaxRank)
		m, inp, cmc := refEval(dist, qp, gp, qc, gc, DefaultMaxRank)
		if err != nil {
			if math.IsNaN(m) {
				continue
			}
			t.Fatal(err)
		}
		if math.Abs(got.MAP-m) > 1e-12 || math.Abs(got.MINP-inp) > 1e-12 {
			t.Fatalf("trial %d: mAP %v mINP %v, want %v %v", trial, got.MAP, got.MINP, m, inp)
		}
		for r := range cmc {
			if got.CMC[r] != cmc[r] {
				t.Fatalf("trial %d: CMC[%d] %v, want %v", trial, r, got.CMC[r], cmc[r])
			}
		}
	}
}

func TestEvaluateErrors(t *testing.T) {
	if _, err := Evaluate([]float32{1}, []int{1}, []int{1}, []int{0}, []int{0}, 50); err != ErrNoValidQuery {
		t.Errorf("same camera only: err %v, want ErrNoValidQuery", err)
	}
	if _, err := Evaluate([]float32{1, 2}, []int{1}, []int{1}, []int{0}, []int{0}, 50); err == nil {
		t.Error("wrong matrix size: no error")
	}
	if _, err := Evaluate([]float32{1}, []int{1}, []int{1}, []int{0}, []int{1}, 0); err == nil {
		t.Error("max rank 0: no error")
	}
}

// TestMINP checks INP on a hand-made row: matches at ranks 1 and 4 of the
// kept items give INP 2/4 and AP (1/1 + 2/4)/2.
func TestMINP(t *testing.T) {
	dist := []float32{0.1, 0.2, 0.3, 0.4, 0.05}
	gp := []int{7, 3, 4, 7, 7}
	gc := []int{1, 1, 1, 1, 0} // the last is the query's own camera
	got, err := Evaluate(dist, []int{7}, gp, []int{0}, gc, 50)
	if err != nil {
		t.Fatal(err)
	}
	if got.MINP != 0.5 || got.MAP != 0.75 || got.CMC[0] != 1 || len(got.CMC) != 5 {
		t.Errorf("got %+v", got)
	}
}

func TestArgsortNumpy(t *testing.T) {
	var g struct {
		Cases []struct {
			Dtype  string     `json:"dtype"`
			Values []*float64 `json:"values"`
			Order  []int      `json:"order"`
		} `json:"cases"`
	}
	golden.Load(t, "testdata/argsort.json", &g)
	for i, c := range g.Cases {
		v64 := make([]float64, len(c.Values))
		for j, p := range c.Values {
			v64[j] = math.NaN()
			if p != nil {
				v64[j] = *p
			}
		}
		var got []int
		if c.Dtype == "float32" {
			v32 := make([]float32, len(v64))
			for j, v := range v64 {
				v32[j] = float32(v)
			}
			got = Argsort(v32)
		} else {
			got = Argsort(v64)
		}
		for j := range got {
			if got[j] != c.Order[j] {
				t.Fatalf("case %d (%s, n=%d): order differs from numpy at %d", i, c.Dtype, len(v64), j)
			}
		}
	}
}
