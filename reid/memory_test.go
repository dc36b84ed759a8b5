package reid

import (
	"math"
	"slices"
	"testing"

	"argus/autograd"
	"argus/tensor"
)

func TestPseudoLabels(t *testing.T) {
	labels := []int{1, -1, 0, -1, 1}
	got, k := PseudoLabels(labels, DropOutliers)
	if k != 2 || !slices.Equal(got, []int{1, -1, 0, -1, 1}) {
		t.Errorf("drop: %v %d", got, k)
	}
	got, k = PseudoLabels(labels, OutliersAsInstances)
	if k != 4 || !slices.Equal(got, []int{1, 2, 0, 3, 1}) {
		t.Errorf("instances: %v %d", got, k)
	}
}

func TestNewClusterMemory(t *testing.T) {
	x := []float32{3, 0, 1, 0, 0, 2, 9, 9}
	m, err := NewClusterMemory(x, 4, 2, []int{0, 0, 1, -1}, 2, 0.2, 0.05)
	if err != nil {
		t.Fatal(err)
	}
	// Class 0: mean (2, 0) → (1, 0); class 1: (0, 2) → (0, 1).
	if !slices.Equal(m.Centroids.Data(), []float32{1, 0, 0, 1}) {
		t.Errorf("centroids %v", m.Centroids.Data())
	}
	if _, err := NewClusterMemory(x, 4, 2, []int{0, 0, 0, -1}, 2, 0.2, 0.05); err == nil {
		t.Error("empty class: no error")
	}
	if _, err := NewClusterMemory(x, 4, 2, []int{0, 0, 1, -1}, 2, 0.2, 0); err == nil {
		t.Error("zero temperature: no error")
	}
}

func TestInfoNCEValue(t *testing.T) {
	m := &ClusterMemory{Centroids: tensor.FromSlice([]float32{1, 0, 0, 1}, 2, 2), Temperature: 0.5}
	x := autograd.Param(tensor.FromSlice([]float32{1, 0, 0.6, 0.8, 5, 5}, 3, 2))
	loss, err := m.Loss(x, []int{0, 1, -1})
	if err != nil {
		t.Fatal(err)
	}
	// Sample 0: logits (2, 0); sample 1: (1.2, 1.6); sample 2 is ignored.
	want := (math.Log(1+math.Exp(-2)) + math.Log(1+math.Exp(-0.4))) / 2
	if got := float64(loss.Value().Item()); math.Abs(got-want) > 1e-6 {
		t.Errorf("loss %v, want %v", got, want)
	}
}

// TestInfoNCEGradient checks the gradient against central differences.
func TestInfoNCEGradient(t *testing.T) {
	rng := tensor.NewRNG(7)
	b, d, k := 5, 6, 4
	c := rng.Normal(0, 1, k, d)
	for i := range k {
		normalize(c.Data()[i*d : (i+1)*d])
	}
	m := &ClusterMemory{Centroids: c, Temperature: 0.3}
	xv := rng.Normal(0, 0.5, b, d)
	targets := []int{2, -1, 0, 3, 2}
	x := autograd.Param(xv)
	loss, err := m.Loss(x, targets)
	if err != nil {
		t.Fatal(err)
	}
	loss.Backward()
	g := x.Grad().Data()
	f := func() float64 {
		var l *autograd.Var
		l, _ = m.Loss(autograd.Const(xv), targets)
		return float64(l.Value().Item())
	}
	const h = 1e-2
	for i := range xv.Data() {
		old := xv.Data()[i]
		xv.Data()[i] = old + h
		up := f()
		xv.Data()[i] = old - h
		down := f()
		xv.Data()[i] = old
		num := (up - down) / (2 * h)
		if math.Abs(num-float64(g[i])) > 2e-3+2e-2*math.Abs(num) {
			t.Errorf("grad[%d] = %v, numeric %v", i, g[i], num)
		}
	}
	if slices.ContainsFunc(g[d:2*d], func(v float32) bool { return v != 0 }) {
		t.Error("a sample without target has a gradient")
	}
}

func TestUpdate(t *testing.T) {
	c := []float32{1, 0, 0, 1}
	x := tensor.FromSlice([]float32{0, 1, 0.6, 0.8, 1, 0}, 3, 2)
	m := &ClusterMemory{Centroids: tensor.FromSlice(slices.Clone(c), 2, 2), Momentum: 0.5, Temperature: 0.05}
	if err := m.Update(x, []int{0, 0, -1}); err != nil {
		t.Fatal(err)
	}
	// (1,0) → (0.5,0.5)/|·| → then with (0.6,0.8).
	a := []float64{0.5, 0.5}
	n := math.Hypot(a[0], a[1])
	a = []float64{0.5*a[0]/n + 0.3, 0.5*a[1]/n + 0.4}
	n = math.Hypot(a[0], a[1])
	got := m.Centroids.Data()
	if math.Abs(float64(got[0])-a[0]/n) > 1e-6 || math.Abs(float64(got[1])-a[1]/n) > 1e-6 || got[2] != 0 || got[3] != 1 {
		t.Errorf("sequential update: %v, want %v %v", got, a[0]/n, a[1]/n)
	}

	m = &ClusterMemory{Centroids: tensor.FromSlice(slices.Clone(c), 2, 2), Momentum: 0.5, Temperature: 0.05, Hard: true}
	if err := m.Update(x, []int{0, 0, 1}); err != nil {
		t.Fatal(err)
	}
	// Class 0's hardest sample is (0, 1) (similarity 0 against 0.6).
	h := float32(math.Sqrt(0.5))
	got = m.Centroids.Data()
	if math.Abs(float64(got[0]-h)) > 1e-6 || math.Abs(float64(got[1]-h)) > 1e-6 || math.Abs(float64(got[2]-h)) > 1e-6 {
		t.Errorf("hard update: %v", got)
	}
	if err := m.Update(x, []int{0, 5, 1}); err == nil {
		t.Error("target out of range: no error")
	}
}

// TestOutlierInstances builds a memory in which each outlier is a class
// whose centroid is its own normalised feature.
func TestOutlierInstances(t *testing.T) {
	x := []float32{1, 0, 1, 0, 0, 3}
	targets, k := PseudoLabels([]int{0, 0, -1}, OutliersAsInstances)
	m, err := NewClusterMemory(x, 3, 2, targets, k, 0.2, 0.05)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.Centroids.Data(), []float32{1, 0, 0, 1}) {
		t.Errorf("centroids %v", m.Centroids.Data())
	}
	targets, k = PseudoLabels([]int{0, 0, -1}, DropOutliers)
	m, err = NewClusterMemory(x, 3, 2, targets, k, 0.2, 0.05)
	if err != nil || m.Centroids.Shape()[0] != 1 {
		t.Errorf("drop: %v, %v", m, err)
	}
	if _, err := m.Loss(autograd.Param(tensor.FromSlice(x, 3, 2)), targets); err != nil {
		t.Errorf("loss with a dropped outlier: %v", err)
	}
}
