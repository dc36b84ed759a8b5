// Package dcal holds Dual Cross-Attention Learning's pieces (arXiv
// 2205.02151): attention rollout, which picks the local queries of
// global-local cross-attention (GLCA), the GLCA block, the partners of
// pair-wise cross-attention, and the uncertainty-weighted sum of the
// branches' losses. The ViT with both branches is models.DCAL.
package dcal

import (
	"fmt"

	"argus/internal/par"
	"argus/tensor"
)

// Rollout returns the class token's row of the attention rollout of a
// ViT's blocks, patch columns only: attn holds each block's attention
// probabilities (N, Heads, L, L), first block first, with the class token
// at position 0. Each block's heads are averaged and the residual identity
// added, Ā_i = 0.5·mean_h(A_i) + 0.5·I, and the rollout is the product
// Ŝ = Ā_T ··· Ā_2·Ā_1. The result is Ŝ[n, 0, 1:] for every image n,
// (N, L−1), computed as the row vector e₀ᵀ·Ā_T ··· Ā_1 (in float64) rather
// than the full product.
func Rollout(attn []*tensor.Tensor) *tensor.Tensor {
	if len(attn) == 0 {
		panic("dcal: Rollout of no blocks")
	}
	s := attn[0].Shape()
	if len(s) != 4 || s[2] != s[3] || s[2] < 2 {
		panic(fmt.Sprintf("dcal: Rollout of attention %v, want (N, Heads, L, L) with L ≥ 2", s))
	}
	for _, a := range attn[1:] {
		if !tensor.EqualShapes(a.Shape(), s) {
			panic(fmt.Sprintf("dcal: Rollout of attention %v and %v", s, a.Shape()))
		}
	}
	n, h, l := s[0], s[1], s[2]
	out := tensor.Zeros(n, l-1)
	od := out.Data()
	par.For(n, 1, func(i int) {
		r := make([]float64, l)
		next := make([]float64, l)
		r[0] = 1
		for b := len(attn) - 1; b >= 0; b-- {
			ad := attn[b].Data()[i*h*l*l : (i+1)*h*l*l]
			for j := range next {
				next[j] = 0.5 * r[j]
			}
			w := 0.5 / float64(h)
			for hh := 0; hh < h; hh++ {
				m := ad[hh*l*l : (hh+1)*l*l]
				for k, rk := range r {
					if rk == 0 {
						continue
					}
					c := w * rk
					row := m[k*l : (k+1)*l]
					for j, v := range row {
						next[j] += c * float64(v)
					}
				}
			}
			r, next = next, r
		}
		for j := 1; j < l; j++ {
			od[i*(l-1)+j-1] = float32(r[j])
		}
	})
	return out
}
