package autograd

import (
	"strings"
	"testing"

	"argus/tensor"
)

// channelState reports, for each of the N·C maps of y computed from x by
// Dropout2d with probability p, whether it was kept (every element x/(1−p))
// or dropped (every element 0); a map that is neither is an error.
func channelState(t *testing.T, x, y *tensor.Tensor, p float32) []bool {
	t.Helper()
	s := x.Shape()
	maps := s[0] * s[1]
	per := x.Len() / maps
	xd, yd := x.Data(), y.Data()
	kept := make([]bool, maps)
	for m := 0; m < maps; m++ {
		zero, scaled := true, true
		for j := m * per; j < (m+1)*per; j++ {
			if yd[j] != 0 {
				zero = false
			}
			if d := yd[j] - xd[j]/(1-p); d > 1e-6 || d < -1e-6 {
				scaled = false
			}
		}
		if !zero && !scaled {
			t.Fatalf("map %d is neither dropped nor kept and scaled", m)
		}
		kept[m] = !zero
	}
	return kept
}

func TestDropout2dChannels(t *testing.T) {
	for _, c := range []struct {
		name  string
		shape []int
		p     float32
	}{
		{"psp-head", []int{4, 250, 3, 3}, 0.1},
		{"half", []int{8, 125, 2, 5}, 0.5},
		{"one-by-one", []int{2, 500, 1, 1}, 0.3},
		{"3d", []int{10, 100, 7}, 0.25},
	} {
		t.Run(c.name, func(t *testing.T) {
			// Away from 0, so that a kept element is never 0.
			x := awayFrom(11, []float32{0}, 0.05, c.shape...)
			y := Dropout2d(Const(x), c.p, true, tensor.NewRNG(3)).Value()
			kept := channelState(t, x, y, c.p)
			dropped := 0
			for _, k := range kept {
				if !k {
					dropped++
				}
			}
			// 1000 maps: the dropped share is within 0.05 of p (about 3.5
			// standard deviations at p = 0.5) for this fixed seed.
			if f := float32(dropped) / float32(len(kept)); f < c.p-0.05 || f > c.p+0.05 {
				t.Fatalf("dropped %d of %d maps (%.3f), want about %v", dropped, len(kept), f, c.p)
			}
			again := channelState(t, x, Dropout2d(Const(x), c.p, true, tensor.NewRNG(3)).Value(), c.p)
			for m := range kept {
				if kept[m] != again[m] {
					t.Fatalf("the same seed dropped map %d once and kept it once", m)
				}
			}
		})
	}
}

func TestDropout2dIdentityAndExtremes(t *testing.T) {
	x := Param(randn(4, 2, 3, 2, 2))
	for _, c := range []struct {
		name     string
		p        float32
		training bool
	}{{"eval", 0.5, false}, {"p0", 0, true}} {
		if Dropout2d(x, c.p, c.training, nil) != x {
			t.Errorf("%s: Dropout2d changed its input", c.name)
		}
	}
	y := Dropout2d(x, 1, true, tensor.NewRNG(1))
	for i, v := range y.Value().Data() {
		if v != 0 {
			t.Fatalf("p = 1: element %d = %v, want 0", i, v)
		}
	}
}

func TestDropout2dGrad(t *testing.T) {
	checkGrad(t, gradCase{name: "dropout2d", inputs: []*tensor.Tensor{randn(8, 3, 4, 2, 3)},
		f: func(x []*Var) *Var { return Dropout2d(x[0], 0.5, true, tensor.NewRNG(2)) }})
	// The gradient is the mask: a dropped map passes nothing back.
	x := Param(randn(9, 2, 6, 2, 2))
	y := Dropout2d(x, 0.5, true, tensor.NewRNG(4))
	y.Backward(WithGrad(tensor.Ones(y.Shape()...)))
	kept := channelState(t, x.Value(), y.Value(), 0.5)
	g := x.Grad().Data()
	for m, k := range kept {
		want := float32(0)
		if k {
			want = 2
		}
		for j := m * 4; j < (m+1)*4; j++ {
			if g[j] != want {
				t.Fatalf("gradient %d of map %d = %v, want %v", j, m, g[j], want)
			}
		}
	}
}

func TestDropout2dPanics(t *testing.T) {
	for _, c := range []struct {
		name string
		fn   func()
		want string
	}{
		{"probability", func() { Dropout2d(Param(tensor.Zeros(1, 2, 2, 2)), -0.1, true, tensor.NewRNG(1)) }, "outside [0, 1]"},
		{"rank", func() { Dropout2d(Param(tensor.Zeros(5)), 0.1, true, tensor.NewRNG(1)) }, "want N×C"},
	} {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				r, _ := recover().(string)
				if !strings.Contains(r, c.want) {
					t.Fatalf("panic %q, want one containing %q", r, c.want)
				}
			}()
			c.fn()
		})
	}
}
