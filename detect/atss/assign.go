package atss

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"argus/assign"
	"argus/box"
)

// Problem is the assignment problem of one image: the anchors and ground
// truths and, for the assigners that read them, the current predictions.
// Coordinates are xyxy pixels.
type Problem struct {
	// Anchors holds 4 coordinates per anchor, in the order of an Output.
	Anchors []float64
	// Levels are the pyramid levels the anchors lie on.
	Levels []Level
	// Boxes holds 4 coordinates per ground truth, Labels its class.
	Boxes  []float64
	Labels []int
	// Classes is the number of classes of Scores.
	Classes int
	// Scores are the predicted class probabilities (σ of the logits), A×
	// Classes; Centerness the predicted centerness probabilities, A; Pred
	// the decoded predicted boxes, 4 per anchor. Only assigners whose
	// Predictive reports true read them.
	Scores, Centerness, Pred []float64
}

// anchorCount returns the number of anchors.
func (p *Problem) anchorCount() int { return len(p.Anchors) / 4 }

// strides returns each anchor's stride.
func (p *Problem) strides() []float64 {
	s := make([]float64, 0, p.anchorCount())
	for _, l := range p.Levels {
		for range l.H * l.W {
			s = append(s, float64(l.Stride))
		}
	}
	return s
}

// Assigner chooses the positive anchors of each ground truth: Assign
// returns, for every anchor, the index of the ground truth it is a
// positive of, or -1 for a negative. Every assigner leaves each ground
// truth at least one positive while there are at least as many anchors as
// ground truths.
type Assigner interface {
	Assign(p *Problem) ([]int, error)
	// Predictive reports whether Assign reads the predictions.
	Predictive() bool
}

// centreMargin is ATSS's bound on the distance from an anchor's centre to
// each side of a box, for the centre to count as inside.
const centreMargin = 0.01

// geometry holds the quantities of anchors against ground truths that the
// assigners share: IoUs (g×n), centre distances (g×n) and whether each
// anchor's centre lies inside each box.
type geometry struct {
	g, n   int
	iou    []float64
	dist   []float64
	inside []bool
	cx, cy []float64
}

func newGeometry(p *Problem) geometry {
	g, n := len(p.Labels), p.anchorCount()
	geo := geometry{g: g, n: n, iou: box.IoU(p.Boxes, p.Anchors), dist: make([]float64, g*n), inside: make([]bool, g*n),
		cx: make([]float64, n), cy: make([]float64, n)}
	for j := range n {
		a := p.Anchors[4*j : 4*j+4]
		geo.cx[j], geo.cy[j] = (a[0]+a[2])/2, (a[1]+a[3])/2
	}
	for i := range g {
		b := p.Boxes[4*i : 4*i+4]
		gx, gy := (b[0]+b[2])/2, (b[1]+b[3])/2
		for j := range n {
			dx, dy := geo.cx[j]-gx, geo.cy[j]-gy
			geo.dist[i*n+j] = math.Sqrt(dx*dx + dy*dy)
			l, t, r, bt := geo.cx[j]-b[0], geo.cy[j]-b[1], b[2]-geo.cx[j], b[3]-geo.cy[j]
			geo.inside[i*n+j] = min(l, t, r, bt) > centreMargin
		}
	}
	return geo
}

// byIoU returns the k first anchors of ground truth i by decreasing IoU,
// then increasing centre distance, then index (all of them when k is at
// least their number): the preference order in which a ground truth left
// without a positive takes one.
func (geo geometry) byIoU(i, k int) []int {
	n := geo.n
	iou, dist := geo.iou[i*n:i*n+n], geo.dist[i*n:i*n+n]
	return assign.FirstK(0, n, k, func(a, b int) bool {
		return iou[a] > iou[b] || iou[a] == iou[b] && dist[a] < dist[b]
	})
}

// fallback returns the lazily built preference lists of ground truth i
// after its own: the 16 anchors of its highest IoUs, then all of them
// (rarely needed: only when those 16 are the only positives of others).
func (geo geometry) fallback(i int) []func() []int {
	return []func() []int{
		func() []int { return geo.byIoU(i, 16) },
		func() []int {
			idx := make([]int, geo.n)
			for j := range idx {
				idx[j] = j
			}
			iou, dist := geo.iou[i*geo.n:(i+1)*geo.n], geo.dist[i*geo.n:(i+1)*geo.n]
			slices.SortStableFunc(idx, func(a, b int) int {
				if c := cmp.Compare(iou[b], iou[a]); c != 0 {
					return c
				}
				return cmp.Compare(dist[a], dist[b])
			})
			return idx
		},
	}
}

// resolve gives each anchor positive for several ground truths to the one
// of highest IoU (the first on ties), as ATSS does; pos is g×n.
func (geo geometry) resolve(pos []bool) []int {
	out := make([]int, geo.n)
	for j := range out {
		out[j] = -1
		best := math.Inf(-1)
		for i := range geo.g {
			if pos[i*geo.n+j] && geo.iou[i*geo.n+j] > best {
				best, out[j] = geo.iou[i*geo.n+j], i
			}
		}
	}
	return out
}

// ensurePositive gives every ground truth left without a positive one
// anchor: ground truths in order, each takes the first anchor of its
// preference lists (built and tried in turn) that is negative or whose
// ground truth keeps another positive. This is ours: ATSS's centre
// condition and SimOTA's conflicts can leave a ground truth with none.
func ensurePositive(assigned []int, g int, prefs func(i int) []func() []int) {
	count := make([]int, g)
	for _, o := range assigned {
		if o >= 0 {
			count[o]++
		}
	}
	for i := range g {
		if count[i] > 0 {
			continue
		}
	search:
		for _, list := range prefs(i) {
			for _, j := range list() {
				if o := assigned[j]; o < 0 || count[o] > 1 {
					if o >= 0 {
						count[o]--
					}
					assigned[j] = i
					count[i]++
					break search
				}
			}
		}
	}
}

// ATSS is the adaptive training sample selection of Zhang et al.: the
// candidates of a ground truth are the TopK anchors of each level nearest
// to its centre; those whose IoU is at least the candidates' mean plus
// their (unbiased) standard deviation and whose centre lies inside the box
// are its positives; an anchor positive for several goes to the one of
// highest IoU.
type ATSS struct {
	// TopK is the number of candidates per level (9).
	TopK int
}

// Predictive implements Assigner.
func (ATSS) Predictive() bool { return false }

// Assign implements Assigner.
func (a ATSS) Assign(p *Problem) ([]int, error) {
	if a.TopK < 1 {
		return nil, fmt.Errorf("atss assigner: top-k %d, want at least 1", a.TopK)
	}
	geo := newGeometry(p)
	g, n := geo.g, geo.n
	pos := make([]bool, g*n)
	cands := make([][]int, g)
	for i := range g {
		start := 0
		d := geo.dist[i*n : i*n+n]
		for _, l := range p.Levels {
			m := l.H * l.W
			cands[i] = append(cands[i], assign.FirstK(start, start+m, a.TopK, func(x, y int) bool { return d[x] < d[y] })...)
			start += m
		}
		var sum float64
		for _, j := range cands[i] {
			sum += geo.iou[i*n+j]
		}
		k := float64(len(cands[i]))
		mean := sum / k
		var ss float64
		for _, j := range cands[i] {
			d := geo.iou[i*n+j] - mean
			ss += d * d
		}
		std := math.NaN() // torch.std of one value
		if k > 1 {
			std = math.Sqrt(ss / (k - 1))
		}
		thr := mean + std
		for _, j := range cands[i] {
			if geo.iou[i*n+j] >= thr && geo.inside[i*n+j] {
				pos[i*n+j] = true
			}
		}
	}
	out := geo.resolve(pos)
	ensurePositive(out, g, func(i int) []func() []int {
		own := func() []int {
			c := slices.Clone(cands[i])
			iou := geo.iou[i*n : i*n+n]
			slices.SortStableFunc(c, func(x, y int) int { return cmp.Compare(iou[y], iou[x]) })
			return c
		}
		return append([]func() []int{own}, geo.fallback(i)...)
	})
	return out, nil
}

// TopK is ATSS's TOPK mode: each ground truth's K anchors of highest IoU
// (ties to the nearer centre) are its positives where their centre lies
// inside the box; an anchor positive for several goes to the one of
// highest IoU.
type TopK struct {
	K int
}

// Predictive implements Assigner.
func (TopK) Predictive() bool { return false }

// Assign implements Assigner.
func (a TopK) Assign(p *Problem) ([]int, error) {
	if a.K < 1 {
		return nil, fmt.Errorf("topk assigner: k %d, want at least 1", a.K)
	}
	geo := newGeometry(p)
	g, n := geo.g, geo.n
	pos := make([]bool, g*n)
	for i := range g {
		iou, dist := geo.iou[i*n:i*n+n], geo.dist[i*n:i*n+n]
		top := assign.FirstK(0, n, a.K, func(x, y int) bool {
			return iou[x] > iou[y] || iou[x] == iou[y] && dist[x] < dist[y]
		})
		for _, j := range top {
			if geo.inside[i*n+j] {
				pos[i*n+j] = true
			}
		}
	}
	out := geo.resolve(pos)
	ensurePositive(out, g, geo.fallback)
	return out, nil
}

// SimOTA is YOLOX's SimOTA on the dense detector, with the centerness in
// the place of YOLOX's objectness: the candidates are the anchors whose
// centre lies inside some ground truth or within Radius strides of its
// centre; the cost of a candidate for a ground truth is the BCE of
// sqrt(class score · centerness) against the one-hot label summed over
// the classes, plus 3·(−log IoU) of the predicted box, plus 1e5 unless the
// centre is both inside the box and within the radius; each ground truth
// takes its k cheapest candidates, k = max(1, ⌊sum of its Q largest
// IoUs⌋) (assign.SimOTA).
type SimOTA struct {
	// Q is the number of largest IoUs summed for k (10), Radius the
	// centre region's half-width in strides (2.5).
	Q      int
	Radius float64
}

// Predictive implements Assigner.
func (SimOTA) Predictive() bool { return true }

// Assign implements Assigner.
func (a SimOTA) Assign(p *Problem) ([]int, error) {
	q := make([]int, len(p.Labels))
	for i := range q {
		q[i] = a.Q
	}
	return dynamicAssign(p, a.Radius, q)
}

// HPS is HPS-Det's assignment: the number of positives of each ground
// truth is searched per object-scale band (Bands splits the ground truths
// by the square root of their area; K holds one value per band, one more
// than Bands) and chosen at every iteration from the current predictions:
// a ground truth of band b gets k = max(1, ⌊sum of the K[b] largest IoUs
// of its candidates' predicted boxes⌋) positives, so that K[b] is reached
// when the predictions are perfect and fewer are taken while they are
// poor, as OTA's dynamic k. Candidates, costs and conflicts are SimOTA's;
// with every K at 10 it is SimOTA.
type HPS struct {
	Bands  []float64
	K      []int
	Radius float64
}

// DefaultBands are COCO's object-size bands: sqrt(area) below 32, below
// 96, and above.
var DefaultBands = []float64{32, 96}

// Predictive implements Assigner.
func (HPS) Predictive() bool { return true }

// Band returns the band of a box: the number of band bounds at most its
// sqrt(area).
func Band(bands []float64, b []float64) int {
	s := math.Sqrt(max(b[2]-b[0], 0) * max(b[3]-b[1], 0))
	k := 0
	for _, t := range bands {
		if s >= t {
			k++
		}
	}
	return k
}

// Validate reports a K of the wrong length or a value below 1.
func (a HPS) Validate() error {
	if len(a.K) != len(a.Bands)+1 {
		return fmt.Errorf("hps assigner: %d values of k for %d bands", len(a.K), len(a.Bands)+1)
	}
	for i, k := range a.K {
		if k < 1 {
			return fmt.Errorf("hps assigner: k %d of band %d, want at least 1", k, i)
		}
	}
	for i := 1; i < len(a.Bands); i++ {
		if !(a.Bands[i] > a.Bands[i-1]) {
			return fmt.Errorf("hps assigner: band bounds %v do not increase", a.Bands)
		}
	}
	return nil
}

// Assign implements Assigner.
func (a HPS) Assign(p *Problem) ([]int, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	q := make([]int, len(p.Labels))
	for i := range q {
		q[i] = a.K[Band(a.Bands, p.Boxes[4*i:4*i+4])]
	}
	return dynamicAssign(p, a.Radius, q)
}

// dynamicAssign is SimOTA with q largest IoUs per ground truth.
func dynamicAssign(p *Problem, radius float64, q []int) ([]int, error) {
	geo := newGeometry(p)
	g, n := geo.g, geo.n
	out := make([]int, n)
	for j := range out {
		out[j] = -1
	}
	if g == 0 {
		return out, nil
	}
	if len(p.Scores) != n*p.Classes || len(p.Centerness) != n || len(p.Pred) != 4*n {
		return nil, fmt.Errorf("atss: %d scores, %d centerness and %d box values for %d anchors of %d classes", len(p.Scores), len(p.Centerness), len(p.Pred), n, p.Classes)
	}
	stride := p.strides()
	// Candidates: centre inside some box or some centre region;
	// inBoth[i·n+j]: inside box i and its centre region.
	inBoth := make([]bool, g*n)
	var cand []int
	for j := range n {
		any := false
		for i := range g {
			b := p.Boxes[4*i : 4*i+4]
			gx, gy := (b[0]+b[2])/2, (b[1]+b[3])/2
			r := radius * stride[j]
			inC := geo.cx[j] > gx-r && geo.cx[j] < gx+r && geo.cy[j] > gy-r && geo.cy[j] < gy+r
			inB := min(geo.cx[j]-b[0], geo.cy[j]-b[1], b[2]-geo.cx[j], b[3]-geo.cy[j]) > 0
			inBoth[i*n+j] = inB && inC
			any = any || inB || inC
		}
		if any {
			cand = append(cand, j)
		}
	}
	if len(cand) == 0 {
		cand = make([]int, n)
		for j := range cand {
			cand[j] = j
		}
	}
	m := len(cand)
	pred := make([]float64, 4*m)
	for c, j := range cand {
		copy(pred[4*c:4*c+4], p.Pred[4*j:4*j+4])
	}
	ious := box.IoU(p.Boxes, pred)
	cost := make([]float64, g*m)
	for i := range g {
		for c, j := range cand {
			iou := ious[i*m+c]
			if math.IsNaN(iou) {
				return nil, fmt.Errorf("atss: predicted box %v of anchor %d is not finite or empty", p.Pred[4*j:4*j+4], j)
			}
			v := clsCost(p.Scores[j*p.Classes:(j+1)*p.Classes], p.Centerness[j], p.Labels[i]) + 3*-math.Log(iou+1e-8)
			if !inBoth[i*n+j] {
				v += 1e5
			}
			cost[i*m+c] = v
		}
	}
	// assign.SimOTA with one q per ground truth: k row by row, then the
	// cheapest selection over all rows.
	ks := make([]int, g)
	for i := range g {
		ks[i] = assign.DynamicK(ious[i*m:i*m+m], 1, m, q[i])[0]
	}
	owner, err := assign.Cheapest(cost, g, m, ks)
	if err != nil {
		return nil, fmt.Errorf("atss: %w", err)
	}
	for c, j := range cand {
		out[j] = owner[c]
	}
	ensurePositive(out, g, func(i int) []func() []int {
		own := func() []int {
			idx := make([]int, m)
			for c := range idx {
				idx[c] = c
			}
			row := cost[i*m : i*m+m]
			slices.SortStableFunc(idx, func(x, y int) int { return cmp.Compare(row[x], row[y]) })
			for c := range idx {
				idx[c] = cand[idx[c]]
			}
			return idx
		}
		return append([]func() []int{own}, geo.fallback(i)...)
	})
	return out, nil
}

// clsCost is YOLOX's classification cost: the BCE of sqrt(score ·
// centerness) against the one-hot label, summed over the classes, each
// log clamped at −100 as torch's binary_cross_entropy.
func clsCost(scores []float64, ctr float64, label int) float64 {
	var s float64
	for c, v := range scores {
		pr := math.Sqrt(v * ctr)
		if c == label {
			s -= max(math.Log(pr), -100)
		} else {
			s -= max(math.Log(1-pr), -100)
		}
	}
	return s
}
