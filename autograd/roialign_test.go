package autograd

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"testing"

	"argus/internal/cputime"
	"argus/tensor"
)

// testBoxes returns n seeded xyxy boxes with corners in a w×h image,
// sides from lo to hi pixels.
func testBoxes(seed uint64, n int, w, h, lo, hi float32) *tensor.Tensor {
	rng := tensor.NewRNG(seed)
	c, s := rng.Uniform(0, 1, n, 2).Data(), rng.Uniform(lo, hi, n, 2).Data()
	b := tensor.Zeros(n, 4)
	for i := range n {
		cx, cy := c[2*i]*w, c[2*i+1]*h
		b.Data()[4*i], b.Data()[4*i+1] = cx-s[2*i]/2, cy-s[2*i+1]/2
		b.Data()[4*i+2], b.Data()[4*i+3] = cx+s[2*i]/2, cy+s[2*i+1]/2
	}
	return b
}

// TestRoIAlignGradients checks the gradient with respect to the feature
// maps by central differences; RoIAlign is linear in them, so the
// differences are exact up to rounding.
func TestRoIAlignGradients(t *testing.T) {
	boxes := testBoxes(1, 5, 24, 20, 1, 22)
	batch := []int{0, 1, 0, 1, 1}
	pyramid := PoolerOptions{RoIAlignOptions: RoIAlignOptions{OutputSize: [2]int{2, 2}, SamplingRatio: 2, Aligned: true},
		MinLevel: 1, CanonicalLevel: 2, CanonicalSize: 8}
	cases := []gradCase{
		{name: "aligned", inputs: []*tensor.Tensor{randn(200, 2, 3, 6, 5)}, f: func(x []*Var) *Var {
			return RoIAlign(x[0], boxes, batch, RoIAlignOptions{OutputSize: [2]int{3, 2}, SpatialScale: 0.25, SamplingRatio: 2, Aligned: true})
		}},
		{name: "unaligned-adaptive", inputs: []*tensor.Tensor{randn(201, 2, 2, 10, 12)}, f: func(x []*Var) *Var {
			return RoIAlign(x[0], boxes, batch, RoIAlignOptions{OutputSize: [2]int{2, 3}, SpatialScale: 0.5})
		}},
		{name: "pyramid", inputs: []*tensor.Tensor{randn(202, 2, 2, 10, 12), randn(203, 2, 2, 5, 6), randn(204, 2, 2, 3, 3)},
			f: func(x []*Var) *Var { return MultiLevelRoIAlign(x, boxes, batch, pyramid) }},
	}
	if l := PoolerLevels(boxes, 3, pyramid); slices.Min(l) == slices.Max(l) {
		t.Fatalf("the pyramid case's boxes all go to level %d", l[0])
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkGrad(t, c) })
	}
}

func TestPoolerLevels(t *testing.T) {
	side := func(s ...float32) *tensor.Tensor {
		b := tensor.Zeros(len(s), 4)
		for i, v := range s {
			copy(b.Data()[4*i:], []float32{10, 20, 10 + v, 20 + v})
		}
		return b
	}
	fpn := PoolerOptions{MinLevel: 2, CanonicalLevel: 4, CanonicalSize: 224, Eps: 1e-6}
	small := fpn
	small.CanonicalSize = ScaledCanonical(256, 320) // 71.68
	cases := []struct {
		name  string
		boxes *tensor.Tensor
		opt   PoolerOptions
		want  []int
	}{
		// 224 → P4, 448 → P5, 112 → P3, just below → P2; beyond P5 and
		// below P2 (an empty box too) clamp.
		{"torchvision", side(224, 448, 112, 111, 50, 1000, 0), fpn, []int{2, 3, 1, 0, 0, 3, 0}},
		// On a 256-pixel canvas the fixed 224 puts nearly every box on P2.
		{"small-canvas-fixed", side(20, 40, 80, 110, 160), fpn, []int{0, 0, 0, 0, 1}},
		{"small-canvas-scaled", side(20, 40, 80, 110, 160), small, []int{0, 1, 2, 2, 3}},
		{"three-levels", side(500, 8), PoolerOptions{MinLevel: 3, CanonicalLevel: 4, CanonicalSize: 64}, []int{2, 0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := 4
			if c.opt.MinLevel == 3 {
				n = 3
			}
			if got := PoolerLevels(c.boxes, n, c.opt); !slices.Equal(got, c.want) {
				t.Errorf("levels %v, want %v", got, c.want)
			}
		})
	}
	if got := ScaledCanonical(800, 1333); got != 224 {
		t.Errorf("ScaledCanonical(800, 1333) = %v, want 224", got)
	}
}

// TestRoIAlignWorkers checks that forward and backward give the same bits
// on one worker as on several.
func TestRoIAlignWorkers(t *testing.T) {
	boxes := testBoxes(2, 40, 64, 64, 2, 60)
	batch := make([]int, 40)
	for i := range batch {
		batch[i] = i % 2
	}
	opt := PoolerOptions{RoIAlignOptions: RoIAlignOptions{OutputSize: [2]int{7, 7}, SamplingRatio: 2, Aligned: true},
		MinLevel: 2, CanonicalLevel: 4, CanonicalSize: 32, Eps: 1e-6}
	run := func() (out []float32, grads [][]float32) {
		var fs []*Var
		for l := range 4 {
			fs = append(fs, Param(randn(uint64(300+l), 2, 8, 16>>l, 16>>l)))
		}
		y := MultiLevelRoIAlign(fs, boxes, batch, opt)
		y.Backward(WithGrad(randn(310, y.Shape()...)))
		for _, f := range fs {
			grads = append(grads, f.Grad().Data())
		}
		return y.Value().Data(), grads
	}
	prev := runtime.GOMAXPROCS(1)
	out1, g1 := run()
	runtime.GOMAXPROCS(max(prev, 4))
	out4, g4 := run()
	runtime.GOMAXPROCS(prev)
	if !slices.Equal(out1, out4) {
		t.Error("forward differs between 1 and 4 workers")
	}
	for l := range g1 {
		if !slices.Equal(g1[l], g4[l]) {
			t.Errorf("gradient of level %d differs between 1 and 4 workers", l)
		}
	}
}

// TestRoIAlignDegenerate checks that empty, inverted, non-finite and
// far-away boxes give finite zeros or finite values, never a panic.
func TestRoIAlignDegenerate(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	boxes := tensor.FromSlice([]float32{
		5, 5, 5, 5, // empty
		8, 8, 2, 2, // inverted
		nan, 1, 3, 3,
		0, 0, inf, inf,
		-100, -100, -90, -90, // outside
	}, 5, 4)
	x := Param(randn(400, 1, 2, 8, 8))
	for _, aligned := range []bool{false, true} {
		for _, sr := range []int{0, 2} {
			t.Run(fmt.Sprintf("aligned=%v/sr=%d", aligned, sr), func(t *testing.T) {
				x.ZeroGrad()
				y := RoIAlign(x, boxes, make([]int, 5), RoIAlignOptions{OutputSize: [2]int{2, 2}, SpatialScale: 1, SamplingRatio: sr, Aligned: aligned})
				y.Backward()
				for i, v := range append(slices.Clone(y.Value().Data()), x.Grad().Data()...) {
					if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
						t.Fatalf("element %d is %v", i, v)
					}
				}
				// The box outside the map pools zeros.
				if d := y.Value().Data()[4*2*2:]; slices.Max(d) != 0 || slices.Min(d) != 0 {
					t.Errorf("the box outside pools %v", d)
				}
			})
		}
	}
}

// BenchmarkRoIAlign times forward and backward of 200 boxes over P2 of two
// 256×256 images (256 channels, 7×7 bins, 2×2 samples, aligned), the
// first workload of tools/bench/detection/roialign.
func BenchmarkRoIAlign(b *testing.B) {
	boxes := testBoxes(3, 200, 256, 256, 8, 200)
	batch := make([]int, 200)
	for i := range batch {
		batch[i] = i / 100
	}
	x := Param(randn(500, 2, 256, 64, 64))
	opt := RoIAlignOptions{OutputSize: [2]int{7, 7}, SpatialScale: 0.25, SamplingRatio: 2, Aligned: true}
	g := randn(501, 200, 256, 7, 7)
	for _, pass := range []string{"forward", "backward"} {
		b.Run(pass, func(b *testing.B) {
			y := RoIAlign(x, boxes, batch, opt)
			start := cputime.Now()
			for b.Loop() {
				if pass == "forward" {
					y = RoIAlign(x, boxes, batch, opt)
				} else {
					y.Backward(WithGrad(g), RetainGraph())
				}
			}
			cputime.Report(b, start)
		})
	}
}
