package sparsercnn

import (
	"fmt"
	"math"
	"strconv"

	"argus/assign"
	"argus/autograd"
	"argus/boxloss"
	"argus/tensor"
)

// Target is one image's ground truth: xyxy boxes in pixels with their
// class indices, and the image's unpadded width and height (the L1 term's
// normaliser).
type Target struct {
	Boxes         [][4]float32
	Labels        []int
	Width, Height float32
}

// Term is one named, weighted term of the loss.
type Term struct {
	Name string
	Loss *autograd.Var
}

// DLA is Dynamic Sparse R-CNN's dynamic label assignment: at stage t of T
// every ground truth supplies k_t = MaxK - Step·(T - t) units of an
// optimal transport to the proposals, the background the rest, each
// proposal demands one; the plan, solved by Sinkhorn, is rescaled by its
// rows' maxima and each proposal goes to the row of its largest entry.
type DLA struct {
	MaxK, Step float64
	Sinkhorn   assign.Sinkhorn
}

// DefaultDLA returns the schedule of the public re-implementation that
// detection.md describes: K = 3, step 0.5 (0.5, 1, ..., 3 over six
// stages), Sinkhorn epsilon 1e-3 and 100 iterations, followed by the
// rounding onto the transport polytope (assign.RoundToMarginals): at that
// epsilon the iterations alone leave the column sums far from the
// demands, and do not reach them in 200000 iterations either.
func DefaultDLA() DLA {
	return DLA{MaxK: 3, Step: 0.5, Sinkhorn: assign.Sinkhorn{Epsilon: 1e-3, MaxIter: 100, Round: true}}
}

// Criterion is Sparse R-CNN's set criterion with deep supervision: every
// stage's predictions are matched to the ground truth afresh (Hungarian,
// or DLA when DLA is not nil) and scored by the sigmoid focal loss over
// all proposals and classes, the L1 distance of the matched boxes divided
// by the image size and their GIoU loss, each summed and divided by the
// batch's number of ground truths (at least 1), the same for every stage,
// and weighted by Focal, L1 and GIoU (2, 5, 2).
type Criterion struct {
	Cost            assign.MatchCost
	Focal, L1, GIoU float64
	Alpha, Gamma    float64
	DLA             *DLA
}

// DefaultCriterion returns the official weights and focal parameters
// under Hungarian matching.
func DefaultCriterion() Criterion {
	return Criterion{Cost: assign.DefaultMatchCost(), Focal: 2, L1: 5, GIoU: 2, Alpha: 0.25, Gamma: 2}
}

// TermNames returns the official names of the loss terms for the given
// number of stages: loss_ce, loss_bbox and loss_giou for the last stage,
// with the suffix _i for the earlier stage i (from 0).
func TermNames(stages int) []string {
	var names []string
	for s := range stages {
		suffix := ""
		if s < stages-1 {
			suffix = "_" + strconv.Itoa(s)
		}
		names = append(names, "loss_ce"+suffix, "loss_bbox"+suffix, "loss_giou"+suffix)
	}
	return names
}

// Match is one stage's assignment in one image: Pred[i] (a proposal of
// the image) is a positive of ground truth GT[i].
type Match struct {
	Pred, GT []int
}

// Match assigns one stage's predictions of image i (n proposals) to its
// ground truth: Hungarian on the matching cost, or DLA's transport at
// stage (1-based) of stages.
func (c Criterion) Match(st Stage, i, n int, t Target, stage, stages int) (Match, error) {
	g := len(t.Labels)
	if g == 0 {
		return Match{}, nil
	}
	cost, probs, err := c.cost(st, i, n, t)
	if err != nil {
		return Match{}, err
	}
	if c.DLA == nil {
		rows, cols, err := assign.Hungarian(cost, n, g)
		if err != nil {
			return Match{}, err
		}
		return Match{Pred: rows, GT: cols}, nil
	}
	return c.DLA.transport(c, cost, probs, n, g, stage, stages)
}

// cost returns the n×g matching cost of image i's predictions and their
// sigmoid probabilities (n×classes).
func (c Criterion) cost(st Stage, i, n int, t Target) (cost, probs []float64, err error) {
	g := len(t.Labels)
	classes := st.Logits.Shape()[1]
	lv := st.Logits.Value().Data()[i*n*classes : (i+1)*n*classes]
	bv := st.Boxes.Value().Data()[4*i*n : 4*(i+1)*n]
	probs = make([]float64, len(lv))
	for j, v := range lv {
		probs[j] = 1 / (1 + math.Exp(-float64(v)))
	}
	boxes := make([]float64, len(bv))
	for j, v := range bv {
		boxes[j] = float64(v)
	}
	gt := make([]float64, 0, 4*g)
	for _, b := range t.Boxes {
		gt = append(gt, float64(b[0]), float64(b[1]), float64(b[2]), float64(b[3]))
	}
	cost, err = c.Cost.Matrix(probs, classes, boxes, t.Labels, gt, float64(t.Width), float64(t.Height))
	return cost, probs, err
}

// transport is DLA's assignment of n proposals to g ground truths from the
// n×g matching cost. The background row's cost is the focal loss of a
// proposal against all-zero targets, Class·Σ_c (1-α)p_c^γ(-log(1-p_c)),
// and a ground truth's row adds the same sum to the matching cost, so that
// each entry is the loss its assignment would incur. k is capped at
// (n - 1)/g so that the background keeps a positive supply. A ground truth
// that receives no positive from the argmax takes, among the proposals
// left to the background, the one of largest rescaled plan entry in its
// row, so every ground truth has a positive while n ≥ g.
func (d *DLA) transport(c Criterion, cost, probs []float64, n, g, stage, stages int) (Match, error) {
	tc, k, err := d.problem(c, cost, probs, n, g, stage, stages)
	if err != nil {
		return Match{}, err
	}
	ks := make([]float64, g)
	for i := range ks {
		ks[i] = k
	}
	owner, plan, err := assign.Transport(tc, g, n, ks, d.Sinkhorn)
	if err != nil {
		return Match{}, fmt.Errorf("sparse r-cnn: DLA at stage %d: %w", stage, err)
	}
	FillUnmatched(owner, plan, g, n)
	var m Match
	for j, o := range owner {
		if o >= 0 {
			m.Pred = append(m.Pred, j)
			m.GT = append(m.GT, o)
		}
	}
	return m, nil
}

// problem returns DLA's (g+1)×n transport cost and the supply k of each
// ground truth.
func (d *DLA) problem(c Criterion, cost, probs []float64, n, g, stage, stages int) (tc []float64, k float64, err error) {
	classes := len(probs) / n
	k = assign.StageK(stage, stages, d.MaxK, d.Step)
	k = min(k, float64(n-1)/float64(g))
	if !(k > 0) {
		return nil, 0, fmt.Errorf("sparse r-cnn: DLA of %d proposals and %d ground truths at stage %d has no supply (k = %v)", n, g, stage, k)
	}
	tc = make([]float64, (g+1)*n)
	for j := range n {
		var bg float64
		for _, p := range probs[j*classes : (j+1)*classes] {
			bg += (1 - c.Alpha) * math.Pow(p, c.Gamma) * -math.Log(1-p+1e-8)
		}
		bg *= c.Cost.Class
		for i := range g {
			tc[i*n+j] = cost[j*g+i] + bg
		}
		tc[g*n+j] = bg
	}
	return tc, k, nil
}

// FillUnmatched gives each of the g ground truths that owns no column of
// owner (n entries, -1 for background) the background column of largest
// plan entry in its row, divided by the row's maximum; ground truths
// are visited in order, and nothing changes when no background column is
// left.
func FillUnmatched(owner []int, plan []float64, g, n int) {
	has := make([]bool, g)
	for _, o := range owner {
		if o >= 0 {
			has[o] = true
		}
	}
	for i := range g {
		if has[i] {
			continue
		}
		row := plan[i*n : (i+1)*n]
		best, arg := math.Inf(-1), -1
		for j, v := range row {
			if owner[j] < 0 && v > best {
				best, arg = v, j
			}
		}
		if arg >= 0 {
			owner[arg] = i
			has[i] = true
		}
	}
}

// Loss returns the weighted terms of every stage (TermNames' order) for
// the stages of a batch of len(targets) images and the matches it used,
// per stage and image.
func (c Criterion) Loss(stages []Stage, targets []Target) ([]Term, [][]Match, error) {
	if len(stages) == 0 {
		return nil, nil, fmt.Errorf("sparse r-cnn: no stages to score")
	}
	b := len(targets)
	rows := stages[0].Logits.Shape()[0]
	if b == 0 || rows%b != 0 {
		return nil, nil, fmt.Errorf("sparse r-cnn: %d predictions for %d images", rows, b)
	}
	n := rows / b
	classes := stages[0].Logits.Shape()[1]
	numBoxes := 0
	for _, t := range targets {
		if len(t.Boxes) != len(t.Labels) {
			return nil, nil, fmt.Errorf("sparse r-cnn: %d boxes and %d labels", len(t.Boxes), len(t.Labels))
		}
		for _, l := range t.Labels {
			if l < 0 || l >= classes {
				return nil, nil, fmt.Errorf("sparse r-cnn: label %d outside [0, %d)", l, classes)
			}
		}
		numBoxes += len(t.Labels)
	}
	norm := float64(max(numBoxes, 1))
	names := TermNames(len(stages))
	var terms []Term
	var matches [][]Match
	for s, st := range stages {
		var pred []int
		var tgt, size []float32
		onehot := tensor.Zeros(rows, classes)
		od := onehot.Data()
		var ms []Match
		for i, t := range targets {
			m, err := c.Match(st, i, n, t, s+1, len(stages))
			if err != nil {
				return nil, nil, fmt.Errorf("stage %d, image %d: %w", s+1, i, err)
			}
			ms = append(ms, m)
			for k, p := range m.Pred {
				gi := m.GT[k]
				row := i*n + p
				od[row*classes+t.Labels[gi]] = 1
				pred = append(pred, row)
				bx := t.Boxes[gi]
				tgt = append(tgt, bx[0], bx[1], bx[2], bx[3])
				size = append(size, t.Width, t.Height, t.Width, t.Height)
			}
		}
		matches = append(matches, ms)
		focal := autograd.SigmoidFocalLoss(st.Logits, onehot, float32(c.Alpha), float32(c.Gamma), autograd.ReduceSum)
		terms = append(terms, Term{names[3*s], autograd.Scale(focal, float32(c.Focal/norm))})
		var l1, giou *autograd.Var
		if len(pred) == 0 {
			l1 = autograd.Const(tensor.Scalar(0))
			giou = autograd.Const(tensor.Scalar(0))
		} else {
			src := autograd.IndexSelect(st.Boxes, 0, pred)
			t := tensor.FromSlice(tgt, len(pred), 4)
			sz := autograd.Const(tensor.FromSlice(size, len(pred), 4))
			tn := tensor.Zeros(len(pred), 4)
			for j, v := range tgt {
				tn.Data()[j] = v / size[j]
			}
			l1 = autograd.L1Loss(autograd.Div(src, sz), autograd.Const(tn), autograd.ReduceSum)
			giou = boxloss.GIoU(src, autograd.Const(t), boxloss.Sum)
		}
		terms = append(terms, Term{names[3*s+1], autograd.Scale(l1, float32(c.L1/norm))},
			Term{names[3*s+2], autograd.Scale(giou, float32(c.GIoU/norm))})
	}
	return terms, matches, nil
}
