package partition

import (
	"strings"
	"testing"

	"argus/compiler/quant"
	"argus/dpu/target"
)

// one returns a model of a single layer l over an input of shape in, its
// output of shape out.
func one(l quant.Layer, in, out [3]int) *quant.Model {
	l.Inputs, l.Output = []string{"x"}, "y"
	return &quant.Model{Input: "x", Outputs: []string{"y"},
		Tensors: []quant.Tensor{{Name: "x", Shape: in}, {Name: "y", Shape: out}},
		Layers:  []quant.Layer{l}}
}

func conv(k, s int, pad [4]int) quant.Layer {
	return quant.Layer{Name: "c", Op: quant.OpConv, Kernel: [2]int{k, k}, Stride: [2]int{s, s}, Pad: pad}
}

func TestUnsupported(t *testing.T) {
	tests := []struct {
		name    string
		l       quant.Layer
		in, out [3]int
		want    string // a part of the reason; "" for the DPU
	}{
		{"3x3 conv", conv(3, 1, [4]int{1, 1, 1, 1}), [3]int{64, 56, 56}, [3]int{64, 56, 56}, ""},
		{"kernel 17", conv(17, 1, [4]int{}), [3]int{16, 32, 32}, [3]int{16, 16, 16}, "kernel 17x17 outside 1-16"},
		{"stride 9", conv(3, 9, [4]int{}), [3]int{16, 32, 32}, [3]int{16, 4, 4}, "stride 9x9 outside 1-8"},
		{"padding as wide as the kernel", conv(3, 1, [4]int{3, 0, 0, 0}), [3]int{16, 8, 8}, [3]int{16, 9, 6}, "padding 3 exceeds kernel-1 = 2"},
		{"weights-bank rule", conv(7, 1, [4]int{3, 3, 3, 3}), [3]int{1024, 7, 7}, [3]int{16, 7, 7}, "exceeds a weight bank"},
		{"too many channels", quant.Layer{Name: "f", Op: quant.OpFC}, [3]int{25088, 1, 1}, [3]int{4096, 1, 1}, "25088 input or 4096 output channels exceed 4096"},
		{"fc of 4096", quant.Layer{Name: "f", Op: quant.OpFC}, [3]int{4096, 1, 1}, [3]int{1000, 1, 1}, ""},
		{"too wide", conv(1, 1, [4]int{}), [3]int{16, 4, 2048}, [3]int{16, 4, 2048}, "width 2048 exceeds the 1024 pixels"},
		{"rows too big for a bank group", conv(3, 1, [4]int{1, 1, 1, 1}), [3]int{2048, 8, 1000}, [3]int{16, 8, 1000}, "do not fit a feature-map bank group"},
		{"depthwise", quant.Layer{Name: "d", Op: quant.OpDepthwise, Kernel: [2]int{3, 3}, Stride: [2]int{1, 1}}, [3]int{32, 8, 8}, [3]int{32, 6, 6}, ""},
		{"average factor", quant.Layer{Name: "p", Op: quant.OpAvgPool, Kernel: [2]int{2, 2}, Stride: [2]int{2, 2}, AvgMult: 300}, [3]int{8, 8, 8}, [3]int{8, 4, 4}, "average factor"},
		{"shift of a sum", quant.Layer{Name: "a", Op: quant.OpAdd, ShiftA: 16}, [3]int{8, 8, 8}, [3]int{8, 8, 8}, "shifts do not fit ELEWINIT"},
		{"flatten of a vector", quant.Layer{Name: "f", Op: quant.OpFlatten}, [3]int{8, 1, 1}, [3]int{8, 1, 1}, ""},
		{"flatten of a map", quant.Layer{Name: "f", Op: quant.OpFlatten}, [3]int{8, 2, 2}, [3]int{32, 1, 1}, "reorders the bytes"},
		{"sigmoid", quant.Layer{Name: "s", Op: quant.OpSigmoid}, [3]int{8, 2, 2}, [3]int{8, 2, 2}, "table"},
		{"conv shift_cut", quant.Layer{Name: "c", Op: quant.OpConv, Kernel: [2]int{1, 1}, Stride: [2]int{1, 1}, ShiftCut: 32}, [3]int{8, 2, 2}, [3]int{8, 2, 2}, "shifts do not fit CONVINIT"},
	}
	tg, err := target.Lookup("zu9")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := one(tt.l, tt.in, tt.out)
			got := Unsupported(m, &m.Layers[0], tg)
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Errorf("Unsupported = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestSplitGroups checks that the plan places every layer once, with the
// reason for the CPU ones, and that the subgraphs are the runs of one
// device.
func TestSplitGroups(t *testing.T) {
	m := &quant.Model{Input: "x", Outputs: []string{"e"}, Tensors: []quant.Tensor{{Name: "x", Shape: [3]int{8, 4, 4}}}}
	add := func(name, in string, l quant.Layer, shape [3]int) {
		l.Name, l.Inputs, l.Output = name, []string{in}, name
		m.Layers = append(m.Layers, l)
		m.Tensors = append(m.Tensors, quant.Tensor{Name: name, Shape: shape})
	}
	add("a", "x", conv(3, 1, [4]int{1, 1, 1, 1}), [3]int{8, 4, 4})
	add("b", "a", quant.Layer{Op: quant.OpSigmoid}, [3]int{8, 4, 4})
	add("c", "b", quant.Layer{Op: quant.OpFlatten}, [3]int{128, 1, 1})
	add("d", "c", quant.Layer{Op: quant.OpFC}, [3]int{10, 1, 1})
	add("e", "d", quant.Layer{Op: quant.OpReLU}, [3]int{10, 1, 1})
	tg, err := target.Lookup("zu2")
	if err != nil {
		t.Fatal(err)
	}
	p := Split(m, tg)
	var devs []string
	for i, pl := range p.Placements {
		if pl.Layer != i || pl.Name != m.Layers[i].Name {
			t.Errorf("placement %d is of layer %d %q", i, pl.Layer, pl.Name)
		}
		if (pl.Device == CPU) != (pl.Reason != "") {
			t.Errorf("layer %s on %s with reason %q", pl.Name, pl.Device, pl.Reason)
		}
		devs = append(devs, string(pl.Device))
	}
	if got := strings.Join(devs, " "); got != "dpu cpu cpu dpu dpu" {
		t.Errorf("devices %s, want dpu cpu cpu dpu dpu", got)
	}
	want := []Subgraph{{DPU, 0, 1}, {CPU, 1, 3}, {DPU, 3, 5}}
	if len(p.Subgraphs) != len(want) {
		t.Fatalf("subgraphs %+v, want %+v", p.Subgraphs, want)
	}
	for i := range want {
		if p.Subgraphs[i] != want[i] {
			t.Errorf("subgraph %d = %+v, want %+v", i, p.Subgraphs[i], want[i])
		}
	}
	if n := len(p.CPUOps()); n != 2 {
		t.Errorf("%d CPU ops, want 2", n)
	}
}
