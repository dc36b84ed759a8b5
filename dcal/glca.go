package dcal

import (
	"fmt"
	"math"
	"sort"

	"argus/autograd"
	"argus/nn"
	"argus/tensor"
)

// SelectQueries returns the token indices of GLCA's queries for each image
// of a rollout (N, L−1), Rollout's class row over the patches: the class
// token 0 first, then the r patches of highest rollout as token indices
// (patch j is token j+1), highest first, a tie going to the lower index.
// The paper takes the top r; keeping the class token's query too is our
// reading, which the GLCA classifier needs.
func SelectQueries(rollout *tensor.Tensor, r int) [][]int {
	s := rollout.Shape()
	if len(s) != 2 || r < 0 || r > s[1] {
		panic(fmt.Sprintf("dcal: %d queries from a rollout of %v", r, s))
	}
	n, p := s[0], s[1]
	out := make([][]int, n)
	order := make([]int, p)
	for i := range out {
		row := rollout.Data()[i*p : (i+1)*p]
		for j := range order {
			order[j] = j
		}
		sort.SliceStable(order, func(a, b int) bool { return row[order[a]] > row[order[b]] })
		q := make([]int, 1, r+1)
		for _, j := range order[:r] {
			q = append(q, j+1)
		}
		out[i] = q
	}
	return out
}

// GLCA is DCAL's global-local cross-attention block: a pre-norm
// transformer block whose queries are a few selected tokens of each image
// (SelectQueries) while its keys and values are all of them,
// softmax(Q_l·K_gᵀ/√d)·V_g, followed by the block's MLP on the selected
// tokens. Its parameters carry the names of timm's Block (norm1,
// attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2), so it can start from a
// ViT block's weights; the query projection is the first third of qkv.
type GLCA struct {
	Norm1, Norm2 *nn.LayerNorm
	QKV, Proj    *nn.Linear
	FC1, FC2     *nn.Linear
	Heads        int
	DropPath     *nn.DropPath
}

// NewGLCA returns a GLCA block of width dim, heads heads and MLP width mlp,
// initialised as timm initialises a ViT block (trunc-normal std 0.02
// linear weights, zero biases, LayerNorm eps 1e-6), with drop-path rate
// dropPath drawn from rng.
func NewGLCA(rng *tensor.RNG, dim, heads, mlp int, dropPath float32) *GLCA {
	if heads < 1 || dim%heads != 0 {
		panic(fmt.Sprintf("dcal: GLCA of width %d in %d heads", dim, heads))
	}
	linear := func(in, out int) *nn.Linear {
		l := nn.NewLinear(rng, in, out, true)
		nn.TruncNormal(rng, l.Weight.Value(), 0, 0.02, -2, 2)
		l.Bias.Value().Fill(0)
		return l
	}
	norm := func() *nn.LayerNorm {
		n := nn.NewLayerNorm(dim)
		n.Eps = 1e-6
		return n
	}
	return &GLCA{Norm1: norm(), QKV: linear(dim, 3*dim), Proj: linear(dim, dim), Norm2: norm(),
		FC1: linear(dim, mlp), FC2: linear(mlp, dim), Heads: heads, DropPath: nn.NewDropPath(dropPath, rng)}
}

// Members implements nn.Module with timm's Block names.
func (g *GLCA) Members() nn.Members {
	return nn.Members{Children: []nn.Child{
		{Name: "norm1", Module: g.Norm1}, {Name: "attn", Module: named{"qkv", g.QKV, "proj", g.Proj}},
		{Name: "norm2", Module: g.Norm2}, {Name: "mlp", Module: named{"fc1", g.FC1, "fc2", g.FC2}},
		{Name: "drop_path", Module: g.DropPath},
	}}
}

// named is a module of two named linear layers.
type named struct {
	a  string
	la *nn.Linear
	b  string
	lb *nn.Linear
}

func (m named) Members() nn.Members {
	return nn.Members{Children: []nn.Child{{Name: m.a, Module: m.la}, {Name: m.b, Module: m.lb}}}
}

// Forward runs the block on the tokens x (N, L, D) with the queries
// queries[n] of image n (the same number for every image) and returns the
// selected tokens after the block, (N, Q, D), in the order of queries.
func (g *GLCA) Forward(x *autograd.Var, queries [][]int) *autograd.Var {
	s := x.Shape()
	if len(s) != 3 || len(queries) != s[0] || len(queries) == 0 {
		panic(fmt.Sprintf("dcal: GLCA of tokens %v with queries for %d images", s, len(queries)))
	}
	n, l, dim := s[0], s[1], s[2]
	nq := len(queries[0])
	index := make([]int, 0, n*nq)
	for i, q := range queries {
		if len(q) != nq {
			panic(fmt.Sprintf("dcal: GLCA with %d queries for image 0 and %d for image %d", nq, len(q), i))
		}
		for _, t := range q {
			if t < 0 || t >= l {
				panic(fmt.Sprintf("dcal: GLCA query token %d of %d", t, l))
			}
			index = append(index, i*l+t)
		}
	}
	h, d := g.Heads, dim/g.Heads
	local := autograd.Reshape(autograd.IndexSelect(autograd.Reshape(x, n*l, dim), 0, index), n, nq, dim)
	w, b := g.QKV.Weight, g.QKV.Bias
	q := autograd.Linear(g.Norm1.Forward(local), autograd.Slice(w, 0, 0, dim), autograd.Slice(b, 0, 0, dim))
	kv := autograd.Linear(g.Norm1.Forward(x), autograd.Slice(w, 0, dim, 3*dim), autograd.Slice(b, 0, dim, 3*dim))
	kv = autograd.Reshape(kv, n, l, 2, h, d)
	part := func(i int) *autograd.Var {
		return autograd.Transpose(autograd.Reshape(autograd.Slice(kv, 2, i, i+1), n, l, h, d), 1, 2)
	}
	qh := autograd.Transpose(autograd.Reshape(q, n, nq, h, d), 1, 2)
	o, _ := autograd.Attention(qh, part(0), part(1), float32(1/math.Sqrt(float64(d))))
	o = g.Proj.Forward(autograd.Reshape(autograd.Transpose(o, 1, 2), n, nq, dim))
	y := autograd.Add(local, g.DropPath.Forward(o))
	m := g.FC2.Forward(autograd.GELU(g.FC1.Forward(g.Norm2.Forward(y))))
	return autograd.Add(y, g.DropPath.Forward(m))
}
