//go:build !unix

package cocofile

import (
	"testing"
	"time"
)

// cpuTime is unavailable here; the benchmarks report wall time only.
func cpuTime() time.Duration { return 0 }

func reportCPU(*testing.B, time.Duration) {}
