package sampler

import (
	"testing"
)

// BenchmarkGP times a whole 40-trial GP search on Branin (model fits and
// acquisition dominate).
func BenchmarkGP(b *testing.B) {
	for b.Loop() {
		regret(b, "gp", 1, 40)
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N)/40, "ms/trial")
}

// BenchmarkTPE times a whole 100-trial TPE search on Branin.
func BenchmarkTPE(b *testing.B) {
	for b.Loop() {
		regret(b, "tpe", 1, 100)
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/100, "µs/trial")
}
