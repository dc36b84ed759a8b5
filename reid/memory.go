package reid

import (
	"fmt"
	"math"

	"argus/autograd"
	"argus/internal/kernels"
	"argus/tensor"
)

// Outliers says what training does with the points DBSCAN leaves unclustered.
type Outliers int

const (
	// DropOutliers leaves outliers out of the loss, as cluster-contrast does.
	DropOutliers Outliers = iota
	// OutliersAsInstances makes each outlier a class of its own, as SpCL's
	// hybrid memory keeps un-clustered instances.
	OutliersAsInstances
)

// PseudoLabels turns clustering labels (-1 for outliers) into training
// targets and the number of classes. Clusters keep their numbers; with
// OutliersAsInstances the outliers get the numbers after the last cluster in
// index order, otherwise their target stays -1.
func PseudoLabels(labels []int, policy Outliers) (targets []int, classes int) {
	for _, l := range labels {
		classes = max(classes, l+1)
	}
	targets = make([]int, len(labels))
	for i, l := range labels {
		targets[i] = l
		if l < 0 {
			targets[i] = -1
			if policy == OutliersAsInstances {
				targets[i] = classes
				classes++
			}
		}
	}
	return targets, classes
}

// ClusterMemory holds one unit-norm centroid per pseudo class for
// cluster-wise contrastive learning (cluster-contrast's ClusterMemory).
type ClusterMemory struct {
	// Centroids is classes×dim with unit rows.
	Centroids *tensor.Tensor
	// Momentum m of the update c ← m·c + (1-m)·x.
	Momentum float32
	// Temperature divides the similarities in the loss.
	Temperature float32
	// Hard updates each class once per batch with its hardest sample (the
	// one least similar to the centroid) instead of with every sample in
	// turn, as cluster-contrast's hard-sample memory does.
	Hard bool
}

// NewClusterMemory initialises the centroids from n×d features and their
// targets: each centroid is the L2-normalised mean of its class's features.
// Samples with a negative target are skipped; every class in 0..classes-1
// must have at least one sample.
func NewClusterMemory(features []float32, n, d int, targets []int, classes int, momentum, temperature float32) (*ClusterMemory, error) {
	if d < 1 || len(features) != n*d || len(targets) != n {
		return nil, fmt.Errorf("cluster memory: %d values and %d targets for %d features of dimension %d", len(features), len(targets), n, d)
	}
	if !(temperature > 0) || !(momentum >= 0 && momentum <= 1) {
		return nil, fmt.Errorf("cluster memory: momentum %v outside [0, 1] or temperature %v not positive", momentum, temperature)
	}
	if classes < 1 {
		return nil, fmt.Errorf("cluster memory: no classes")
	}
	sum := make([]float64, classes*d)
	count := make([]int, classes)
	for i, t := range targets {
		if t < 0 {
			continue
		}
		if t >= classes {
			return nil, fmt.Errorf("cluster memory: target %d of sample %d is not below %d classes", t, i, classes)
		}
		count[t]++
		for k, v := range features[i*d : (i+1)*d] {
			sum[t*d+k] += float64(v)
		}
	}
	c := tensor.Zeros(classes, d)
	cd := c.Data()
	for t := range classes {
		if count[t] == 0 {
			return nil, fmt.Errorf("cluster memory: class %d has no samples", t)
		}
		row := cd[t*d : (t+1)*d]
		for k := range row {
			row[k] = float32(sum[t*d+k] / float64(count[t]))
		}
		normalize(row)
	}
	return &ClusterMemory{Centroids: c, Momentum: momentum, Temperature: temperature}, nil
}

// normalize scales v to unit norm; a zero vector stays zero.
func normalize(v []float32) {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s == 0 {
		return
	}
	inv := float32(1 / math.Sqrt(s))
	for i := range v {
		v[i] *= inv
	}
}

// Loss returns the InfoNCE loss of a batch x (B×d, normally L2-normalised)
// against the centroids: the mean over samples with a non-negative target
// of cross-entropy(x·Cᵀ/τ, target). Its gradient flows to x; the centroids
// are a memory, not parameters. The centroids are copied, so an Update
// before Backward does not change the gradient.
func (m *ClusterMemory) Loss(x *autograd.Var, targets []int) (*autograd.Var, error) {
	s := x.Shape()
	k, d := m.Centroids.Shape()[0], m.Centroids.Shape()[1]
	if len(s) != 2 || s[1] != d || len(targets) != s[0] {
		return nil, fmt.Errorf("cluster memory loss: input %v with %d targets, memory %d×%d", s, len(targets), k, d)
	}
	valid := 0
	for i, t := range targets {
		if t >= k {
			return nil, fmt.Errorf("cluster memory loss: target %d of sample %d is not below %d classes", t, i, k)
		}
		if t >= 0 {
			valid++
		}
	}
	if valid == 0 {
		return nil, fmt.Errorf("cluster memory loss: no sample has a target")
	}
	return autograd.Apply(&infoNCE{x: x, c: m.Centroids.Clone(), targets: targets, temp: m.Temperature, valid: valid}), nil
}

// infoNCE is the differentiable op behind ClusterMemory.Loss.
type infoNCE struct {
	x       *autograd.Var
	c       *tensor.Tensor
	targets []int
	temp    float32
	valid   int
	prob    []float32 // softmax of the logits, B×k
}

func (o *infoNCE) Operands() []*autograd.Var { return []*autograd.Var{o.x} }

func (o *infoNCE) Forward() *tensor.Tensor {
	b, d := o.x.Shape()[0], o.x.Shape()[1]
	k := o.c.Shape()[0]
	logits := make([]float32, b*k)
	kernels.Sgemm(false, true, b, k, d, 1/o.temp, o.x.Value().Data(), d, o.c.Data(), d, 0, logits, k)
	var loss float64
	for i := range b {
		row := logits[i*k : (i+1)*k]
		mx := row[0]
		for _, v := range row {
			mx = max(mx, v)
		}
		t := o.targets[i]
		var lt float64
		if t >= 0 {
			lt = float64(row[t] - mx)
		}
		var z float64
		for j, v := range row {
			e := math.Exp(float64(v - mx))
			row[j] = float32(e)
			z += e
		}
		if t >= 0 {
			loss += math.Log(z) - lt // -log softmax at the target
		}
		for j := range row {
			row[j] = float32(float64(row[j]) / z)
		}
	}
	o.prob = logits
	return tensor.Scalar(float32(loss / float64(o.valid)))
}

func (o *infoNCE) Backward(g *tensor.Tensor) []*tensor.Tensor {
	b, d := o.x.Shape()[0], o.x.Shape()[1]
	k := o.c.Shape()[0]
	scale := g.Data()[0] / float32(o.valid)
	dl := make([]float32, b*k)
	for i := range b {
		t := o.targets[i]
		if t < 0 {
			continue
		}
		for j := range k {
			dl[i*k+j] = o.prob[i*k+j] * scale
		}
		dl[i*k+t] -= scale
	}
	gx := tensor.Zeros(b, d)
	kernels.Sgemm(false, false, b, d, k, 1/o.temp, dl, k, o.c.Data(), d, 0, gx.Data(), d)
	return []*tensor.Tensor{gx}
}

// Update moves the centroids towards the batch x (B×d) with momentum and
// renormalises them; samples with a negative target are skipped. Without
// Hard, samples update their centroid one after the other in batch order;
// with Hard, each class present in the batch is updated once with its
// sample of lowest similarity to the current centroid.
func (m *ClusterMemory) Update(x *tensor.Tensor, targets []int) error {
	k, d := m.Centroids.Shape()[0], m.Centroids.Shape()[1]
	s := x.Shape()
	if len(s) != 2 || s[1] != d || len(targets) != s[0] {
		return fmt.Errorf("cluster memory update: input %v with %d targets, memory %d×%d", s, len(targets), k, d)
	}
	for i, t := range targets {
		if t >= k {
			return fmt.Errorf("cluster memory update: target %d of sample %d is not below %d classes", t, i, k)
		}
	}
	xd, cd := x.Data(), m.Centroids.Data()
	mom := m.Momentum
	move := func(t, i int) {
		c, v := cd[t*d:(t+1)*d], xd[i*d:(i+1)*d]
		for j := range c {
			c[j] = mom*c[j] + (1-mom)*v[j]
		}
		normalize(c)
	}
	if !m.Hard {
		for i, t := range targets {
			if t >= 0 {
				move(t, i)
			}
		}
		return nil
	}
	// Hardest sample per class, classes in order of first appearance.
	hardest := map[int]int{}
	var order []int
	sim := func(t, i int) float32 {
		var s float32
		c, v := cd[t*d:(t+1)*d], xd[i*d:(i+1)*d]
		for j := range c {
			s += c[j] * v[j]
		}
		return s
	}
	for i, t := range targets {
		if t < 0 {
			continue
		}
		h, ok := hardest[t]
		if !ok {
			order = append(order, t)
			hardest[t] = i
		} else if sim(t, i) < sim(t, h) {
			hardest[t] = i
		}
	}
	for _, t := range order {
		move(t, hardest[t])
	}
	return nil
}
