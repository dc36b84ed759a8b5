package sparsercnn

import (
	"fmt"
	"math"
	"testing"

	"argus/autograd"
	"argus/nn"
)

// TestLossFinite checks that no loss term or gradient is NaN or infinite
// on images without ground truth, with degenerate boxes, or with more
// ground truths than proposals, under both assignments.
func TestLossFinite(t *testing.T) {
	g, d, x, _ := loadStep(t)
	many := Target{Width: 64, Height: 64}
	for i := range 130 {
		f := float32(i % 60)
		many.Boxes = append(many.Boxes, [4]float32{f, f / 2, f + 4, f/2 + 3})
		many.Labels = append(many.Labels, i%g.Classes)
	}
	cases := map[string][]Target{
		"empty": {{Width: 64, Height: 64}, {Width: 56, Height: 48}},
		"degenerate": {
			{Boxes: [][4]float32{{10, 10, 10, 30}, {5, 5, 5, 5}}, Labels: []int{0, 1}, Width: 64, Height: 64},
			{Width: 56, Height: 48},
		},
		"more than 100": {many, {Boxes: [][4]float32{{0, 0, 56, 48}}, Labels: []int{2}, Width: 56, Height: 48}},
	}
	for name, targets := range cases {
		for _, mode := range []string{"hungarian", "dla"} {
			t.Run(name+"/"+mode, func(t *testing.T) {
				crit := DefaultCriterion()
				if mode == "dla" {
					dla := DefaultDLA()
					crit.DLA = &dla
				}
				for _, p := range nn.Parameters(d) {
					p.Var.ZeroGrad()
				}
				stages := d.Forward(autograd.Const(x), g.Sizes)
				terms, _, err := crit.Loss(stages, targets)
				if err != nil {
					t.Fatal(err)
				}
				total := terms[0].Loss
				for _, tm := range terms {
					if v := tm.Loss.Value().Item(); math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
						t.Fatalf("%s = %v", tm.Name, v)
					}
					if tm.Loss != total {
						total = autograd.Add(total, tm.Loss)
					}
				}
				total.Backward()
				for _, p := range nn.Parameters(d) {
					if gr := p.Var.Grad(); gr != nil {
						for i, v := range gr.Data() {
							if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
								t.Fatalf("gradient of %s[%d] = %v", p.Name, i, v)
							}
						}
					}
				}
			})
		}
	}
}

// TestDLAPlanMarginals checks that DLA's transport plan has the supplies
// as row sums and unit column sums, and that every ground truth gets a
// positive (the documented choice) while there are as many proposals.
func TestDLAPlanMarginals(t *testing.T) {
	g, d, x, targets := loadStep(t)
	stages := d.Forward(autograd.Const(x), g.Sizes)
	// The default: 100 iterations at epsilon 1e-3 leave the plan far from
	// its marginals; the rounding onto the transport polytope restores
	// them.
	dla := DefaultDLA()
	crit := DefaultCriterion()
	crit.DLA = &dla
	n := g.Proposals
	for s, st := range stages {
		for i, tg := range targets {
			t.Run(fmt.Sprintf("stage %d image %d", s+1, i), func(t *testing.T) {
				m, err := crit.Match(st, i, n, tg, s+1, len(stages))
				if err != nil {
					t.Fatal(err)
				}
				got := map[int]bool{}
				for _, gi := range m.GT {
					got[gi] = true
				}
				if len(got) != len(tg.Labels) {
					t.Errorf("%d of %d ground truths have a positive", len(got), len(tg.Labels))
				}
				cost, probs, err := crit.cost(st, i, n, tg)
				if err != nil {
					t.Fatal(err)
				}
				ng := len(tg.Labels)
				tc, k, err := dla.problem(crit, cost, probs, n, ng, s+1, len(stages))
				if err != nil {
					t.Fatal(err)
				}
				supply := make([]float64, ng+1)
				for r := range ng {
					supply[r] = k
				}
				supply[ng] = float64(n) - k*float64(ng)
				demand := make([]float64, n)
				for j := range demand {
					demand[j] = 1
				}
				plan, _, err := dla.Sinkhorn.Plan(tc, ng+1, n, supply, demand)
				if err != nil {
					t.Fatal(err)
				}
				for r := range ng + 1 {
					var sum float64
					for j := range n {
						sum += plan[r*n+j]
					}
					if math.Abs(sum-supply[r]) > 1e-6 {
						t.Errorf("row %d sums to %v, supply %v", r, sum, supply[r])
					}
				}
				for j := range n {
					var sum float64
					for r := range ng + 1 {
						sum += plan[r*n+j]
					}
					if math.Abs(sum-1) > 1e-6 {
						t.Errorf("column %d sums to %v", j, sum)
					}
				}
			})
		}
	}
}

// TestFillUnmatched checks the documented choice: a ground truth left
// without a positive by the argmax takes its best background column.
func TestFillUnmatched(t *testing.T) {
	owner := []int{0, 0, -1, -1}
	plan := []float64{
		0.9, 0.8, 0.1, 0.2, // ground truth 0 owns columns 0 and 1
		0.5, 0.4, 0.1, 0.3, // ground truth 1: column 3 is its best free one
		0.1, 0.1, 0.9, 0.9, // background
	}
	FillUnmatched(owner, plan, 2, 4)
	if want := []int{0, 0, -1, 1}; fmt.Sprint(owner) != fmt.Sprint(want) {
		t.Fatalf("owner %v, want %v", owner, want)
	}
}
