package autograd

import "argus/internal/par"

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
	return par.NumWorkers(n, 0)
}
