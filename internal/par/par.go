// Package par runs independent loop iterations on all cores, for the
// packages whose loops do not run matrix products (those use the kernels' own
// worker pool through kernels.Sgemm).
package par

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// For calls f(i) for every i in [0, n), handing out blocks of chunk indices
// to GOMAXPROCS workers. f must be safe to call concurrently for different i.
func For(n, chunk int, f func(i int)) {
	if chunk < 1 {
		chunk = 1
	}
	workers := min(runtime.GOMAXPROCS(0), (n+chunk-1)/chunk)
	if workers <= 1 {
		for i := 0; i < n; i++ {
			f(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				lo := int(next.Add(int64(chunk))) - chunk
				if lo >= n {
					return
				}
				for i := lo; i < min(lo+chunk, n); i++ {
					f(i)
				}
			}
		}()
	}
	wg.Wait()
}

// Workers calls f(w, lo, hi) once for each worker w in [0, NumWorkers(n,
// workers)), with contiguous ranges [lo, hi) that cover [0, n) in order:
// worker w gets [w*n/k, (w+1)*n/k) for k workers. It is for loops that keep
// per-worker scratch space, or whose iterations cost the same. workers <= 0
// means GOMAXPROCS. One worker runs on the calling goroutine; n <= 0 calls
// nothing.
func Workers(n, workers int, f func(w, lo, hi int)) {
	if n <= 0 {
		return
	}
	k := NumWorkers(n, workers)
	if k == 1 {
		f(0, 0, n)
		return
	}
	var wg sync.WaitGroup
	for w := range k {
		wg.Go(func() { f(w, w*n/k, (w+1)*n/k) })
	}
	wg.Wait()
}

// NumWorkers returns the number of workers Workers runs for n indices:
// workers, or GOMAXPROCS when workers <= 0, but no more than n and at
// least one.
func NumWorkers(n, workers int) int {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	return max(1, min(workers, n))
}
