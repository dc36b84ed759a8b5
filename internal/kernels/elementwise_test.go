package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// sameFloat reports whether a and b are equal, or both NaN, or within tol
// of each other relative to b.
func sameFloat(a, b float32, tol float64) bool {
	if a != a || b != b {
		return a != a && b != b
	}
	return math.Abs(float64(a-b)) <= tol*(1+math.Abs(float64(b)))
}

func TestElementwise(t *testing.T) {
	nan := float32(math.NaN())
	best := ew
	defer func() { ew = best }()
	for _, impl := range []*elementwise{best, {}} {
		ew = impl
		for _, n := range []int{0, 1, 7, 8, 15, 16, 17, 33, 64, 70} {
			t.Run(fmt.Sprintf("lanes%d/n%d", impl.lanes, n), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(n), 1))
				src, grad, h := make([]float32, n), make([]float32, n), make([]float32, n)
				for i := range src {
					src[i] = float32(rng.NormFloat64())
					grad[i] = float32(rng.NormFloat64())
					h[i] = float32(rng.NormFloat64())
				}
				if n > 3 {
					src[1], src[2], src[3] = nan, float32(math.Copysign(0, -1)), -nan
				}
				dst := make([]float32, n)
				ReLU(dst, src)
				for i, x := range src {
					want := x
					if x < 0 {
						want = 0
					}
					if !sameFloat(dst[i], want, 0) {
						t.Fatalf("ReLU(%v) = %v, want %v", x, dst[i], want)
					}
				}
				gx := make([]float32, n)
				ReLUGrad(gx, grad, dst)
				for i := range gx {
					want := float32(0)
					if dst[i] > 0 {
						want = grad[i]
					}
					if gx[i] != want {
						t.Fatalf("ReLUGrad at output %v: %v, want %v", dst[i], gx[i], want)
					}
				}
				const m, inv, w, b = 0.3, 1.7, -0.8, 0.25
				saved, plain, hs := make([]float32, n), make([]float32, n), make([]float32, n)
				NormAffine(saved, hs, src, m, inv, w, b)
				NormAffine(plain, nil, src, m, inv, w, b)
				for i, x := range src {
					tt := (x - m) * inv
					if !sameFloat(hs[i], tt, 0) || !sameFloat(saved[i], tt*w+b, 1e-6) || !sameFloat(plain[i], saved[i], 0) {
						t.Fatalf("NormAffine(%v): h %v dst %v (without h %v), want %v and %v", x, hs[i], saved[i], plain[i], tt, tt*w+b)
					}
				}
				const mg, mgh, scale = 0.1, -0.4, 1.3
				NormGrad(gx, grad, h, mg, mgh, scale)
				for i := range gx {
					if want := (grad[i] - mg - h[i]*mgh) * scale; !sameFloat(gx[i], want, 1e-6) {
						t.Fatalf("NormGrad: %v, want %v", gx[i], want)
					}
				}
			})
		}
	}
}
