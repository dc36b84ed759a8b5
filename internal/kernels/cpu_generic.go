//go:build purego || !amd64

package kernels

// identify reads the processor's identity from /proc/cpuinfo: without
// assembly there is no CPUID.
func identify() CPU { return cpuInfoIdentity() }

// cpuidCaches has no CPUID to read without assembly.
func cpuidCaches(string) (l1d, l2, l3, l3Sharing int, ok bool) { return 0, 0, 0, 0, false }
