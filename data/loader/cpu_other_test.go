//go:build !unix

package loader

func cpuSeconds() float64 { return 0 }
