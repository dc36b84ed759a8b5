//go:build !unix

package reid

func cpuSeconds() float64 { return 0 }
