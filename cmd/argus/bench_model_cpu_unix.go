//go:build unix

package main

import "syscall"

// processCPUSeconds returns the process's user and system CPU time, which
// stays meaningful when other work shares the cores; ok is false where it
// cannot be read.
func processCPUSeconds() (s float64, ok bool) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, false
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9, true
}
