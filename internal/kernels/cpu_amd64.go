//go:build !purego

package kernels

import (
	"encoding/binary"
	"strings"
)

// identify reads the vendor, display family and model, and brand string
// from CPUID.
func identify() CPU {
	var c CPU
	maxLeaf, b, cx, d := cpuid(0, 0)
	var v [12]byte
	binary.LittleEndian.PutUint32(v[0:], b)
	binary.LittleEndian.PutUint32(v[4:], d)
	binary.LittleEndian.PutUint32(v[8:], cx)
	c.Vendor = string(v[:])
	if maxLeaf >= 1 {
		a, _, _, _ := cpuid(1, 0)
		c.Family, c.Model = displayFamilyModel(a)
	}
	if maxExt, _, _, _ := cpuid(0x80000000, 0); maxExt >= 0x80000004 {
		var name [48]byte
		for i := range uint32(3) {
			a, b, cx, d := cpuid(0x80000002+i, 0)
			for j, r := range [4]uint32{a, b, cx, d} {
				binary.LittleEndian.PutUint32(name[16*i+4*uint32(j):], r)
			}
		}
		c.Name = strings.TrimSpace(strings.TrimRight(string(name[:]), "\x00"))
	}
	return c
}

// displayFamilyModel combines the base and extended family and model
// fields of CPUID leaf 1's EAX as Intel's and AMD's manuals define them:
// the extended family is added when the base family is 15, and the
// extended model is prefixed when the base family is 6 or 15.
func displayFamilyModel(eax uint32) (family, model int) {
	family = int(eax>>8) & 0xf
	model = int(eax>>4) & 0xf
	if family == 0xf {
		family += int(eax>>20) & 0xff
	}
	if family == 0x6 || family >= 0xf {
		model |= int(eax>>16) & 0xf << 4
	}
	return family, model
}

// cpuidCaches reads the cache sizes from CPUID's deterministic cache
// parameters: leaf 4 on Intel, leaf 0x8000001D on AMD (and Hygon).
func cpuidCaches(vendor string) (l1d, l2, l3, l3Sharing int, ok bool) {
	leaf := uint32(4)
	if vendor == "AuthenticAMD" || vendor == "HygonGenuine" {
		if maxExt, _, _, _ := cpuid(0x80000000, 0); maxExt < 0x8000001d {
			return 0, 0, 0, 0, false
		}
		leaf = 0x8000001d
	} else if maxLeaf, _, _, _ := cpuid(0, 0); maxLeaf < 4 {
		return 0, 0, 0, 0, false
	}
	for sub := range uint32(16) {
		a, b, cx, _ := cpuid(leaf, sub)
		level, size, share, ok := cacheLeaf(a, b, cx)
		if !ok {
			break
		}
		switch level {
		case 1:
			l1d = size
		case 2:
			l2 = size
		case 3:
			l3, l3Sharing = size, share
		}
	}
	return l1d, l2, l3, l3Sharing, l1d > 0 && l2 > 0
}

// cacheLeaf decodes one sub-leaf of the deterministic cache parameters:
// the level, the size in bytes (ways × partitions × line size × sets) and
// the number of logical CPUs sharing it, for data and unified caches. ok is
// false at the end of the list; an instruction cache reports level 0.
func cacheLeaf(eax, ebx, ecx uint32) (level, size, sharing int, ok bool) {
	typ := eax & 0x1f
	if typ == 0 {
		return 0, 0, 0, false
	}
	if typ == 2 { // instruction cache
		return 0, 0, 0, true
	}
	ways := int(ebx>>22) + 1
	parts := int(ebx>>12&0x3ff) + 1
	line := int(ebx&0xfff) + 1
	sets := int(ecx) + 1
	return int(eax >> 5 & 7), ways * parts * line * sets, int(eax>>14&0xfff) + 1, true
}
