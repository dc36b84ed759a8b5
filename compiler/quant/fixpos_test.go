package quant

import (
	"math"
	"testing"
)

func TestFix(t *testing.T) {
	tests := []struct {
		v         float64
		pos       int
		act, parm int8 // halves toward +inf, halves away from zero
	}{
		{0.5, 0, 1, 1},
		{-0.5, 0, 0, -1},
		{-2.5, 0, -2, -3},
		{2.5, 0, 3, 3},
		{0.75, 1, 2, 2},    // 1.5
		{-0.75, 1, -1, -2}, // -1.5
		{0.3, 4, 5, 5},     // 4.8
		{200, 0, 127, 127},
		{-200, 0, -128, -128},
		{1, 7, 127, 127},    // 128 saturates
		{-1, 7, -128, -128}, // -128 fits
		{8, -2, 2, 2},       // a negative position: steps of 4
	}
	for _, tt := range tests {
		if got := Fix(tt.v, tt.pos, RoundActivation); got != tt.act {
			t.Errorf("Fix(%g, %d, activation) = %d, want %d", tt.v, tt.pos, got, tt.act)
		}
		if got := Fix(tt.v, tt.pos, RoundParam); got != tt.parm {
			t.Errorf("Fix(%g, %d, param) = %d, want %d", tt.v, tt.pos, got, tt.parm)
		}
	}
}

func TestMaxAbsPos(t *testing.T) {
	tests := []struct {
		name string
		x    []float32
		want int
	}{
		{"all zero", []float32{0, 0, 0}, ZeroPos},
		{"empty", nil, ZeroPos},
		{"one", []float32{1}, 6},             // step 1/127.5, log2 127.5 = 6.99
		{"minus one", []float32{-1}, 7},      // step 1/128.5: -1 is -128 at 7
		{"127.5/128", []float32{0.99}, 7},    // 0.99·128 = 126.7 rounds into range
		{"four", []float32{0.5, -4, 3}, 5},   // step 4/128.5: 128.5/4 = 32.1 ≥ 2^5
		{"tiny", []float32{1e-3}, 16},        // 127.5e3 ≈ 2^16.96
		{"large", []float32{1000, -5}, -3},   // 0.1275 ≈ 2^-2.97
		{"asymmetric", []float32{-8, 7}, 4},  // max(8/128.5, 7/127.5) = 0.0623, 1/0.0623 = 16.06
		{"positive only", []float32{6}, 4},   // ReLU6: 127.5/6 = 21.25
		{"negative tail", []float32{-6}, 4},  // 128.5/6 = 21.4
		{"sub-unit", []float32{0.25}, 8},     // 510 ≈ 2^8.99
		{"exact power", []float32{127.5}, 0}, // step 1
	}
	for _, tt := range tests {
		if got := MaxAbsPos(tt.x); got != tt.want {
			t.Errorf("%s: MaxAbsPos(%v) = %d, want %d", tt.name, tt.x, got, tt.want)
		}
	}
}

func TestPosition(t *testing.T) {
	t.Run("all zero gets 18", func(t *testing.T) {
		if got := Position(make([]float32, 10), RoundActivation); got != ZeroPos {
			t.Errorf("Position(zeros) = %d, want %d", got, ZeroPos)
		}
	})
	t.Run("max-abs position when it is exact", func(t *testing.T) {
		// Every value is on the grid of 6 and 1 saturates at 7.
		if got := Position([]float32{1, 0.5, -0.25}, RoundActivation); got != 6 {
			t.Errorf("Position = %d, want 6", got)
		}
	})
	t.Run("MSE refinement picks the finer position", func(t *testing.T) {
		// One value of 1 (max-abs position 6) and many on the odd
		// multiples of 1/128: halfway between points of the grid of 6,
		// exact on the grid of 7, where only the 1 saturates.
		x := []float32{1}
		for k := 0; k < 100; k++ {
			x = append(x, float32(2*(k%20)+1)/128)
		}
		if p0 := MaxAbsPos(x); p0 != 6 {
			t.Fatalf("MaxAbsPos = %d, want 6", p0)
		}
		e6, e7 := SquaredError(x, 6, RoundParam), SquaredError(x, 7, RoundParam)
		if !(e7 < e6) {
			t.Fatalf("errors at 6 and 7: %g, %g; the case should favour 7", e6, e7)
		}
		if got := Position(x, RoundParam); got != 7 {
			t.Errorf("Position = %d, want 7 (errors %g at 6, %g at 7)", got, e6, e7)
		}
	})
	t.Run("the search is bounded to p0+4", func(t *testing.T) {
		// A value that saturates anything finer dominates.
		x := []float32{100}
		for k := 0; k < 1000; k++ {
			x = append(x, 1e-4)
		}
		p0 := MaxAbsPos(x)
		got := Position(x, RoundActivation)
		if got < p0 || got > p0+4 {
			t.Errorf("Position = %d outside [%d, %d]", got, p0, p0+4)
		}
		best, bestErr := p0, math.Inf(1)
		for p := p0; p <= p0+4; p++ {
			if e := SquaredError(x, p, RoundActivation); e < bestErr {
				best, bestErr = p, e
			}
		}
		if got != best {
			t.Errorf("Position = %d, least error at %d", got, best)
		}
	})
}

func TestMode(t *testing.T) {
	tests := []struct {
		ps   []int
		want int
	}{
		{nil, ZeroPos},
		{[]int{5}, 5},
		{[]int{3, 4, 4, 5}, 4},
		{[]int{7, 6, 7, 6, 7}, 7},
		{[]int{5, 3}, 3},          // a tie goes to the coarser grid
		{[]int{9, 9, 2, 2, 4}, 2}, // likewise
		{[]int{-2, -2, 18}, -2},
	}
	for _, tt := range tests {
		if got := Mode(tt.ps); got != tt.want {
			t.Errorf("Mode(%v) = %d, want %d", tt.ps, got, tt.want)
		}
	}
}

func TestAvgFactor(t *testing.T) {
	tests := []struct {
		kh, kw      int
		mult, shift int
	}{
		{3, 3, 7, 6}, {5, 5, 10, 8}, {6, 6, 7, 8}, {3, 6, 7, 8}, {7, 7, 21, 10}, {14, 14, 21, 12},
		{1, 1, 1, 0}, {2, 2, 1, 2}, {4, 4, 1, 4}, {8, 8, 1, 6},
		// 1/2 is 0 at shift 0 and 1 at shift 1 (exact).
		{1, 2, 1, 1},
		// 1/6: shift 3 gives round(8/6) = 1 (0.0417 off), shift 5 gives
		// round(32/6) = 5 (0.0104), shift 6: 11/64 (0.0052), shift 7:
		// 21/128 (0.0026), shift 8: 43/256 (0.0013), shift 9: 85/512
		// (0.00065); the search stops below ceil(log2(768)) = 10.
		{2, 3, 85, 9},
	}
	for _, tt := range tests {
		m, s := AvgFactor(tt.kh, tt.kw)
		if m != tt.mult || s != tt.shift {
			t.Errorf("AvgFactor(%d, %d) = %d/2^%d, want %d/2^%d", tt.kh, tt.kw, m, s, tt.mult, tt.shift)
		}
	}
}
