package dist

import (
	"fmt"

	"argus/autograd"
	"argus/internal/kernels"
	"argus/nn"
	"argus/tensor"
)

// ShardedLinear is Deep Image's model-parallel fully connected layer: the
// output features of y = x·Wᵀ + b are split over the ranks of a
// data-parallel run, rank r holding rows Lo..Hi of W and b, while every
// rank keeps its own share of the batch.
//
// Forward gathers every rank's inputs (all-gather), computes this rank's
// output features for all of them, gathers the features of the other
// ranks (all-gather) and returns this rank's rows: the logits of its own
// samples, as a full Linear would give them. Backward gathers the
// gradients of every rank's logits, computes the weight and bias
// gradients of its shard over the whole global batch — scaled by 1/Size(),
// the mean over the ranks that the Reducer takes of the other parameters,
// and complete, so they are not handed to a Reducer — and sums the input
// gradients over the shards (reduce-scatter), each rank receiving its own
// samples'.
//
// Its collectives run on the goroutine of the forward and backward passes,
// on the same Comm as a Reducer's: they keep their order on every rank only
// because the layer is the last one with parameters (a classifier head),
// whose backward runs before any other gradient is Ready. A collective that
// fails panics, as MPI's default error handler would abort: the ranks no
// longer agree and the run cannot go on.
type ShardedLinear struct {
	Comm         Comm
	In, Out      int
	Lo, Hi       int
	Weight, Bias *autograd.Var
}

// ShardRange returns the output features of rank of size for n features:
// the ranks take n/size each, the first n%size one more.
func ShardRange(n, size, rank int) (lo, hi int) {
	q, r := n/size, n%size
	lo = rank*q + min(rank, r)
	hi = lo + q
	if rank < r {
		hi++
	}
	return lo, hi
}

// NewShardedLinear returns this rank's shard of full, whose weights every
// rank must hold the same (built from one seed): its rows are copied, so
// the sharded layer starts as full would. full must have a bias.
func NewShardedLinear(c Comm, full *nn.Linear) (*ShardedLinear, error) {
	if full.Bias == nil {
		return nil, fmt.Errorf("dist: a sharded linear layer needs a bias")
	}
	sh := full.Weight.Shape()
	out, in := sh[0], sh[1]
	if out < c.Size() {
		return nil, fmt.Errorf("dist: %d output features do not shard over %d ranks", out, c.Size())
	}
	lo, hi := ShardRange(out, c.Size(), c.Rank())
	w := tensor.FromSlice(full.Weight.Value().Data()[lo*in:hi*in], hi-lo, in)
	b := tensor.FromSlice(full.Bias.Value().Data()[lo:hi], hi-lo)
	return &ShardedLinear{Comm: c, In: in, Out: out, Lo: lo, Hi: hi, Weight: autograd.Param(w), Bias: autograd.Param(b)}, nil
}

// Members implements nn.Module: the shard's weight and bias.
func (l *ShardedLinear) Members() nn.Members {
	return nn.Members{Params: []nn.Parameter{{Name: "weight", Var: l.Weight}, {Name: "bias", Var: l.Bias}}}
}

// Forward maps this rank's inputs x, of shape (B, In) with the same B on
// every rank, to their logits (B, Out).
func (l *ShardedLinear) Forward(x *autograd.Var) *autograd.Var {
	sh := x.Shape()
	if len(sh) != 2 || sh[1] != l.In {
		panic(fmt.Sprintf("dist: ShardedLinear of %d inputs applied to %v", l.In, sh))
	}
	return autograd.Apply(&shardedFC{l: l, x: x, b: sh[0]})
}

// shardedFC is the op of ShardedLinear.Forward.
type shardedFC struct {
	l    *ShardedLinear
	x    *autograd.Var
	b    int
	xAll []float32 // every rank's inputs, (Size·b, In)
}

func (o *shardedFC) Operands() []*autograd.Var { return []*autograd.Var{o.x, o.l.Weight, o.l.Bias} }

// width is the columns of every rank's block: the largest shard.
func (o *shardedFC) width() int { return (o.l.Out + o.l.Comm.Size() - 1) / o.l.Comm.Size() }

func must(err error) {
	if err != nil {
		panic(fmt.Sprintf("dist: sharded linear layer: %v", err))
	}
}

func (o *shardedFC) Forward() *tensor.Tensor {
	l, n, b := o.l, o.l.Comm.Size(), o.b
	rows, m, own := n*b, o.width(), l.Hi-l.Lo
	o.xAll = make([]float32, rows*l.In)
	must(l.Comm.Allgather(o.x.Value().Data(), o.xAll))
	// This shard's features of every sample, padded to m columns.
	part := make([]float32, rows*m)
	kernels.Sgemm(false, true, rows, own, l.In, 1, o.xAll, l.In, l.Weight.Value().Data(), l.In, 0, part, m)
	bias := l.Bias.Value().Data()
	for i := range rows {
		for j, v := range bias {
			part[i*m+j] += v
		}
	}
	all := make([]float32, n*rows*m)
	must(l.Comm.Allgather(part, all))
	out := tensor.Zeros(b, l.Out)
	y := out.Data()
	me := l.Comm.Rank()
	for q := range n {
		lo, hi := ShardRange(l.Out, n, q)
		for i := range b {
			src := all[q*rows*m+(me*b+i)*m:]
			copy(y[i*l.Out+lo:i*l.Out+hi], src[:hi-lo])
		}
	}
	return out
}

func (o *shardedFC) Backward(g *tensor.Tensor) []*tensor.Tensor {
	l, n, b := o.l, o.l.Comm.Size(), o.b
	rows, own := n*b, l.Hi-l.Lo
	gAll := make([]float32, rows*l.Out)
	must(l.Comm.Allgather(g.Data(), gAll))
	// This shard's columns of every sample's logit gradients.
	dy := make([]float32, rows*own)
	for i := range rows {
		copy(dy[i*own:(i+1)*own], gAll[i*l.Out+l.Lo:i*l.Out+l.Hi])
	}
	scale := 1 / float32(n)
	dw := tensor.Zeros(own, l.In)
	kernels.Sgemm(true, false, own, l.In, rows, scale, dy, own, o.xAll, l.In, 0, dw.Data(), l.In)
	db := tensor.Zeros(own)
	for i := range rows {
		for j := range own {
			db.Data()[j] += dy[i*own+j]
		}
	}
	for j := range own {
		db.Data()[j] *= scale
	}
	// Every sample's input gradient through this shard, summed over the
	// shards into each rank's own samples.
	dxAll := make([]float32, rows*l.In)
	kernels.Sgemm(false, false, rows, l.In, own, 1, dy, own, l.Weight.Value().Data(), l.In, 0, dxAll, l.In)
	dx := tensor.Zeros(b, l.In)
	must(l.Comm.ReduceScatter(dxAll, dx.Data()))
	return []*tensor.Tensor{dx, dw, db}
}

// Gather returns the whole layer, every rank's rows of the weight and the
// bias together, as the Linear it shards: what a checkpoint of the model
// holds. It is collective: every rank calls it and receives the layer.
func (l *ShardedLinear) Gather() (*nn.Linear, error) {
	n := l.Comm.Size()
	m := (l.Out + n - 1) / n
	own := l.Hi - l.Lo
	// Each rank's block: m rows of the weight then m of the bias, padded.
	block := m * (l.In + 1)
	mine := make([]float32, block)
	copy(mine, l.Weight.Value().Data())
	copy(mine[m*l.In:], l.Bias.Value().Data()[:own])
	all := make([]float32, n*block)
	if err := l.Comm.Allgather(mine, all); err != nil {
		return nil, fmt.Errorf("gather sharded linear layer: %w", err)
	}
	w, b := tensor.Zeros(l.Out, l.In), tensor.Zeros(l.Out)
	for q := range n {
		lo, hi := ShardRange(l.Out, n, q)
		src := all[q*block:]
		copy(w.Data()[lo*l.In:hi*l.In], src[:(hi-lo)*l.In])
		copy(b.Data()[lo:hi], src[m*l.In:m*l.In+hi-lo])
	}
	return &nn.Linear{Weight: autograd.Param(w), Bias: autograd.Param(b)}, nil
}
