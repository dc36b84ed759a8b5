package rerank

import (
	"cmp"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"argus/cluster"
	"argus/internal/golden"
	"argus/reid"
)

type goldenCase struct {
	K1        int         `json:"k1"`
	K2        int         `json:"k2"`
	Lambda    float64     `json:"lambda"`
	NumQuery  int         `json:"num_query"`
	Features  [][]float32 `json:"features"`
	Jaccard   [][]float64 `json:"jaccard"`
	Jaccard16 [][]float64 `json:"jaccard_float16"`
	ReRank    [][]float64 `json:"rerank"`
	Labels    []int       `json:"dbscan_labels"`
	MMTEps    float64     `json:"mmt_eps"`
}

func readGolden(t *testing.T, path string) (goldenCase, []float32, int) {
	t.Helper()
	var g goldenCase
	golden.Load(t, path, &g)
	d := len(g.Features[0])
	var x []float32
	for _, r := range g.Features {
		x = append(x, r...)
	}
	return g, x, d
}

// compare reports entries that differ by more than tol, allowing a few
// entries within loose of the reference: the two sides compute the same
// float32 distances with differently ordered sums, which can move a value
// across a float16 rounding boundary.
func compare(t *testing.T, what string, got []float32, want [][]float64, tol, loose float64, allowed int) {
	t.Helper()
	cols := len(want[0])
	off, worst := 0, 0.0
	for i, row := range want {
		for j, w := range row {
			d := math.Abs(float64(got[i*cols+j]) - w)
			worst = max(worst, d)
			if d > tol {
				off++
				if d > loose {
					t.Fatalf("%s (%d,%d) = %v, want %v", what, i, j, got[i*cols+j], w)
				}
			}
		}
	}
	t.Logf("%s: %d entries off by more than %g, worst %g", what, off, tol, worst)
	if off > allowed {
		t.Errorf("%s: %d entries off by more than %g (worst %g)", what, off, tol, worst)
	}
}

func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.json")
	if len(files) == 0 {
		t.Fatal("no golden files")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			g, x, d := readGolden(t, f)
			n := len(g.Features)
			opt := Options{K1: g.K1, K2: g.K2, Lambda: g.Lambda}
			s, err := Jaccard(x, n, d, opt)
			if err != nil {
				t.Fatal(err)
			}
			compare(t, "jaccard", s.Dense(), g.Jaccard, 1e-6, 1e-4, n/10)
			nb, err := s.Neighbors(0.6)
			if err != nil {
				t.Fatal(err)
			}
			if got := cluster.DBSCAN(nb, 4); !slices.Equal(got, g.Labels) {
				t.Errorf("DBSCAN labels\n%v\nwant\n%v", got, g.Labels)
			}

			opt.Half = true
			s, err = Jaccard(x, n, d, opt)
			if err != nil {
				t.Fatal(err)
			}
			compare(t, "jaccard float16", s.Dense(), g.Jaccard16, 0, 1e-3, n/10)

			q := g.NumQuery
			rr, err := ReRank(x[:q*d], q, x[q*d:], n-q, d, opt)
			if err != nil {
				t.Fatal(err)
			}
			compare(t, "rerank", rr, g.ReRank, 1e-6, 1e-3, n/10)
		})
	}
}

func TestOptionsErrors(t *testing.T) {
	x := make([]float32, 10*4)
	for _, opt := range []Options{
		{K1: 0, K2: 1},
		{K1: 3, K2: 4},
		{K1: 20, K2: 6},
		{K1: 3, K2: 2, Lambda: 2},
	} {
		if _, err := Jaccard(x, 10, 4, opt); err == nil {
			t.Errorf("%+v: no error", opt)
		}
	}
	if _, err := Jaccard(x, 11, 4, DefaultOptions()); err == nil {
		t.Error("short data: no error")
	}
}

func TestSparse(t *testing.T) {
	s := &Sparse{Rows: 2, Cols: 3, Fill: 1, Row: [][]Entry{{{Col: 1, Dist: 0.5}}, {{Col: 0, Dist: 0}, {Col: 2, Dist: 0.25}}}}
	want := []float32{1, 0.5, 1, 0, 1, 0.25}
	for i, v := range s.Dense() {
		if v != want[i] || s.At(i/3, i%3) != v {
			t.Errorf("entry %d: %v / %v, want %v", i, v, s.At(i/3, i%3), want[i])
		}
	}
	vals, implicit := s.Upper()
	if !slices.Equal(vals, []float32{0.5, 0.25}) || implicit != 1 {
		t.Errorf("Upper: %v, %d; want [0.5 0.25], 1", vals, implicit)
	}
	if _, err := s.Neighbors(1); err == nil {
		t.Error("Neighbors(Fill): no error")
	}
}

// TestKNN checks the tiled neighbour search, which computes each distance
// once, against sorting full rows of distances computed one by one.
func TestKNN(t *testing.T) {
	const n, d = 1100, 8 // more than two tiles
	x := clustered(n, d, 40)
	for _, zhong := range []bool{false, true} {
		e := &encoder{x: x, n: n, d: d, width: 21, zhong: zhong}
		e.norm = reid.SquaredNorms(x, n, d)
		const q = 300
		out := make([]float32, q*(n-q))
		e.knn(out, q)
		diff := 0
		idx := make([]int, n)
		row := make([]float64, n)
		for i := range n {
			for j := range n {
				var s float64
				for k := range d {
					t := float64(x[i*d+k]) - float64(x[j*d+k])
					s += t * t
				}
				row[j] = s
				idx[j] = j
			}
			slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(row[a], row[b]) })
			for k := range e.width {
				if int(e.rank[i*e.width+k]) != idx[k] {
					diff++
				}
			}
			if zhong && i < q {
				mx := slices.Max(row)
				for j := q; j < n; j++ {
					if got, want := float64(out[i*(n-q)+j-q]), row[j]/mx; math.Abs(got-want) > 1e-5 {
						t.Fatalf("normalised distance (%d,%d) = %v, want %v", i, j, got, want)
					}
				}
			}
		}
		// float32 rounding may swap two neighbours at nearly equal distance.
		if diff > n/100 {
			t.Errorf("zhong %v: %d of %d neighbour slots differ", zhong, diff, n*e.width)
		}
	}
}

// TestJaccardNeighbors checks the streamed neighbourhoods against the full
// sparse matrix's, for radii on both sides of where the clusters separate,
// and that eps outside the distance's range is refused.
func TestJaccardNeighbors(t *testing.T) {
	const n, d = 300, 16
	x := clustered(n, d, 20)
	opt := Options{K1: 20, K2: 6}
	s, err := Jaccard(x, n, d, opt)
	if err != nil {
		t.Fatal(err)
	}
	for _, eps := range []float64{0, 0.3, 0.6, 0.9} {
		want, err := s.Neighbors(eps)
		if err != nil {
			t.Fatal(err)
		}
		got, err := JaccardNeighbors(x, n, d, opt, eps)
		if err != nil {
			t.Fatal(err)
		}
		total := 0
		for i := range n {
			if !slices.Equal(got[i], want[i]) {
				t.Fatalf("eps %g row %d: %v, want %v", eps, i, got[i], want[i])
			}
			total += len(got[i])
		}
		t.Logf("eps %g: %d neighbours", eps, total)
	}
	for _, eps := range []float64{-0.1, 1, math.NaN()} {
		if _, err := JaccardNeighbors(x, n, d, opt, eps); err == nil {
			t.Errorf("eps %v: no error", eps)
		}
	}
}
