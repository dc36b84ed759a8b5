//go:build unix

package loader

import "syscall"

// cpuSeconds returns the user and system CPU time of the process, the
// measure that stays meaningful when other work shares the cores.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
