package assign

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"argus/internal/golden"
)

type goldenFile struct {
	Hungarian []struct {
		Rows, Cols     int
		Cost           []float64
		RowInd, ColInd []int `json:"-"`
		Row            []int `json:"row_ind"`
		Col            []int `json:"col_ind"`
		Total          float64
	}
	Sinkhorn []struct {
		G, N       int
		Eps, Tol   float64
		Iters      int
		Cost, Ious []float64
		K          []int
		Supply     []float64
		Plan       []float64
		Niter      int
		Assigned   []int
	}
	Simota []struct {
		G, N       int
		Cost, Ious []float64
		Ks         []int
		Assigned   []int
	}
}

func load(t *testing.T) goldenFile {
	var g goldenFile
	golden.Load(t, "testdata/golden.json", &g)
	return g
}

func total(cost []float64, cols int, r, c []int) float64 {
	var s float64
	for k := range r {
		s += cost[r[k]*cols+c[k]]
	}
	return s
}

// TestHungarianGolden checks the total cost against scipy on every case and
// the assignment itself where the optimum is unique (no repeated costs); with
// ties any optimal assignment is correct.
func TestHungarianGolden(t *testing.T) {
	for _, c := range load(t).Hungarian {
		r, col, err := Hungarian(c.Cost, c.Rows, c.Cols)
		if err != nil {
			t.Fatalf("%dx%d: %v", c.Rows, c.Cols, err)
		}
		got := total(c.Cost, c.Cols, r, col)
		if math.Abs(got-c.Total) > 1e-9*math.Max(1, math.Abs(c.Total)) {
			t.Errorf("%dx%d: total %.12g, scipy %.12g", c.Rows, c.Cols, got, c.Total)
		}
		ties := len(slices.Compact(slices.Sorted(slices.Values(c.Cost)))) < len(c.Cost)
		if !ties && (!slices.Equal(r, c.Row) || !slices.Equal(col, c.Col)) {
			t.Errorf("%dx%d: assignment differs from scipy's", c.Rows, c.Cols)
		}
	}
}

// TestHungarianBrute compares with exhaustive search on small matrices.
func TestHungarianBrute(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		rows, cols := 1+r.IntN(5), 1+r.IntN(5)
		cost := make([]float64, rows*cols)
		for i := range cost {
			cost[i] = float64(r.IntN(10)) - 3
		}
		ri, ci, err := Hungarian(cost, rows, cols)
		if err != nil {
			t.Fatal(err)
		}
		if len(ri) != min(rows, cols) {
			t.Fatalf("trial %d: %d pairs", trial, len(ri))
		}
		if got, want := total(cost, cols, ri, ci), brute(cost, rows, cols); got != want {
			t.Fatalf("trial %d (%dx%d): total %v, optimum %v", trial, rows, cols, got, want)
		}
	}
}

// brute returns the least total cost over all assignments.
func brute(cost []float64, rows, cols int) float64 {
	best := math.Inf(1)
	used := make([]bool, max(rows, cols))
	var rec func(i int, s float64, left int)
	if rows <= cols {
		rec = func(i int, s float64, _ int) {
			if i == rows {
				best = min(best, s)
				return
			}
			for j := range cols {
				if !used[j] {
					used[j] = true
					rec(i+1, s+cost[i*cols+j], 0)
					used[j] = false
				}
			}
		}
	} else {
		rec = func(j int, s float64, _ int) {
			if j == cols {
				best = min(best, s)
				return
			}
			for i := range rows {
				if !used[i] {
					used[i] = true
					rec(j+1, s+cost[i*cols+j], 0)
					used[i] = false
				}
			}
		}
	}
	rec(0, 0, 0)
	return best
}

func TestNonFinite(t *testing.T) {
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		cost := []float64{1, 2, 3, v}
		_, _, err := Hungarian(cost, 2, 2)
		if err == nil || !strings.Contains(err.Error(), "cost[1][1]") {
			t.Errorf("Hungarian with %v: %v", v, err)
		}
		if _, _, err := (Sinkhorn{Epsilon: 0.1, MaxIter: 10}).Plan(cost, 2, 2, []float64{1, 1}, []float64{1, 1}); err == nil {
			t.Errorf("Sinkhorn with %v accepted", v)
		}
		if _, _, err := SimOTA(cost, []float64{.5, .5, .5, .5}, 2, 2, 10); err == nil {
			t.Errorf("SimOTA with %v accepted", v)
		}
	}
	if _, _, err := Hungarian([]float64{}, 0, 3); err != nil {
		t.Errorf("empty: %v", err)
	}
}

func TestSinkhornGolden(t *testing.T) {
	for _, c := range load(t).Sinkhorn {
		s := Sinkhorn{Epsilon: c.Eps, MaxIter: c.Iters, Tol: c.Tol}
		demand := make([]float64, c.N)
		for j := range demand {
			demand[j] = 1
		}
		plan, iters, err := s.Plan(c.Cost, c.G+1, c.N, c.Supply, demand)
		if err != nil {
			t.Fatal(err)
		}
		if iters != c.Niter {
			t.Errorf("g %d n %d: %d iterations, POT %d", c.G, c.N, iters, c.Niter)
		}
		for i := range plan {
			if d := math.Abs(plan[i] - c.Plan[i]); d > 1e-9*math.Max(1, c.Plan[i]) {
				t.Fatalf("g %d n %d eps %g: plan[%d] = %.15g, POT %.15g", c.G, c.N, c.Eps, i, plan[i], c.Plan[i])
			}
		}
		k := make([]float64, c.G)
		copy(k, c.Supply)
		got, _, err := Transport(c.Cost, c.G, c.N, k, s)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, c.Assigned) {
			t.Errorf("g %d n %d: assignment differs from POT's plan", c.G, c.N)
		}
	}
}

func TestSimOTAGolden(t *testing.T) {
	for _, c := range load(t).Simota {
		got, ks, err := SimOTA(c.Cost, c.Ious, c.G, c.N, 10)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ks, c.Ks) {
			t.Errorf("g %d: ks %v, want %v", c.G, ks, c.Ks)
		}
		if !slices.Equal(got, c.Assigned) {
			t.Errorf("g %d: assigned %v, want %v", c.G, got, c.Assigned)
		}
	}
}

func TestStageK(t *testing.T) {
	var got []float64
	for s := 1; s <= 6; s++ {
		got = append(got, StageK(s, 6, 3, 0.5))
	}
	if !slices.Equal(got, []float64{0.5, 1, 1.5, 2, 2.5, 3}) {
		t.Errorf("StageK = %v", got)
	}
}

func TestTransportTooManyPositives(t *testing.T) {
	_, _, err := Transport(make([]float64, 2*3), 1, 3, []float64{3}, Sinkhorn{Epsilon: 0.1, MaxIter: 5})
	if err == nil {
		t.Fatal("k = n accepted")
	}
}

// TestHungarianSquareInit checks the square path (with Jonker-Volgenant
// initialisation) against the rectangular path (scipy's plain method) by
// adding a column too expensive to use.
func TestHungarianSquareInit(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for trial := range 30 {
		n := 2 + r.IntN(80)
		sq := make([]float64, n*n)
		wide := make([]float64, n*(n+1))
		for i := range n {
			for j := range n {
				v := r.Float64()
				if trial%3 == 0 {
					v = float64(r.IntN(5))
				}
				sq[i*n+j] = v
				wide[i*(n+1)+j] = v
			}
			wide[i*(n+1)+n] = 1e6
		}
		r1, c1, err := Hungarian(sq, n, n)
		if err != nil {
			t.Fatal(err)
		}
		r2, c2, err := Hungarian(wide, n, n+1)
		if err != nil {
			t.Fatal(err)
		}
		a, b := total(sq, n, r1, c1), total(wide, n+1, r2, c2)
		if math.Abs(a-b) > 1e-9 {
			t.Fatalf("trial %d n %d: square total %v, rectangular %v", trial, n, a, b)
		}
		seen := map[int]bool{}
		for _, c := range c1 {
			if seen[c] {
				t.Fatalf("trial %d: column %d used twice", trial, c)
			}
			seen[c] = true
		}
	}
}

// logDomainPlan is POT's sinkhorn_log written plainly, the reference for
// the scaled iterations.
func logDomainPlan(cost []float64, rows, cols int, a, b []float64, eps float64, iters int) []float64 {
	u, v := make([]float64, rows), make([]float64, cols)
	lse := func(x []float64) float64 {
		m := math.Inf(-1)
		for _, t := range x {
			m = max(m, t)
		}
		var s float64
		for _, t := range x {
			s += math.Exp(t - m)
		}
		return math.Log(s) + m
	}
	col, row := make([]float64, rows), make([]float64, cols)
	for range iters {
		for j := range cols {
			for i := range rows {
				col[i] = -cost[i*cols+j]/eps + u[i]
			}
			v[j] = math.Log(b[j]) - lse(col)
		}
		for i := range rows {
			for j := range cols {
				row[j] = -cost[i*cols+j]/eps + v[j]
			}
			u[i] = math.Log(a[i]) - lse(row)
		}
	}
	p := make([]float64, rows*cols)
	for i := range rows {
		for j := range cols {
			p[i*cols+j] = math.Exp(-cost[i*cols+j]/eps + u[i] + v[j])
		}
	}
	return p
}

// TestSinkhornScaledMatchesLogDomain runs random problems over a wide range
// of epsilon, where the scaled iterations must fall back to the log domain
// and re-absorb, and compares with the plain log-domain iteration.
func TestSinkhornScaledMatchesLogDomain(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	for trial := range 40 {
		g, n := 1+r.IntN(12), 5+r.IntN(60)
		if trial%10 == 9 {
			g, n = 60, 300 // large enough for the parallel passes
		}
		eps := []float64{1, 0.1, 0.01, 1e-3, 1e-4}[trial%5]
		scale := []float64{0.5, 3, 50}[trial%3]
		cost := make([]float64, (g+1)*n)
		for i := range cost {
			cost[i] = r.Float64() * scale
		}
		a := make([]float64, g+1)
		left := float64(n)
		for i := range g {
			a[i] = 0.2 + r.Float64()*float64(n)/float64(2*g)
			left -= a[i]
		}
		a[g] = left
		b := make([]float64, n)
		for j := range b {
			b[j] = 1
		}
		iters := 1 + r.IntN(60)
		got, _, err := Sinkhorn{Epsilon: eps, MaxIter: iters}.Plan(cost, g+1, n, a, b)
		if err != nil {
			t.Fatal(err)
		}
		want := logDomainPlan(cost, g+1, n, a, b, eps, iters)
		for i := range got {
			if d := math.Abs(got[i] - want[i]); d > 1e-8*math.Max(1, want[i]) || math.IsNaN(got[i]) {
				t.Fatalf("trial %d (g %d n %d eps %g scale %g iters %d): plan[%d] = %g, log domain %g", trial, g, n, eps, scale, iters, i, got[i], want[i])
			}
		}
	}
}

// TestMatchCostGolden compares Sparse R-CNN's matching cost with the
// reference matcher's and the Hungarian assignment of it with scipy's.
func TestMatchCostGolden(t *testing.T) {
	var g struct {
		Matchcost []struct {
			N, G, Classes    int
			Width, Height    float64
			Probs, Boxes, Gt []float64
			Labels           []int
			Cost             []float64
			RowInd           []int `json:"row_ind"`
			ColInd           []int `json:"col_ind"`
		}
	}
	golden.Load(t, "testdata/golden.json", &g)
	if len(g.Matchcost) == 0 {
		t.Fatal("no match cost cases")
	}
	for _, c := range g.Matchcost {
		cost, err := DefaultMatchCost().Matrix(c.Probs, c.Classes, c.Boxes, c.Labels, c.Gt, c.Width, c.Height)
		if err != nil {
			t.Fatal(err)
		}
		for i := range cost {
			if math.Abs(cost[i]-c.Cost[i]) > 1e-12*math.Max(1, math.Abs(c.Cost[i])) {
				t.Fatalf("n %d g %d: cost[%d] = %.15g, want %.15g", c.N, c.G, i, cost[i], c.Cost[i])
			}
		}
		r, col, err := Hungarian(cost, c.N, c.G)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(r, c.RowInd) || !slices.Equal(col, c.ColInd) {
			t.Errorf("n %d g %d: assignment %v %v, scipy %v %v", c.N, c.G, r, col, c.RowInd, c.ColInd)
		}
	}
	bad := []float64{0.5, math.NaN()}
	if _, err := DefaultMatchCost().Matrix(bad, 2, []float64{0, 0, 1, 1}, []int{0}, []float64{0, 0, 1, 1}, 10, 10); err == nil {
		t.Error("NaN probability accepted")
	}
}

// TestFirstK checks the partial selection against a stable sort, ties
// included.
func TestFirstK(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 0))
	for trial := range 200 {
		n := r.IntN(40)
		v := make([]int, n)
		for i := range v {
			v[i] = r.IntN(6)
		}
		lo := 0
		if n > 0 {
			lo = r.IntN(n)
		}
		k := r.IntN(12) - 1
		idx := make([]int, 0, n-lo)
		for j := lo; j < n; j++ {
			idx = append(idx, j)
		}
		slices.SortStableFunc(idx, func(a, b int) int { return v[a] - v[b] })
		want := idx[:max(0, min(k, len(idx)))]
		got := FirstK(lo, n, k, func(a, b int) bool { return v[a] < v[b] })
		if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Fatalf("trial %d: FirstK %v, stable sort %v (values %v from %d, k %d)", trial, got, want, v, lo, k)
		}
	}
}

// TestRoundToMarginals checks that the rounding gives a nonnegative plan
// with the prescribed row and column sums from plans far from them.
func TestRoundToMarginals(t *testing.T) {
	cases := []struct {
		name           string
		plan           []float64
		rows, cols     int
		supply, demand []float64
	}{
		{"too much everywhere", []float64{1, 2, 3, 4, 5, 6}, 2, 3, []float64{1, 2}, []float64{1, 1, 1}},
		{"too little everywhere", []float64{0.01, 0, 0.02, 0.01}, 2, 2, []float64{0.5, 1.5}, []float64{1, 1}},
		{"mixed", []float64{3, 0, 0, 0, 0.1, 0.2, 0, 0, 0.1}, 3, 3, []float64{2.5, 0.25, 0.25}, []float64{1, 1, 1}},
		{"already feasible", []float64{0.5, 0.5, 0.5, 0.5}, 2, 2, []float64{1, 1}, []float64{1, 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := append([]float64(nil), c.plan...)
			RoundToMarginals(p, c.rows, c.cols, c.supply, c.demand)
			for i := range c.rows {
				var s float64
				for j := range c.cols {
					if p[i*c.cols+j] < 0 {
						t.Fatalf("negative entry %v", p)
					}
					s += p[i*c.cols+j]
				}
				if math.Abs(s-c.supply[i]) > 1e-12 {
					t.Errorf("row %d sums to %v, want %v", i, s, c.supply[i])
				}
			}
			for j := range c.cols {
				var s float64
				for i := range c.rows {
					s += p[i*c.cols+j]
				}
				if math.Abs(s-c.demand[j]) > 1e-12 {
					t.Errorf("column %d sums to %v, want %v", j, s, c.demand[j])
				}
			}
		})
	}
	p := []float64{0.5, 0.5, 0.5, 0.5}
	RoundToMarginals(p, 2, 2, []float64{1, 1}, []float64{1, 1})
	if !slices.Equal(p, []float64{0.5, 0.5, 0.5, 0.5}) {
		t.Errorf("a feasible plan changed to %v", p)
	}
}
