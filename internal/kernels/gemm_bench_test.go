package kernels

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"
)

var benchLarge = flag.Bool("gemm.large", false, "also benchmark 4096^3 SGEMM")

func randSlice(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.Float64()*2 - 1)
	}
	return x
}

// BenchmarkSgemm measures square products and the skinny shapes of
// detection heads, in GFLOP/s.
func BenchmarkSgemm(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, s := range []struct{ m, n, k, batch int }{
		{64, 64, 64, 1}, {256, 256, 256, 1}, {1024, 1024, 1024, 1}, {4096, 4096, 4096, 1},
		{300, 12544, 256, 1}, {49, 256, 64, 300},
	} {
		name := fmt.Sprintf("%dx%dx%d", s.m, s.n, s.k)
		if s.batch > 1 {
			name += fmt.Sprintf("x%d", s.batch)
		}
		b.Run(name, func(b *testing.B) {
			if s.m == 4096 && (testing.Short() || !*benchLarge) {
				b.Skip("4096^3 runs with -gemm.large")
			}
			x := randSlice(rng, s.batch*s.m*s.k)
			y := randSlice(rng, s.batch*s.k*s.n)
			z := make([]float32, s.batch*s.m*s.n)
			for b.Loop() {
				SgemmStrided(false, false, s.batch, s.m, s.n, s.k, 1, x, s.k, s.m*s.k, y, s.n, s.k*s.n, 0, z, s.n, s.m*s.n)
			}
			flops := 2 * float64(s.m) * float64(s.n) * float64(s.k) * float64(s.batch)
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkKernel measures each micro-kernel alone on L1-resident panels,
// against the machine's peak.
func BenchmarkKernel(b *testing.B) {
	rng := rand.New(rand.NewPCG(2, 2))
	for _, mk := range gemmRegistry {
		b.Run(mk.name, func(b *testing.B) {
			k := 256
			a := randSlice(rng, mk.mr*k)
			y := randSlice(rng, k*mk.nr)
			c := make([]float32, mk.mr*mk.nr)
			for b.Loop() {
				mk.fn(k, a, 1, mk.mr, y, mk.nr, c, mk.nr, 1, 0)
			}
			flops := 2 * float64(mk.mr*mk.nr*k)
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
