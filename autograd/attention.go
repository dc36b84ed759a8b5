package autograd

import (
	"fmt"

	"argus/internal/kernels"
	"argus/internal/par"
	"argus/tensor"
)

// Attention returns scaled dot-product attention, softmax(scale·q·kᵀ)·v,
// as one op: q is (..., L, D), k and v are (..., S, D) with the same batch
// dimensions as q. The scores, their softmax and the product with v run per
// batch entry without recording the intermediate steps; the backward pass
// goes through the saved probabilities:
//
//	dV = Pᵀ·dO
//	dP = dO·Vᵀ
//	dS = P ⊙ (dP − rowsum(P ⊙ dP))
//	dQ = scale·dS·K,  dK = scale·dSᵀ·Q
//
// It also returns the probabilities P (..., L, S), for attention rollout and
// other read-only uses; the caller must not modify them.
func Attention(q, k, v *Var, scale float32) (*Var, *tensor.Tensor) {
	qs, ks, vs := q.Shape(), k.Shape(), v.Shape()
	n := len(qs)
	if n < 2 || len(ks) != n || !tensor.EqualShapes(ks, vs) || qs[n-1] != ks[n-1] || !tensor.EqualShapes(qs[:n-2], ks[:n-2]) {
		panic(fmt.Sprintf("autograd: Attention of q %v, k %v, v %v", qs, ks, vs))
	}
	o := &attentionOp{q: q, k: k, v: v, scale: scale}
	out := Apply(o)
	return out, o.p
}

type attentionOp struct {
	q, k, v *Var
	scale   float32
	p       *tensor.Tensor // the probabilities, saved for Backward
}

func (o *attentionOp) Operands() []*Var { return []*Var{o.q, o.k, o.v} }

// dims returns the batch count, the query and key lengths and the width.
func (o *attentionOp) dims() (nb, l, s, d int) {
	qs, ks := o.q.Shape(), o.k.Shape()
	n := len(qs)
	return tensor.NumElements(qs[:n-2]), qs[n-2], ks[n-2], qs[n-1]
}

func (o *attentionOp) Forward() *tensor.Tensor {
	nb, l, s, d := o.dims()
	qs := o.q.Shape()
	o.p = tensor.Zeros(append(append([]int{}, qs[:len(qs)-1]...), s)...)
	out := tensor.Zeros(qs...)
	qd, kd, vd, pd, od := o.q.value.Data(), o.k.value.Data(), o.v.value.Data(), o.p.Data(), out.Data()
	par.Workers(nb, itemWorkers(nb, 4*float64(l*s*d)), func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			p := pd[i*l*s : (i+1)*l*s]
			kernels.Sgemm(false, true, l, s, d, o.scale, qd[i*l*d:], d, kd[i*s*d:], d, 0, p, s)
			for r := 0; r < l; r++ {
				row := p[r*s : (r+1)*s]
				softmaxRow(row, row, false)
			}
			kernels.Sgemm(false, false, l, d, s, 1, p, s, vd[i*s*d:], d, 0, od[i*l*d:], d)
		}
	})
	return out
}

func (o *attentionOp) Backward(g *tensor.Tensor) []*tensor.Tensor {
	nb, l, s, d := o.dims()
	var gq, gk, gv *tensor.Tensor
	var gqd, gkd, gvd []float32
	if o.q.requiresGrad {
		gq = tensor.Zeros(o.q.Shape()...)
		gqd = gq.Data()
	}
	if o.k.requiresGrad {
		gk = tensor.Zeros(o.k.Shape()...)
		gkd = gk.Data()
	}
	if o.v.requiresGrad {
		gv = tensor.Zeros(o.v.Shape()...)
		gvd = gv.Data()
	}
	qd, kd, vd, pd, gd := o.q.value.Data(), o.k.value.Data(), o.v.value.Data(), o.p.Data(), g.Data()
	scores := gq != nil || gk != nil
	par.Workers(nb, itemWorkers(nb, 8*float64(l*s*d)), func(_, lo, hi int) {
		var ds []float32
		if scores {
			ds = getBuf(l * s)
			defer putBuf(ds)
		}
		for i := lo; i < hi; i++ {
			p, gi := pd[i*l*s:(i+1)*l*s], gd[i*l*d:]
			if gv != nil {
				kernels.Sgemm(true, false, s, d, l, 1, p, s, gi, d, 0, gvd[i*s*d:], d)
			}
			if !scores {
				continue
			}
			kernels.Sgemm(false, true, l, s, d, 1, gi, d, vd[i*s*d:], d, 0, ds, s)
			for r := 0; r < l; r++ {
				pr, dr := p[r*s:(r+1)*s], ds[r*s:(r+1)*s]
				var dot float64
				for j, pv := range pr {
					dot += float64(pv) * float64(dr[j])
				}
				for j, pv := range pr {
					dr[j] = pv * (dr[j] - float32(dot))
				}
			}
			if gq != nil {
				kernels.Sgemm(false, false, l, d, s, o.scale, ds, s, kd[i*s*d:], d, 0, gqd[i*l*d:], d)
			}
			if gk != nil {
				kernels.Sgemm(true, false, s, d, l, o.scale, ds, s, qd[i*l*d:], d, 0, gkd[i*s*d:], d)
			}
		}
	})
	return []*tensor.Tensor{gq, gk, gv}
}

// Describe implements Describer.
func (o *attentionOp) Describe() Description {
	return Description{Kind: "Attention", Attrs: map[string]any{"scale": o.scale}}
}
