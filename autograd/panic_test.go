package autograd

import (
	"strings"
	"testing"

	"argus/tensor"
)

func TestRefusals(t *testing.T) {
	empty := Param(tensor.Zeros(2, 0))
	cases := []struct {
		name string
		f    func()
		want string
	}{
		{"Mean/empty", func() { Mean(empty) }, "Mean of empty tensor"},
		{"MeanAxes/empty", func() { MeanAxes(empty, false, 1) }, "over empty axes"},
		{"Softmax/empty", func() { Softmax(empty, 1) }, "over empty axis"},
		{"LogSoftmax/empty", func() { LogSoftmax(empty, -1) }, "over empty axis"},
		{"SumAxes/none", func() { SumAxes(empty, false) }, "over no axes"},
		{"Add/shapes", func() { Add(Param(tensor.Zeros(2, 3)), Param(tensor.Zeros(4))) }, "do not broadcast"},
		{"Linear/shapes", func() { Linear(Param(tensor.Zeros(2, 3)), Param(tensor.Zeros(4, 2)), nil) }, "Linear of input"},
		{"Conv2d/groups", func() {
			Conv2d(Param(tensor.Zeros(1, 3, 4, 4)), Param(tensor.Zeros(4, 3, 3, 3)), nil, Conv2dOptions{Groups: 2})
		}, "groups"},
		{"Conv2d/too-small", func() {
			Conv2d(Param(tensor.Zeros(1, 1, 2, 2)), Param(tensor.Zeros(1, 1, 3, 3)), nil, Conv2dOptions{})
		}, "gives no output"},
		{"CrossEntropy/target", func() { CrossEntropy(Param(tensor.Zeros(2, 3)), []int{0, 3}, CrossEntropyOptions{}) }, "out of range"},
		{"CrossEntropy/count", func() { CrossEntropy(Param(tensor.Zeros(2, 3)), []int{0}, CrossEntropyOptions{}) }, "targets"},
		{"BatchNorm2d/eval", func() {
			BatchNorm2d(Param(tensor.Zeros(2, 3, 2, 2)), nil, nil, nil, nil, BatchNormOptions{})
		}, "running statistics"},
		{"BatchNorm2d/single", func() {
			BatchNorm2d(Param(tensor.Zeros(1, 3, 1, 1)), nil, nil, nil, nil, BatchNormOptions{Training: true})
		}, "more than one value"},
		{"Dropout/p", func() { Dropout(empty, 1.5, true, tensor.NewRNG(1)) }, "outside [0, 1]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil {
					t.Fatalf("no panic, want one mentioning %q", c.want)
				}
				if msg, _ := r.(string); !strings.Contains(msg, c.want) {
					t.Fatalf("panic %v, want one mentioning %q", r, c.want)
				}
			}()
			c.f()
		})
	}
}

func TestSumOfEmptyIsZero(t *testing.T) {
	if v := Sum(Param(tensor.Zeros(0, 3))).Value().Item(); v != 0 {
		t.Fatalf("Sum of empty = %v, want 0", v)
	}
}

func TestDropoutEval(t *testing.T) {
	x := Param(tensor.Ones(10))
	if Dropout(x, 0.5, false, nil) != x {
		t.Fatal("Dropout in evaluation changed its input")
	}
	y := Dropout(x, 0.5, true, tensor.NewRNG(3))
	zeros := 0
	for _, v := range y.Value().Data() {
		switch v {
		case 0:
			zeros++
		case 2:
		default:
			t.Fatalf("Dropout value %v, want 0 or 2", v)
		}
	}
	if zeros == 0 || zeros == 10 {
		t.Fatalf("Dropout(0.5) zeroed %d of 10", zeros)
	}
}

func TestBatchNormRunningStats(t *testing.T) {
	x := Param(tensor.FromSlice([]float32{1, 2, 3, 4, 5, 6, 7, 8}, 2, 2, 2, 1))
	rm, rv := tensor.Zeros(2), tensor.Ones(2)
	BatchNorm2d(x, nil, nil, rm, rv, BatchNormOptions{Training: true, Momentum: 0.1})
	// Channel 0 holds 1, 2, 5, 6: mean 3.5, unbiased variance 17/3.
	if got := rm.Data()[0]; abs32(got-0.35) > 1e-6 {
		t.Errorf("running mean = %v, want 0.35", got)
	}
	if got, want := rv.Data()[0], float32(0.9+0.1*17.0/3); abs32(got-want) > 1e-6 {
		t.Errorf("running var = %v, want %v", got, want)
	}
}

func abs32(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}

func TestNormsUnderNoGradMatch(t *testing.T) {
	x := randn(1, 2, 4, 3, 3)
	w, b := randn(2, 4), randn(3, 4)
	rm, rv := randn(4, 4), uniform(5, 0.5, 2, 4)
	px, pw, pb := Param(x), Param(w), Param(b)
	run := func() []*tensor.Tensor {
		return []*tensor.Tensor{
			BatchNorm2d(px, pw, pb, rm, rv, BatchNormOptions{}).Value(),
			GroupNorm(px, 2, pw, pb, 0).Value(),
			LayerNorm(px, []int{3, 3}, nil, nil, 0).Value(),
		}
	}
	want := run()
	var got []*tensor.Tensor
	NoGrad([]*Var{px, pw, pb}, func() { got = run() })
	for i := range want {
		for j, v := range want[i].Data() {
			if got[i].Data()[j] != v {
				t.Fatalf("norm %d element %d under NoGrad = %v, want %v", i, j, got[i].Data()[j], v)
			}
		}
	}
}
