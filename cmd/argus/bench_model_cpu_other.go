//go:build !unix

package main

// processCPUSeconds reports that CPU time cannot be read here.
func processCPUSeconds() (s float64, ok bool) { return 0, false }
