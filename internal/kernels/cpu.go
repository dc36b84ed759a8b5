package kernels

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path"
	"runtime"
	"strconv"
	"strings"
	"sync"
)

// CPU describes the processor the kernels run on: what sizes the cache
// blocks of Sgemm and, through the tune file, picks its micro-kernel.
type CPU struct {
	// Vendor is CPUID's vendor string ("AuthenticAMD", "GenuineIntel"),
	// or empty when it is unknown.
	Vendor string `json:"vendor"`
	// Family and Model are the display family and model, base and
	// extended fields combined as lscpu shows them (Zen 5: family 26,
	// model 2; Sapphire or Emerald Rapids: family 6, model 143 or 207).
	Family int `json:"family"`
	Model  int `json:"model"`
	// Name is the brand string ("AMD EPYC 9B45"), or empty.
	Name string `json:"name"`
	// Cores is the number of logical CPUs the process can use.
	Cores int `json:"cores"`
	// L1D, L2 and L3 are the sizes in bytes of the level-1 data cache and
	// the level-2 and level-3 caches that the first CPU sees; L3Sharing is
	// how many logical CPUs share that L3.
	L1D       int `json:"l1d"`
	L2        int `json:"l2"`
	L3        int `json:"l3"`
	L3Sharing int `json:"l3_sharing"`
	// Caches says where the cache sizes come from: "sysfs", "cpuid" or
	// "default".
	Caches string `json:"caches"`
}

// Key names the CPU model in the tune file: vendor, family and model, such
// as "AuthenticAMD/26/2". CPUs with the same key share one tuned choice.
func (c CPU) Key() string {
	v := c.Vendor
	if v == "" {
		v = "unknown"
	}
	return fmt.Sprintf("%s/%d/%d", v, c.Family, c.Model)
}

// Cache sizes assumed when neither sysfs nor CPUID gives them: small enough
// that the derived blocks fit on any x86 or arm64 core of the last decade.
const (
	defaultL1D = 32 << 10
	defaultL2  = 256 << 10
	defaultL3  = 8 << 20
)

// HostCPU returns the description of the CPU the process runs on, read once.
func HostCPU() CPU { return hostCPU() }

var hostCPU = sync.OnceValue(func() CPU {
	c := identify()
	c.Cores = runtime.NumCPU()
	if l1, l2, l3, share, ok := readCaches(os.DirFS("/sys/devices/system/cpu")); ok {
		c.L1D, c.L2, c.L3, c.L3Sharing, c.Caches = l1, l2, l3, share, "sysfs"
	} else if l1, l2, l3, share, ok := cpuidCaches(c.Vendor); ok {
		c.L1D, c.L2, c.L3, c.L3Sharing, c.Caches = l1, l2, l3, share, "cpuid"
	}
	c.fillDefaults()
	return c
})

// fillDefaults replaces unknown cache sizes with the defaults.
func (c *CPU) fillDefaults() {
	if c.L1D <= 0 {
		c.L1D = defaultL1D
	}
	if c.L2 <= 0 {
		c.L2 = defaultL2
	}
	if c.L3 <= 0 {
		c.L3 = defaultL3
	}
	if c.L3Sharing <= 0 {
		c.L3Sharing = 1
	}
	if c.Caches == "" {
		c.Caches = "default"
	}
}

// readCaches reads the caches of cpu0 from a sysfs tree rooted where
// /sys/devices/system/cpu is: cpu0/cache/index*/{level,type,size,
// shared_cpu_list}. It reports ok when it found at least the level-1 data
// cache and the level-2 cache; a missing L3 is left zero.
func readCaches(fsys fs.FS) (l1d, l2, l3, l3Sharing int, ok bool) {
	dirs, err := fs.Glob(fsys, "cpu0/cache/index*")
	if err != nil {
		return 0, 0, 0, 0, false
	}
	for _, d := range dirs {
		read := func(name string) string {
			b, err := fs.ReadFile(fsys, path.Join(d, name))
			if err != nil {
				return ""
			}
			return strings.TrimSpace(string(b))
		}
		size, err := parseCacheSize(read("size"))
		if err != nil {
			continue
		}
		typ := read("type")
		if typ != "Data" && typ != "Unified" {
			continue
		}
		switch read("level") {
		case "1":
			l1d = size
		case "2":
			l2 = size
		case "3":
			l3 = size
			l3Sharing = countCPUList(read("shared_cpu_list"))
		}
	}
	return l1d, l2, l3, l3Sharing, l1d > 0 && l2 > 0
}

// parseCacheSize parses sysfs's cache size: a number of bytes with an
// optional K, M or G suffix (binary multiples), such as "48K".
func parseCacheSize(s string) (int, error) {
	mult := 1
	switch {
	case strings.HasSuffix(s, "K"):
		mult = 1 << 10
	case strings.HasSuffix(s, "M"):
		mult = 1 << 20
	case strings.HasSuffix(s, "G"):
		mult = 1 << 30
	}
	if mult > 1 {
		s = s[:len(s)-1]
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 || n > 1<<40/mult {
		return 0, fmt.Errorf("cache size %q", s)
	}
	return n * mult, nil
}

// countCPUList counts the CPUs of a sysfs CPU list such as "0-7,16-23"; an
// empty or malformed list counts as one CPU.
func countCPUList(s string) int {
	n := 0
	for _, part := range strings.Split(s, ",") {
		lo, hi, found := strings.Cut(part, "-")
		a, err1 := strconv.Atoi(lo)
		b, err2 := a, error(nil)
		if found {
			b, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || b < a {
			return 1
		}
		n += b - a + 1
	}
	return max(n, 1)
}

// parseCPUInfo reads the identity of the first processor from the text of
// /proc/cpuinfo, for builds without CPUID.
func parseCPUInfo(text string) CPU {
	var c CPU
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			if c.Vendor != "" {
				break // the end of the first processor's block
			}
			continue
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		switch key {
		case "vendor_id":
			c.Vendor = val
		case "cpu family":
			c.Family, _ = strconv.Atoi(val)
		case "model":
			c.Model, _ = strconv.Atoi(val)
		case "model name":
			c.Name = val
		}
	}
	return c
}

// cpuInfoIdentity reads /proc/cpuinfo; a system without one gives an
// unknown CPU.
func cpuInfoIdentity() CPU {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return CPU{}
	}
	return parseCPUInfo(string(b))
}
