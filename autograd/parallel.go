package autograd

import (
	"runtime"
	"sync"
)

// parallel splits [0, n) into at most GOMAXPROCS contiguous chunks and runs
// fn on each, passing the chunk's worker number in [0, parallelWorkers(n)),
// so that callers can give each worker its own buffers.
func parallel(n int, fn func(worker, lo, hi int)) { parallelWith(n, parallelWorkers(n), fn) }

// parallelWith is parallel with an explicit number of workers.
func parallelWith(n, workers int, fn func(worker, lo, hi int)) {
	w := max(1, min(workers, n))
	if w <= 1 {
		if n > 0 {
			fn(0, 0, n)
		}
		return
	}
	var wg sync.WaitGroup
	for i := 0; i < w; i++ {
		lo, hi := i*n/w, (i+1)*n/w
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(i, lo, hi)
		}()
	}
	wg.Wait()
}

// parallelWorkers returns the number of workers parallel uses for n items.
func parallelWorkers(n int) int {
	return max(1, min(n, runtime.GOMAXPROCS(0)))
}

// gemmParallelFlops is the size of a matrix product above which
// kernels.Sgemm is left to spread one product over the cores; the products
// are then issued one after another, since concurrent large products
// contend for the GEMM's workers and run several times slower.
const gemmParallelFlops = 4 << 20

// itemWorkers returns the number of workers for n independent items that
// each run matrix products of flops floating-point operations.
func itemWorkers(n int, flops float64) int {
	if flops >= gemmParallelFlops {
		return 1
	}
	return parallelWorkers(n)
}
