package tensor

import (
	"math/rand/v2"
)

// RNG is a seeded source of random tensors. The same seed gives the same
// sequence on every platform. An RNG is not safe for concurrent use.
type RNG struct {
	src *rand.PCG
	r   *rand.Rand
}

// NewRNG returns a generator seeded with seed.
func NewRNG(seed uint64) *RNG {
	src := rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)
	return &RNG{src: src, r: rand.New(src)}
}

// MarshalBinary returns the generator's state, so that a resumed run draws
// the same numbers as an uninterrupted one.
func (g *RNG) MarshalBinary() ([]byte, error) { return g.src.MarshalBinary() }

// UnmarshalBinary restores a state written by MarshalBinary.
func (g *RNG) UnmarshalBinary(b []byte) error { return g.src.UnmarshalBinary(b) }

// Rand exposes the underlying generator for scalar draws.
func (g *RNG) Rand() *rand.Rand { return g.r }

// Uniform returns a tensor with elements drawn uniformly from [lo, hi).
func (g *RNG) Uniform(lo, hi float32, shape ...int) *Tensor {
	t := Zeros(shape...)
	for i := range t.data {
		t.data[i] = lo + (hi-lo)*g.r.Float32()
	}
	return t
}

// Normal returns a tensor with elements drawn from N(mean, std^2).
func (g *RNG) Normal(mean, std float32, shape ...int) *Tensor {
	t := Zeros(shape...)
	for i := range t.data {
		t.data[i] = mean + std*float32(g.r.NormFloat64())
	}
	return t
}

// Perm returns a random permutation of [0, n).
func (g *RNG) Perm(n int) []int { return g.r.Perm(n) }
