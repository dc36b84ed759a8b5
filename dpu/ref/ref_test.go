package ref

import (
	"fmt"
	"testing"

	"argus/internal/geom"
	"argus/internal/golden"
)

type goldenCase struct {
	Op                       string
	H, W, C, OC              int
	KH, KW, SH, SW           int
	Top, Bottom, Left, Right int
	ShiftBias                int `json:"shift_bias"`
	ShiftCut                 int `json:"shift_cut"`
	Act                      int
	ActFix                   int `json:"act_fix"`
	Round                    int
	Mult                     int
	ShiftA                   int `json:"shift_a"`
	ShiftB                   int `json:"shift_b"`
	Input, Input2            []int8
	Weights, Bias            []int8
	Output                   []int8
}

// TestGoldenLayers holds the reference layers to PyTorch's convolutions and
// pooling with the DPU requantisation applied in numpy
// (tools/dpu/golden.py).
func TestGoldenLayers(t *testing.T) {
	var g struct{ Cases []goldenCase }
	golden.Load(t, "testdata/layers.json", &g)
	if len(g.Cases) == 0 {
		t.Fatal("no cases")
	}
	for i, c := range g.Cases {
		t.Run(fmt.Sprintf("%d_%s", i, c.Op), func(t *testing.T) {
			in := Tensor{H: c.H, W: c.W, C: c.C, Data: c.Input}
			k := geom.Window{Kernel: []int{c.KH, c.KW}, Stride: []int{c.SH, c.SW}, Padding: []int{c.Top, c.Left}, PadEnd: []int{c.Bottom, c.Right}}
			q := Out{ShiftCut: c.ShiftCut, Act: c.Act, ActFix: c.ActFix, Round: c.Round}
			var got Tensor
			switch c.Op {
			case "conv":
				got = Conv(in, c.Weights, c.Bias, c.OC, k, c.ShiftBias, q)
			case "depthwise":
				got = Depthwise(in, c.Weights, c.Bias, k, c.ShiftBias, q)
			case "maxpool":
				got = MaxPool(in, k)
			case "avgpool":
				got = AvgPool(in, k, c.Mult, c.ShiftCut, c.Round)
			case "add":
				got = Add(in, Tensor{H: c.H, W: c.W, C: c.C, Data: c.Input2}, c.ShiftA, c.ShiftB, q)
			case "mul":
				got = Mul(in, Tensor{H: c.H, W: c.W, C: c.C, Data: c.Input2}, c.ShiftA, c.ShiftB, q)
			default:
				t.Fatalf("unknown op %q", c.Op)
			}
			if len(got.Data) != len(c.Output) {
				t.Fatalf("%d outputs, golden has %d", len(got.Data), len(c.Output))
			}
			for j := range got.Data {
				if got.Data[j] != c.Output[j] {
					t.Fatalf("output %d = %d, golden %d", j, got.Data[j], c.Output[j])
				}
			}
		})
	}
}

func TestRoundHalves(t *testing.T) {
	tests := []struct {
		x    int64
		s    int
		want [3]int64 // dpu, standard, py3
	}{
		{5, 1, [3]int64{3, 3, 2}},
		{-5, 1, [3]int64{-2, -3, -2}},
		{-3, 1, [3]int64{-1, -2, -2}},
		{3, 2, [3]int64{1, 1, 1}},
	}
	for _, tt := range tests {
		for m, w := range tt.want {
			if got := Round(tt.x, tt.s, m); got != w {
				t.Errorf("Round(%d, %d, %d) = %d, want %d", tt.x, tt.s, m, got, w)
			}
		}
	}
}
