package executor

import (
	"argus/compiler/xgraph"
	"argus/internal/kernels"
)

func init() {
	register("Gemm", gemm)
	register("MatMul", matmul)
}

func gemm(c *call) ([]*xgraph.Tensor, error) {
	a, err := c.float(0)
	if err != nil {
		return nil, err
	}
	b, err := c.float(1)
	if err != nil {
		return nil, err
	}
	if len(a.Shape) != 2 || len(b.Shape) != 2 {
		return nil, c.errorf("inputs %v and %v must be matrices", a.Shape, b.Shape)
	}
	ta, tb := c.n.Int("transA") != 0, c.n.Int("transB") != 0
	m, k := a.Shape[0], a.Shape[1]
	if ta {
		m, k = k, m
	}
	kb, n := b.Shape[0], b.Shape[1]
	if tb {
		kb, n = n, kb
	}
	if k != kb {
		return nil, c.errorf("inner dimensions of %v and %v differ", a.Shape, b.Shape)
	}
	alpha, beta := c.n.Float("alpha"), c.n.Float("beta")
	y := c.zero(a.DType, m, n)
	if bias := c.input(2); bias != nil && beta != 0 {
		if !bias.DType.IsFloat() {
			return nil, c.errorf("C has element type %s", bias.DType)
		}
		if _, err := broadcast(bias.Shape, y.Shape); err != nil {
			return nil, c.errorf("C %v does not broadcast to %v", bias.Shape, y.Shape)
		}
		for i, j := range bindex(bias.Shape, y.Shape) {
			y.F[i] = bias.F[j]
		}
	} else {
		beta = 0
	}
	kernels.Sgemm(ta, tb, m, n, k, alpha, a.F, a.Shape[1], b.F, b.Shape[1], beta, y.F, n)
	if c.relu {
		reluInPlace(y.F)
	}
	return one(y), nil
}

func matmul(c *call) ([]*xgraph.Tensor, error) {
	a, err := c.float(0)
	if err != nil {
		return nil, err
	}
	b, err := c.float(1)
	if err != nil {
		return nil, err
	}
	as, bs := a.Shape, b.Shape
	if len(as) == 0 || len(bs) == 0 {
		return nil, c.errorf("inputs %v and %v must have rank at least 1", as, bs)
	}
	// numpy.matmul: a vector is promoted to a matrix and the added
	// dimension removed again from the result.
	vecA, vecB := len(as) == 1, len(bs) == 1
	if vecA {
		as = []int{1, as[0]}
	}
	if vecB {
		bs = []int{bs[0], 1}
	}
	m, k := as[len(as)-2], as[len(as)-1]
	kb, n := bs[len(bs)-2], bs[len(bs)-1]
	if k != kb {
		return nil, c.errorf("inner dimensions of %v and %v differ", a.Shape, b.Shape)
	}
	batch, err := broadcast(as[:len(as)-2], bs[:len(bs)-2])
	if err != nil {
		return nil, c.errorf("batch dimensions of %v and %v: %v", a.Shape, b.Shape, err)
	}
	c.check(a.DType, append(append([]int{}, batch...), m, n))
	ia := bindex(as[:len(as)-2], batch)
	ib := bindex(bs[:len(bs)-2], batch)
	shape := append(append([]int{}, batch...), m, n)
	y := c.zero(a.DType, shape...)
	nb := numel(batch)
	for p := 0; p < nb; p++ {
		kernels.Sgemm(false, false, m, n, k, 1, a.F[ia[p]*m*k:(ia[p]+1)*m*k], k, b.F[ib[p]*k*n:(ib[p]+1)*k*n], n, 0, y.F[p*m*n:(p+1)*m*n], n)
	}
	out := append([]int{}, batch...)
	if !vecA {
		out = append(out, m)
	}
	if !vecB {
		out = append(out, n)
	}
	return one(y.Reshaped(out)), nil
}

// reluInPlace applies a fused ReLU.
func reluInPlace(f []float32) {
	for i, v := range f {
		f[i] = max(v, 0)
	}
}
