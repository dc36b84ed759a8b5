package nn

import (
	"fmt"
	"math"

	"argus/autograd"
	"argus/tensor"
)

// Embedding maps integer indices to rows of a (Num, Dim) weight, as
// torch.nn.Embedding (initialised from N(0, 1)).
type Embedding struct {
	Weight *autograd.Var
}

// NewEmbedding returns an Embedding of num vectors of size dim.
func NewEmbedding(rng *tensor.RNG, num, dim int) *Embedding {
	w := tensor.Zeros(num, dim)
	Normal(rng, w, 0, 1)
	return &Embedding{Weight: autograd.Param(w)}
}

// Members implements Module.
func (e *Embedding) Members() Members { return Members{Params: params("weight", e.Weight)} }

// Lookup returns the vectors at index, shaped shape×Dim (len(index)×Dim with
// no shape).
func (e *Embedding) Lookup(index []int, shape ...int) *autograd.Var {
	n := e.Weight.Shape()[0]
	for _, i := range index {
		if i < 0 || i >= n {
			panic(fmt.Sprintf("nn: Embedding index %d out of range [0, %d)", i, n))
		}
	}
	return autograd.Embedding(e.Weight, index, shape...)
}

// MultiHeadAttention is torch.nn.MultiheadAttention with batch_first=True:
// inputs are (Batch, Length, Dim). Its parameters carry PyTorch's names:
// in_proj_weight (3·Dim, Dim) and in_proj_bias (3·Dim) hold the query, key
// and value projections stacked, out_proj.weight and out_proj.bias the
// output projection.
type MultiHeadAttention struct {
	InProjWeight, InProjBias *autograd.Var
	OutProj                  *Linear
	Heads                    int
	// Dropout is the probability of dropping attention weights in
	// training, drawn from RNG.
	Dropout  float32
	RNG      *tensor.RNG
	Training bool
}

// NewMultiHeadAttention returns attention over dim features in heads heads,
// initialised as PyTorch does: Xavier-uniform input projection, zero
// biases, default Linear output projection.
func NewMultiHeadAttention(rng *tensor.RNG, dim, heads int, dropout float32) *MultiHeadAttention {
	if heads < 1 || dim%heads != 0 {
		panic(fmt.Sprintf("nn: MultiHeadAttention of dim %d in %d heads", dim, heads))
	}
	w := tensor.Zeros(3*dim, dim)
	XavierUniform(rng, w, 1)
	out := NewLinear(rng, dim, dim, true)
	out.Bias.Value().Fill(0)
	return &MultiHeadAttention{
		InProjWeight: autograd.Param(w),
		InProjBias:   autograd.Param(tensor.Zeros(3 * dim)),
		OutProj:      out,
		Heads:        heads,
		Dropout:      dropout,
		RNG:          rng,
		Training:     true,
	}
}

// Members implements Module.
func (a *MultiHeadAttention) Members() Members {
	return Members{
		Params:   params("in_proj_weight", a.InProjWeight, "in_proj_bias", a.InProjBias),
		Children: []Child{{Name: "out_proj", Module: a.OutProj}},
	}
}

// SetTraining turns attention dropout on or off.
func (a *MultiHeadAttention) SetTraining(on bool) { a.Training = on }

// Attend computes attention of query (B, L, Dim) over key and value
// (B, S, Dim). keyPadding, when not nil, holds B·S flags marking keys to
// ignore. It returns the output (B, L, Dim) and the attention weights per
// head (B, Heads, L, S), after softmax and before dropout; average them over
// axis 1 for PyTorch's default need_weights output.
func (a *MultiHeadAttention) Attend(query, key, value *autograd.Var, keyPadding []bool) (out, weights *autograd.Var) {
	qs, ks := query.Shape(), key.Shape()
	if len(qs) != 3 || len(ks) != 3 || !tensor.EqualShapes(ks, value.Shape()) || qs[0] != ks[0] || qs[2] != ks[2] {
		panic(fmt.Sprintf("nn: MultiHeadAttention of query %v, key %v, value %v", qs, ks, value.Shape()))
	}
	b, l, s, e := qs[0], qs[1], ks[1], qs[2]
	if e != a.InProjWeight.Shape()[1] {
		panic(fmt.Sprintf("nn: MultiHeadAttention of dim %d given inputs of dim %d", a.InProjWeight.Shape()[1], e))
	}
	h := a.Heads
	d := e / h
	proj := func(x *autograd.Var, i, n int) *autograd.Var {
		w := autograd.Slice(a.InProjWeight, 0, i*e, (i+1)*e)
		bias := autograd.Slice(a.InProjBias, 0, i*e, (i+1)*e)
		y := autograd.Linear(x, w, bias)                                     // (B, n, E)
		return autograd.Permute(autograd.Reshape(y, b, n, h, d), 0, 2, 1, 3) // (B, H, n, D)
	}
	q := autograd.Scale(proj(query, 0, l), float32(1/math.Sqrt(float64(d))))
	k := proj(key, 1, s)
	v := proj(value, 2, s)
	scores := autograd.BatchMatMul(q, autograd.Transpose(k, 2, 3)) // (B, H, L, S)
	if keyPadding != nil {
		if len(keyPadding) != b*s {
			panic(fmt.Sprintf("nn: key padding mask of %d flags for batch %d and %d keys", len(keyPadding), b, s))
		}
		mask := make([]bool, b*h*l*s)
		for i := range mask {
			bi, si := i/(h*l*s), i%s
			mask[i] = keyPadding[bi*s+si]
		}
		scores = autograd.MaskedFill(scores, mask, float32(math.Inf(-1)))
	}
	weights = autograd.Softmax(scores, -1)
	attn := autograd.Dropout(weights, a.Dropout, a.Training, a.RNG)
	o := autograd.BatchMatMul(attn, v)                             // (B, H, L, D)
	o = autograd.Reshape(autograd.Permute(o, 0, 2, 1, 3), b, l, e) // (B, L, E)
	return a.OutProj.Forward(o), weights
}

// Forward is self-attention: Attend(x, x, x, nil) without the weights.
func (a *MultiHeadAttention) Forward(x *autograd.Var) *autograd.Var {
	out, _ := a.Attend(x, x, x, nil)
	return out
}
