package quant

import (
	"strings"
	"testing"

	"argus/dpu/ref"
)

// model returns a model of the tensors named by pos (position by name)
// and the layers.
func model(pos map[string]int, layers ...Layer) *Model {
	m := &Model{Input: "x"}
	for _, name := range []string{"x", "a", "c", "y"} {
		if p, ok := pos[name]; ok {
			m.Tensors = append(m.Tensors, Tensor{Name: name, Shape: [3]int{1, 1, 1}, Pos: p})
		}
	}
	m.Layers = layers
	return m
}

func TestLegalize(t *testing.T) {
	tests := []struct {
		name  string
		pos   map[string]int
		layer Layer
		// want holds the positions after legalisation by tensor name (x,
		// a, c, y), and "w", "b" for the layer's weights and bias.
		want  map[string]int
		check func(t *testing.T, l Layer)
	}{
		{
			name:  "sigmoid input clamped to 15, output raised to 7",
			pos:   map[string]int{"x": 17, "y": 3},
			layer: Layer{Op: OpSigmoid, Inputs: []string{"x"}, Output: "y"},
			want:  map[string]int{"x": 15, "y": 7},
		},
		{
			name:  "sigmoid negative input position raised to 0",
			pos:   map[string]int{"x": -3, "y": 9},
			layer: Layer{Op: OpSigmoid, Inputs: []string{"x"}, Output: "y"},
			want:  map[string]int{"x": 0, "y": 9},
		},
		{
			name:  "sigmoid output at most 14 above the input",
			pos:   map[string]int{"x": 2, "y": 20},
			layer: Layer{Op: OpSigmoid, Inputs: []string{"x"}, Output: "y"},
			want:  map[string]int{"x": 2, "y": 16},
		},
		{
			name:  "eltwise shift at most 15: the finer input moves",
			pos:   map[string]int{"a": 20, "c": 2, "y": 4},
			layer: Layer{Op: OpAdd, Inputs: []string{"a", "c"}, Output: "y"},
			want:  map[string]int{"a": 17, "c": 2, "y": 4},
			check: func(t *testing.T, l Layer) {
				if l.ShiftA != 0 || l.ShiftB != 15 || l.ShiftCut != 13 {
					t.Errorf("shifts a %d b %d cut %d, want 0, 15, 13", l.ShiftA, l.ShiftB, l.ShiftCut)
				}
			},
		},
		{
			name:  "eltwise output no finer than its finer input",
			pos:   map[string]int{"a": 5, "c": 6, "y": 9},
			layer: Layer{Op: OpAdd, Inputs: []string{"a", "c"}, Output: "y"},
			want:  map[string]int{"a": 5, "c": 6, "y": 6},
			check: func(t *testing.T, l Layer) {
				if l.ShiftA != 1 || l.ShiftB != 0 || l.ShiftCut != 0 {
					t.Errorf("shifts a %d b %d cut %d, want 1, 0, 0", l.ShiftA, l.ShiftB, l.ShiftCut)
				}
			},
		},
		{
			name:  "product output at most the sum of the inputs",
			pos:   map[string]int{"a": 3, "c": 4, "y": 9},
			layer: Layer{Op: OpMul, Inputs: []string{"a", "c"}, Output: "y"},
			want:  map[string]int{"y": 7},
		},
		{
			name:  "concat inputs share the lowest position",
			pos:   map[string]int{"a": 5, "c": 7, "y": 6},
			layer: Layer{Op: OpConcat, Inputs: []string{"a", "c"}, Output: "y"},
			want:  map[string]int{"a": 5, "c": 5, "y": 5},
		},
		{
			name:  "max pooling keeps the position",
			pos:   map[string]int{"x": 6, "y": 4},
			layer: Layer{Op: OpMaxPool, Inputs: []string{"x"}, Output: "y"},
			want:  map[string]int{"x": 4, "y": 4},
		},
		{
			name:  "average pooling keeps the position and its factor",
			pos:   map[string]int{"x": 3, "y": 8},
			layer: Layer{Op: OpAvgPool, Inputs: []string{"x"}, Output: "y", AvgMult: 7, ShiftCut: 6},
			want:  map[string]int{"x": 3, "y": 3},
			check: func(t *testing.T, l Layer) {
				if l.AvgMult != 7 || l.ShiftCut != 6 {
					t.Errorf("factor %d/2^%d, want 7/2^6", l.AvgMult, l.ShiftCut)
				}
			},
		},
		{
			name:  "shift_cut above 16 lowers the weights' position, then shift_bias the bias's",
			pos:   map[string]int{"x": 5, "y": 3},
			layer: Layer{Op: OpConv, Inputs: []string{"x"}, Output: "y", WeightPos: 20, BiasPos: 2},
			want:  map[string]int{"x": 5, "y": 3, "w": 14, "b": 4},
			check: func(t *testing.T, l Layer) {
				if l.ShiftCut != 16 || l.ShiftBias != 15 {
					t.Errorf("shift_cut %d shift_bias %d, want 16, 15", l.ShiftCut, l.ShiftBias)
				}
			},
		},
		{
			name:  "negative shift_cut raises the weights' position",
			pos:   map[string]int{"x": 2, "y": 6},
			layer: Layer{Op: OpConv, Inputs: []string{"x"}, Output: "y", WeightPos: 1, BiasPos: 5},
			want:  map[string]int{"w": 4, "b": 5},
			check: func(t *testing.T, l Layer) {
				if l.ShiftCut != 0 || l.ShiftBias != 1 {
					t.Errorf("shift_cut %d shift_bias %d, want 0, 1", l.ShiftCut, l.ShiftBias)
				}
			},
		},
		{
			name:  "negative shift_bias (an all-zero bias at 18) lowers the bias's position",
			pos:   map[string]int{"x": 5, "y": 6},
			layer: Layer{Op: OpFC, Inputs: []string{"x"}, Output: "y", WeightPos: 7, BiasPos: ZeroPos},
			want:  map[string]int{"w": 7, "b": 12},
		},
		{
			name:  "ReLU6 output position within act_fix's range",
			pos:   map[string]int{"x": 5, "y": -2},
			layer: Layer{Op: OpDepthwise, Act: ref.ActReLU6, Inputs: []string{"x"}, Output: "y", WeightPos: 0, BiasPos: 0},
			want:  map[string]int{"y": 0, "w": 0, "b": 0},
			check: func(t *testing.T, l Layer) {
				if l.ActFix != 0 || l.ShiftCut != 5 {
					t.Errorf("act_fix %d shift_cut %d, want 0, 5", l.ActFix, l.ShiftCut)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := model(tt.pos, tt.layer)
			changes, err := Legalize(m)
			if err != nil {
				t.Fatal(err)
			}
			l := m.Layers[0]
			for name, want := range tt.want {
				var got int
				switch name {
				case "w":
					got = l.WeightPos
				case "b":
					got = l.BiasPos
				default:
					got = m.Tensor(name).Pos
				}
				if got != want {
					t.Errorf("position of %s = %d, want %d (changes %+v)", name, got, want, changes)
				}
			}
			if tt.check != nil {
				tt.check(t, l)
			}
			// Legalising again changes nothing.
			if again, err := Legalize(m); err != nil || len(again) != 0 {
				t.Errorf("second legalisation: %v, %+v", err, again)
			}
		})
	}
}

// TestLegalizeChain checks that a move made for one layer that breaks
// another is repaired in a later round: the pooling lowers its input,
// which is the convolution's output.
func TestLegalizeChain(t *testing.T) {
	m := model(map[string]int{"x": 4, "a": 9, "y": 2},
		Layer{Name: "conv", Op: OpConv, Inputs: []string{"x"}, Output: "a", WeightPos: 6, BiasPos: 6},
		Layer{Name: "pool", Op: OpMaxPool, Inputs: []string{"a"}, Output: "y"},
	)
	if _, err := Legalize(m); err != nil {
		t.Fatal(err)
	}
	if a := m.Tensor("a").Pos; a != 2 {
		t.Errorf("pool input position %d, want 2", a)
	}
	// The convolution's shift_cut 4 + 6 − 2 = 8 is legal and stays.
	if l := m.Layers[0]; l.ShiftCut != 8 || l.WeightPos != 6 {
		t.Errorf("conv shift_cut %d weights %d, want 8, 6", l.ShiftCut, l.WeightPos)
	}
}

func TestLegalizeErrors(t *testing.T) {
	m := model(map[string]int{"x": 1, "y": 1}, Layer{Name: "c", Op: OpConv, Inputs: []string{"missing"}, Output: "y"})
	if _, err := Legalize(m); err == nil || !strings.Contains(err.Error(), `"missing"`) {
		t.Errorf("unknown tensor: error %v", err)
	}
}
