package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// job is one share of a parallelFor call.
type job struct {
	fn func(int)
	i  int
	wg *sync.WaitGroup
}

var (
	startPool sync.Once
	jobs      chan job
)

// worker runs jobs for the life of the process.
func worker() {
	for j := range jobs {
		j.fn(j.i)
		j.wg.Done()
	}
}

// parallelFor runs fn(0), ..., fn(n-1) concurrently and returns when all
// have finished. The calling goroutine runs fn(0) itself; the others go to
// a pool of GOMAXPROCS-1 goroutines started on first use. A share that
// finds no idle worker runs on the caller, so concurrent and nested callers
// never wait for each other and never deadlock.
func parallelFor(n int, fn func(int)) {
	if n <= 1 {
		if n == 1 {
			fn(0)
		}
		return
	}
	startPool.Do(func() {
		jobs = make(chan job)
		for range max(1, runtime.GOMAXPROCS(0)-1) {
			go worker()
		}
	})
	var wg sync.WaitGroup
	var inline []int
	for i := 1; i < n; i++ {
		wg.Add(1)
		select {
		case jobs <- job{fn, i, &wg}:
		default:
			wg.Done()
			inline = append(inline, i)
		}
	}
	fn(0)
	for _, i := range inline {
		fn(i)
	}
	wg.Wait()
}

// queue hands out the chunks 0..n-1 of a parallel loop, one at a time, to
// whichever goroutine asks first: a goroutine that the OS deschedules, on a
// machine shared with other work, then delays only its current chunk.
type queue struct {
	next atomic.Int64
	n    int
}

// each yields the chunks this goroutine takes.
func (q *queue) each(yield func(int) bool) {
	for {
		c := int(q.next.Add(1)) - 1
		if c >= q.n || !yield(c) {
			return
		}
	}
}

// span returns chunk c of n equal runs of units of size unit over [0, total).
func span(c, n, units, unit, total int) (lo, hi int) {
	return min(total, c*units/n*unit), min(total, (c+1)*units/n*unit)
}
