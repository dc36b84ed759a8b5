package fuse

import (
	"slices"
	"strings"
	"testing"

	"argus/compiler/quant"
	"argus/dpu/ref"
)

// layer is a crafted layer: "op name <- in1 in2", with act set by a
// trailing "+relu" on the op.
func craft(t *testing.T, out []string, spec ...string) *quant.Model {
	t.Helper()
	m := &quant.Model{Input: "x", Outputs: out}
	m.Tensors = append(m.Tensors, quant.Tensor{Name: "x", Shape: [3]int{8, 4, 4}})
	for _, s := range spec {
		head, ins, ok := strings.Cut(s, "<-")
		if !ok {
			t.Fatalf("bad spec %q", s)
		}
		f := strings.Fields(head)
		op, act := strings.CutSuffix(f[0], "+relu")
		l := quant.Layer{Name: f[1], Op: quant.Op(op), Inputs: strings.Fields(ins), Output: f[1]}
		if act {
			l.Act = ref.ActReLU
		}
		m.Layers = append(m.Layers, l)
		c := 8
		if l.Op == quant.OpConcat {
			c = 8 * len(l.Inputs)
		}
		m.Tensors = append(m.Tensors, quant.Tensor{Name: f[1], Shape: [3]int{c, 4, 4}})
	}
	return m
}

func all(int) bool       { return true }
func same(_, _ int) bool { return true }

func TestMatch(t *testing.T) {
	tests := []struct {
		name     string
		spec     []string
		outputs  []string
		template string
		want     [][]int
	}{
		{"conv+relu", []string{"conv+relu a <- x", "conv b <- a"}, []string{"b"}, "conv+bias+relu", [][]int{{0}}},
		{"conv then pool", []string{"conv a <- x", "maxpool b <- a"}, []string{"b"}, "conv+pool", [][]int{{0, 1}}},
		{"pool reads a model output", []string{"conv a <- x", "maxpool b <- a"}, []string{"a", "b"}, "conv+pool", nil},
		{"conv read twice", []string{"conv a <- x", "maxpool b <- a", "avgpool c <- a"}, []string{"b", "c"}, "conv+pool", nil},
		{"residual", []string{"conv a <- x", "conv b <- a", "add+relu c <- b a"}, []string{"c"}, "conv+eltwise+relu", [][]int{{1, 2}}},
		{"plain sum", []string{"conv a <- x", "conv b <- x", "add c <- a b"}, []string{"c"}, "conv+eltwise", [][]int{{0, 2}, {1, 2}}},
		{"sum of a relu is not plain", []string{"conv a <- x", "conv b <- x", "add+relu c <- a b"}, []string{"c"}, "conv+eltwise", nil},
		{"add of one tensor twice", []string{"conv a <- x", "add c <- a a"}, []string{"c"}, "conv+eltwise", nil},
		{"inception", []string{"conv a <- x", "maxpool b <- x", "conv c <- b", "concat d <- a c x"}, []string{"d"}, "concat", [][]int{{0, 3}, {2, 3}}},
	}
	byName := map[string]Template{}
	for _, tp := range Templates {
		byName[tp.Name] = tp
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := craft(t, tt.outputs, tt.spec...)
			tp, ok := byName[tt.template]
			if !ok {
				t.Fatalf("no template %q", tt.template)
			}
			got := Match(NewGraph(m), tp)
			slices.SortFunc(got, slices.Compare)
			if !slices.EqualFunc(got, tt.want, slices.Equal) {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCandidates(t *testing.T) {
	spec := []string{"conv+relu a <- x", "conv b <- a", "add+relu c <- b a", "maxpool d <- c", "conv e <- d", "concat f <- e d"}
	tests := []struct {
		name string
		o    Options
		want []string
	}{
		{"everything realisable", Options{OnDPU: all, Same: same, Whole: all},
			[]string{"conv+bias+relu[0]", "eltwise+relu[2]", "conv+eltwise+relu[1,2]", "eltwise+pool[2,3]", "concat[4,5]"}},
		{"nothing whole", Options{OnDPU: all, Same: same, Whole: func(int) bool { return false }},
			[]string{"conv+bias+relu[0]", "eltwise+relu[2]", "concat[4,5]"}},
		{"concat on the CPU", Options{OnDPU: func(i int) bool { return i != 5 }, Same: same, Whole: all},
			[]string{"conv+bias+relu[0]", "eltwise+relu[2]", "conv+eltwise+relu[1,2]", "eltwise+pool[2,3]"}},
		{"split subgraphs", Options{OnDPU: all, Same: func(i, j int) bool { return i >= 2 && j >= 2 }, Whole: all},
			[]string{"conv+bias+relu[0]", "eltwise+relu[2]", "eltwise+pool[2,3]", "concat[4,5]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := craft(t, []string{"f"}, spec...)
			// "a" is read twice, so no Resident group starts at layer 0.
			var got []string
			for _, g := range Candidates(m, tt.o) {
				got = append(got, g.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Candidates = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSelect(t *testing.T) {
	res := func(gain int64, layers ...int) Group {
		return Group{Template: "r", Kind: Resident, Layers: layers, Gain: gain}
	}
	tests := []struct {
		name  string
		cands []Group
		want  []string
	}{
		// Greedy by gain would take the middle group (3) and lose both
		// neighbours (2 + 2).
		{"not greedy", []Group{res(2, 0, 1), res(3, 1, 2), res(2, 2, 3)}, []string{"r[0,1]", "r[2,3]"}},
		{"the larger of two", []Group{res(2, 0, 1), res(5, 1, 2)}, []string{"r[1,2]"}},
		{"kinds do not conflict on layers", []Group{res(2, 0, 1), {Template: "a", Kind: Absorbed, Layers: []int{0}}},
			[]string{"r[0,1]", "a[0]"}},
		{"one tensor kept once", []Group{
			{Template: "c", Kind: Addressed, Layers: []int{0, 2}, Tensors: []string{"t"}, Gain: 4},
			{Template: "r", Kind: Resident, Layers: []int{0, 1}, Tensors: []string{"t"}, Gain: 6},
		}, []string{"r[0,1]"}},
		{"none", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Select(tt.cands)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, g := range got {
				names = append(names, g.String())
			}
			if !slices.Equal(names, tt.want) {
				t.Errorf("Select = %v, want %v", names, tt.want)
			}
		})
	}
}

func TestSelectTooMany(t *testing.T) {
	var cands []Group
	for i := range maxComponent + 1 {
		cands = append(cands, Group{Template: "r", Kind: Resident, Layers: []int{i, i + 1}, Gain: 1})
	}
	if _, err := Select(cands); err == nil {
		t.Fatal("no error for a chain of conflicts longer than the search takes")
	}
}
