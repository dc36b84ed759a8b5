// Package cputime reads the CPU time the process has used, the measure that
// stays meaningful when other work shares the cores, for benchmarks that
// report it beside wall time.
package cputime

import (
	"testing"
	"time"
)

// Seconds returns Now in seconds.
func Seconds() float64 { return Now().Seconds() }

// Report adds the CPU time per iteration since start, as "cpu-ms/op", to
// b's results where the system reports CPU time.
func Report(b *testing.B, start time.Duration) {
	if Known {
		b.ReportMetric(float64(Now()-start)/1e6/float64(b.N), "cpu-ms/op")
	}
}
