package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"argus/internal/cputime"
	"argus/internal/geom"
)

// BenchmarkCol2im measures the input-gradient scatter of ResNet-18's 3×3
// convolutions at 64×64 (stages 1 to 4: 16×16 down to 2×2 outputs), one
// image, reporting CPU time beside wall time.
func BenchmarkCol2im(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, s := range []struct{ c, hw int }{{64, 16}, {128, 8}, {256, 4}, {512, 2}} {
		w, err := geom.Window{Stride: []int{1, 1}, Padding: []int{1, 1}}.Resolve([]int{s.hw, s.hw}, []int{3, 3}, false)
		if err != nil {
			b.Fatal(err)
		}
		col := randSlice(rng, s.c*9*s.hw*s.hw)
		dst := make([]float32, s.c*s.hw*s.hw)
		b.Run(fmt.Sprintf("c%d_%dx%d", s.c, s.hw, s.hw), func(b *testing.B) {
			start := cputime.Now()
			for b.Loop() {
				Col2imFrom(w, s.c, col, s.hw*s.hw, dst)
			}
			cputime.Report(b, start)
		})
	}
}

// BenchmarkIm2col measures the lowering of ResNet-18's 3×3 convolutions at
// 64×64, one image, as BenchmarkCol2im.
func BenchmarkIm2col(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, s := range []struct{ c, hw int }{{64, 16}, {128, 8}, {256, 4}, {512, 2}} {
		w, err := geom.Window{Stride: []int{1, 1}, Padding: []int{1, 1}}.Resolve([]int{s.hw, s.hw}, []int{3, 3}, false)
		if err != nil {
			b.Fatal(err)
		}
		src := randSlice(rng, s.c*s.hw*s.hw)
		col := make([]float32, s.c*9*s.hw*s.hw)
		b.Run(fmt.Sprintf("c%d_%dx%d", s.c, s.hw, s.hw), func(b *testing.B) {
			start := cputime.Now()
			for b.Loop() {
				Im2colTo(w, s.c, src, col, s.hw*s.hw)
			}
			cputime.Report(b, start)
		})
	}
}
