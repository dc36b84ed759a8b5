package autograd

import (
	"math/bits"
	"sync"
)

// Scratch buffers.
//
// Convolutions and norms need large working buffers — column matrices,
// transposed gradients, normalised inputs saved for Backward — whose size
// repeats from one training step to the next. Taking them from the GC heap
// each time costs more than the arithmetic on them: a fresh large
// allocation is either zeroed or page-faulted in on first touch. The ops
// take them from this cache instead and give them back when they are done.
//
// Ownership rules:
//   - getBuf hands out a buffer that nothing else references; its contents
//     are undefined (not zeroed), so the caller must write before reading.
//   - The op that got a buffer puts it back exactly once, when nothing can
//     read it any more: transient buffers at the end of Forward or
//     Backward, buffers saved for Backward in release, which Var.Backward
//     calls when it drops the op (that is, not under RetainGraph).
//   - Buffers are never handed to the caller: op outputs and gradients stay
//     on the GC heap, because users may hold them indefinitely.
//
// A buffer saved for a Backward that never runs is simply collected.
// The cache holds at most bufCacheBytes; beyond that, put buffers are left
// to the collector.

// bufCacheBytes bounds the memory the cache keeps idle.
const bufCacheBytes = 1 << 30

// bufMinLen is the smallest buffer worth caching, in float32s; smaller
// ones are cheap to allocate.
const bufMinLen = 4 << 10

// bufCache is the process-wide cache: free lists of size classes of four
// steps per power of two, so that a buffer wastes at most a quarter.
var bufCache struct {
	mu    sync.Mutex
	free  [64 * 4][][]float32
	bytes int
}

// bufClass returns the size class of a buffer of n float32s and the
// capacity buffers of that class have.
func bufClass(n int) (class, size int) {
	e := bits.Len(uint(n - 1)) // 2^(e-1) < n <= 2^e
	step := 1 << (e - 3)
	s := (n + step - 1) / step // 5..8 quarters of 2^(e-1)
	return e*4 + s - 5, s * step
}

// getBuf returns a buffer of n float32s with undefined contents.
func getBuf(n int) []float32 {
	if n < bufMinLen {
		return make([]float32, n)
	}
	c, size := bufClass(n)
	bufCache.mu.Lock()
	if l := len(bufCache.free[c]); l > 0 {
		b := bufCache.free[c][l-1]
		bufCache.free[c][l-1] = nil
		bufCache.free[c] = bufCache.free[c][:l-1]
		bufCache.bytes -= 4 * size
		bufCache.mu.Unlock()
		return b[:n]
	}
	bufCache.mu.Unlock()
	return make([]float32, n, size)
}

// putBuf returns a buffer from getBuf to the cache. The caller must not
// use it afterwards.
func putBuf(b []float32) {
	if cap(b) < bufMinLen {
		return
	}
	c, size := bufClass(cap(b))
	if size != cap(b) {
		return // not from getBuf
	}
	bufCache.mu.Lock()
	if bufCache.bytes+4*size <= bufCacheBytes {
		bufCache.free[c] = append(bufCache.free[c], b[:size])
		bufCache.bytes += 4 * size
	}
	bufCache.mu.Unlock()
}

// releaser is an Op holding buffers saved for Backward; Var.Backward calls
// release once it has dropped the op, so the buffers can be reused.
type releaser interface{ release() }
