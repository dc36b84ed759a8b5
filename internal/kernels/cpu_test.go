package kernels

import (
	"os"
	"strings"
	"testing"
	"testing/fstest"
)

// sysTree returns a fixture of /sys/devices/system/cpu with the given
// cache directories, each as level, type, size, shared_cpu_list.
func sysTree(caches ...[4]string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for i, c := range caches {
		d := "cpu0/cache/index" + string(rune('0'+i)) + "/"
		fsys[d+"level"] = &fstest.MapFile{Data: []byte(c[0] + "\n")}
		fsys[d+"type"] = &fstest.MapFile{Data: []byte(c[1] + "\n")}
		fsys[d+"size"] = &fstest.MapFile{Data: []byte(c[2] + "\n")}
		fsys[d+"shared_cpu_list"] = &fstest.MapFile{Data: []byte(c[3] + "\n")}
	}
	return fsys
}

func TestReadCaches(t *testing.T) {
	tests := []struct {
		name               string
		fsys               fstest.MapFS
		l1d, l2, l3, share int
		ok                 bool
	}{
		{"zen5 vm", sysTree(
			[4]string{"1", "Data", "48K", "0"}, [4]string{"1", "Instruction", "32K", "0"},
			[4]string{"2", "Unified", "1024K", "0"}, [4]string{"3", "Unified", "32768K", "0-1"}),
			48 << 10, 1 << 20, 32 << 20, 2, true},
		{"zen3 ccx", sysTree(
			[4]string{"1", "Data", "32K", "0,16"}, [4]string{"1", "Instruction", "32K", "0,16"},
			[4]string{"2", "Unified", "512K", "0,16"}, [4]string{"3", "Unified", "32M", "0-7,16-23"}),
			32 << 10, 512 << 10, 32 << 20, 16, true},
		{"emerald rapids", sysTree(
			[4]string{"1", "Data", "48K", "0-1"}, [4]string{"1", "Instruction", "32K", "0-1"},
			[4]string{"2", "Unified", "2048K", "0-1"}, [4]string{"3", "Unified", "327680K", "0-127"}),
			48 << 10, 2 << 20, 320 << 20, 128, true},
		{"no l3", sysTree(
			[4]string{"1", "Data", "64K", "0"}, [4]string{"2", "Unified", "4M", "0-3"}),
			64 << 10, 4 << 20, 0, 0, true},
		{"missing", fstest.MapFS{}, 0, 0, 0, 0, false},
		{"garbage", sysTree(
			[4]string{"1", "Data", "lots", "0"}, [4]string{"2", "Unified", "-1K", "0"}),
			0, 0, 0, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l1d, l2, l3, share, ok := readCaches(tc.fsys)
			if l1d != tc.l1d || l2 != tc.l2 || l3 != tc.l3 || share != tc.share || ok != tc.ok {
				t.Errorf("readCaches = %d %d %d %d %v, want %d %d %d %d %v",
					l1d, l2, l3, share, ok, tc.l1d, tc.l2, tc.l3, tc.share, tc.ok)
			}
		})
	}
}

func TestParseCacheSize(t *testing.T) {
	for in, want := range map[string]int{"48K": 48 << 10, "2M": 2 << 20, "1G": 1 << 30, "4096": 4096} {
		if got, err := parseCacheSize(in); err != nil || got != want {
			t.Errorf("parseCacheSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "K", "x", "0K", "-4K", "99999999999G"} {
		if _, err := parseCacheSize(in); err == nil {
			t.Errorf("parseCacheSize(%q) succeeded", in)
		}
	}
}

func TestCountCPUList(t *testing.T) {
	for in, want := range map[string]int{"0": 1, "0-1": 2, "0-7,16-23": 16, "3,5,7": 3, "": 1, "5-2": 1, "a-b": 1} {
		if got := countCPUList(in); got != want {
			t.Errorf("countCPUList(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestParseCPUInfo(t *testing.T) {
	text := "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 207\n" +
		"model name\t: INTEL(R) XEON(R) PLATINUM 8581C\n\nprocessor\t: 1\nvendor_id\t: Other\n"
	c := parseCPUInfo(text)
	if c.Vendor != "GenuineIntel" || c.Family != 6 || c.Model != 207 || c.Name != "INTEL(R) XEON(R) PLATINUM 8581C" {
		t.Errorf("parseCPUInfo = %+v", c)
	}
	if c.Key() != "GenuineIntel/6/207" {
		t.Errorf("Key = %q", c.Key())
	}
}

// TestHostCPU checks the identity read from CPUID (or /proc/cpuinfo under
// purego) against Linux's /proc/cpuinfo, where there is one.
func TestHostCPU(t *testing.T) {
	c := HostCPU()
	if c.L1D <= 0 || c.L2 <= 0 || c.L3 <= 0 || c.L3Sharing <= 0 || c.Cores <= 0 {
		t.Fatalf("HostCPU = %+v", c)
	}
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil || !strings.Contains(string(b), "vendor_id") {
		t.Skip("no /proc/cpuinfo with a vendor_id")
	}
	want := parseCPUInfo(string(b))
	if c.Vendor != want.Vendor || c.Family != want.Family || c.Model != want.Model {
		t.Errorf("HostCPU = %s %d %d, /proc/cpuinfo says %s %d %d", c.Vendor, c.Family, c.Model, want.Vendor, want.Family, want.Model)
	}
}

func TestDeriveBlocking(t *testing.T) {
	zen5 := CPU{L1D: 48 << 10, L2: 1 << 20, L3: 32 << 20, L3Sharing: 2, Cores: 2}
	zen3 := CPU{L1D: 32 << 10, L2: 512 << 10, L3: 32 << 20, L3Sharing: 16, Cores: 2}
	tests := []struct {
		name       string
		mr, nr     int
		cpu        CPU
		mc, kc, nc int
	}{
		{"zen5 14x32", 14, 32, zen5, 196, 256, 4096},
		{"zen3 6x16, 2 of 16 CPUs", 6, 16, zen3, 78, 336, 3120},
		{"defaults 4x4", 4, 4, CPU{L1D: defaultL1D, L2: defaultL2, L3: defaultL3, L3Sharing: 1}, 24, 512, 1024},
	}
	for _, tc := range tests {
		mc, kc, nc := deriveBlocking(tc.mr, tc.nr, tc.cpu)
		if mc != tc.mc || kc != tc.kc || nc != tc.nc {
			t.Errorf("%s: deriveBlocking = %d %d %d, want %d %d %d", tc.name, mc, kc, nc, tc.mc, tc.kc, tc.nc)
		}
		if mc%tc.mr != 0 || nc%tc.nr != 0 || kc%16 != 0 {
			t.Errorf("%s: blocks %d %d %d are not multiples of the tile", tc.name, mc, kc, nc)
		}
	}
}
