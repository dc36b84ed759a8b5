package rerank

import (
	"math"
	"testing"
)

func TestHalf(t *testing.T) {
	tests := []struct{ in, want float32 }{
		{0, 0},
		{1, 1},
		{-2.5, -2.5},
		{0.1, 0.0999755859375},
		{0.7, 0.7001953125},
		{65504, 65504},
		{65520, float32(math.Inf(1))},
		{1 + 1.0/2048, 1},            // tie to even (down)
		{1 + 3.0/2048, 1 + 2.0/1024}, // tie to even (up)
		{0x1p-24, 0x1p-24},           // smallest subnormal
		{0x1p-25, 0},                 // tie to even: zero
		{0x1.8p-25, 0x1p-24},
		{6.1e-5, 6.097555e-05}, // these four from numpy.float16
		{1e-6, 1.013279e-06},
		{3e-7, 2.9802322e-07},
		{2e-5, 2.002716e-05},
		{2047.9, 2048},
	}
	for _, tt := range tests {
		if got := half(tt.in); got != tt.want {
			t.Errorf("half(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
