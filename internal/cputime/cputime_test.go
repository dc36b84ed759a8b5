package cputime

import "testing"

func TestNowAdvancesWithWork(t *testing.T) {
	if !Known {
		t.Skip("no CPU time on this system")
	}
	start := Now()
	x := 0.0
	for i := range 50_000_000 {
		x += float64(i) * 1e-9
	}
	if Now() <= start {
		t.Fatalf("CPU time did not advance over a busy loop (sum %v)", x)
	}
}
