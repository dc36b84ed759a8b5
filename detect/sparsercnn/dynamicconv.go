// Package sparsercnn holds the parts of Sparse R-CNN (Sun et al. 2021)
// and Dynamic Sparse R-CNN built on the engine: the dynamic instance
// interaction of each head stage, with the official code's parameter
// names (PeizeSun/SparseR-CNN, projects/SparseRCNN/sparsercnn/head.py).
package sparsercnn

import (
	"fmt"

	"argus/autograd"
	"argus/nn"
	"argus/tensor"
)

// DynamicConv is Sparse R-CNN's dynamic instance interaction: a Linear
// layer turns each proposal's feature into the parameters of two
// per-proposal 1×1 convolutions, hidden→dynamic and dynamic→hidden, which
// are applied to the proposal's RoI feature (each followed by LayerNorm
// and ReLU); the result is flattened position-major and mapped back to
// one hidden-sized vector by a Linear layer, LayerNorm and ReLU. Its
// parameter names are the official DynamicConv's: dynamic_layer, norm1,
// norm2, out_layer, norm3.
type DynamicConv struct {
	Dynamic             *nn.Linear // hidden → 2·hidden·dynamic
	Norm1, Norm2, Norm3 *nn.LayerNorm
	Out                 *nn.Linear // resolution²·hidden → hidden
	Hidden, DimDynamic  int
}

// NewDynamicConv returns a DynamicConv for proposal features of hidden
// channels, dimDynamic channels between its two dynamic convolutions
// (Sparse R-CNN: 256 and 64) and RoI features of resolution×resolution
// positions (7), with PyTorch's default Linear initialisation and unit
// LayerNorms. (The official head re-initialises every matrix with
// Xavier-uniform afterwards; that is the head's business.)
func NewDynamicConv(rng *tensor.RNG, hidden, dimDynamic, resolution int) *DynamicConv {
	return &DynamicConv{
		Dynamic:    nn.NewLinear(rng, hidden, 2*hidden*dimDynamic, true),
		Norm1:      nn.NewLayerNorm(dimDynamic),
		Norm2:      nn.NewLayerNorm(hidden),
		Out:        nn.NewLinear(rng, resolution*resolution*hidden, hidden, true),
		Norm3:      nn.NewLayerNorm(hidden),
		Hidden:     hidden,
		DimDynamic: dimDynamic,
	}
}

// Members implements nn.Module with the official names.
func (d *DynamicConv) Members() nn.Members {
	return nn.Members{Children: []nn.Child{
		{Name: "dynamic_layer", Module: d.Dynamic},
		{Name: "norm1", Module: d.Norm1},
		{Name: "norm2", Module: d.Norm2},
		{Name: "out_layer", Module: d.Out},
		{Name: "norm3", Module: d.Norm3},
	}}
}

// Forward maps proposal features pro (K×hidden) and their RoI features
// roi (K×hidden×S×S, as autograd.MultiLevelRoIAlign returns them) to the
// interacted features (K×hidden).
func (d *DynamicConv) Forward(pro, roi *autograd.Var) *autograd.Var {
	ps, rs := pro.Shape(), roi.Shape()
	if len(ps) != 2 || len(rs) != 4 || ps[1] != d.Hidden || rs[0] != ps[0] || rs[1] != d.Hidden {
		panic(fmt.Sprintf("sparsercnn: DynamicConv of proposal features %v and RoI features %v (hidden %d)", ps, rs, d.Hidden))
	}
	k, h, n := ps[0], d.Hidden, d.DimDynamic
	// The official head reshapes the pooled K×C×S×S to S²×K×C and the
	// module permutes it to K×S²×C: position-major rows.
	f := autograd.Permute(autograd.Reshape(roi, k, h, rs[2]*rs[3]), 0, 2, 1)
	params := d.Dynamic.Forward(pro)
	p1 := autograd.Reshape(autograd.Slice(params, 1, 0, h*n), k, h, n)
	p2 := autograd.Reshape(autograd.Slice(params, 1, h*n, 2*h*n), k, n, h)
	f = autograd.ReLU(d.Norm1.Forward(autograd.BatchMatMul(f, p1)))
	f = autograd.ReLU(d.Norm2.Forward(autograd.BatchMatMul(f, p2)))
	f = d.Out.Forward(autograd.Flatten(f, 1, -1))
	return autograd.ReLU(d.Norm3.Forward(f))
}
