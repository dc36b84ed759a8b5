package dist

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"argus/autograd"
	"argus/nn"
	"argus/tensor"
)

// value is rank r's i-th test value: small integers and halves, so that
// every sum below is exact in float32 whatever the order, and the
// references can be compared bit for bit.
func value(r, i, salt int) float32 {
	return float32((r*7919+i*104729+salt*31)%201-100) / 2
}

// checkComm checks c's collectives, both all-reduce algorithms and the
// Reducer against serial references computed from every rank's inputs. It
// runs on every rank of c at once (it is collective), with t.Error only,
// since the ranks of an in-process group are goroutines.
func checkComm(t *testing.T, c Comm) {
	n, rank := c.Size(), c.Rank()
	fail := func(format string, args ...any) {
		t.Errorf("rank %d of %d: %s", rank, n, fmt.Sprintf(format, args...))
	}
	for _, alg := range []Algorithm{Ring, Butterfly} {
		for _, length := range []int{0, 1, 5, 17, 1000, 4096} {
			buf := make([]float32, length)
			for i := range buf {
				buf[i] = value(rank, i, length)
			}
			if err := Allreduce(c, buf, alg, nil); err != nil {
				fail("%v all-reduce of %d: %v", alg, length, err)
				continue
			}
			for i, v := range buf {
				var want float32
				for r := range n {
					want += value(r, i, length)
				}
				if v != want {
					fail("%v all-reduce of %d: [%d] = %v, want %v", alg, length, i, v, want)
					break
				}
			}
		}
	}

	const m = 6
	send := make([]float32, n*m)
	for i := range send {
		send[i] = value(rank, i, 1)
	}
	recv := make([]float32, m)
	if err := c.ReduceScatter(send, recv); err != nil {
		fail("reduce-scatter: %v", err)
	}
	for i, v := range recv {
		var want float32
		for r := range n {
			want += value(r, rank*m+i, 1)
		}
		if v != want {
			fail("reduce-scatter: [%d] = %v, want %v", i, v, want)
		}
	}
	if err := c.ReduceScatter(send[:n*m-1], recv); err == nil {
		fail("reduce-scatter of mismatched lengths gave no error")
	}
	gathered := make([]float32, n*m)
	if err := c.Allgather(recv[:m], gathered); err != nil {
		fail("all-gather: %v", err)
	}
	for r := range n {
		for i := range m {
			var want float32
			for q := range n {
				want += value(q, r*m+i, 1)
			}
			if gathered[r*m+i] != want {
				fail("all-gather: block %d [%d] = %v, want %v", r, i, gathered[r*m+i], want)
			}
		}
	}
	for root := range n {
		buf := []float32{value(rank, 0, 2), value(rank, 1, 2)}
		if err := c.Bcast(buf, root); err != nil {
			fail("broadcast from %d: %v", root, err)
		}
		if buf[0] != value(root, 0, 2) || buf[1] != value(root, 1, 2) {
			fail("broadcast from %d: got %v", root, buf)
		}
	}
	if err := c.Bcast(make([]float32, 1), n); err == nil {
		fail("broadcast from rank %d gave no error", n)
	}

	for _, alg := range []Algorithm{Ring, Butterfly} {
		checkReducer(t, c, alg)
	}
	checkShardedLinear(t, c)
}

// checkShardedLinear compares the model-parallel layer on this rank's 3
// samples with one Linear on every rank's samples: the logits, the
// shard's weight and bias gradients, and the input gradients, of a mean
// cross-entropy over the global batch (each rank's loss is the mean over
// its samples, and the run's loss the mean over the ranks).
func checkShardedLinear(t *testing.T, c Comm) {
	const in, out, b, tol = 5, 7, 3, 1e-5
	n, rank := c.Size(), c.Rank()
	if out < n {
		return
	}
	full := nn.NewLinear(tensor.NewRNG(3), in, out, true)
	xs := tensor.NewRNG(4).Normal(0, 1, n*b, in)
	labels := make([]int, n*b)
	for i := range labels {
		labels[i] = (i * 5) % out
	}
	X := autograd.Param(xs.Clone())
	ref := full.Forward(X)
	autograd.CrossEntropy(ref, labels, autograd.CrossEntropyOptions{}).Backward()

	sl, err := NewShardedLinear(c, full)
	if err != nil {
		t.Errorf("rank %d: %v", rank, err)
		return
	}
	x := autograd.Param(tensor.FromSlice(xs.Data()[rank*b*in:(rank+1)*b*in], b, in))
	y := sl.Forward(x)
	autograd.CrossEntropy(y, labels[rank*b:(rank+1)*b], autograd.CrossEntropyOptions{}).Backward()

	near := func(what string, got, want []float32, scale float32) {
		for i := range want {
			if d := got[i] - want[i]*scale; d > tol || d < -tol {
				t.Errorf("rank %d of %d: sharded linear %s[%d] = %v, one Linear %v", rank, n, what, i, got[i], want[i]*scale)
				return
			}
		}
	}
	near("logits", y.Value().Data(), ref.Value().Data()[rank*b*out:(rank+1)*b*out], 1)
	near("weight gradient", sl.Weight.Grad().Data(), full.Weight.Grad().Data()[sl.Lo*in:sl.Hi*in], 1)
	near("bias gradient", sl.Bias.Grad().Data(), full.Bias.Grad().Data()[sl.Lo:sl.Hi], 1)
	// The rank's loss is the mean over its b samples, the reference's over
	// n·b: the input gradients differ by n.
	near("input gradient", x.Grad().Data(), X.Grad().Data()[rank*b*in:(rank+1)*b*in], float32(n))

	// Gathered after a change of every shard, the layer is full's with the
	// same change.
	for _, v := range []*autograd.Var{sl.Weight, sl.Bias, full.Weight, full.Bias} {
		for i := range v.Value().Data() {
			v.Value().Data()[i] *= 2
		}
	}
	whole, err := sl.Gather()
	if err != nil {
		t.Errorf("rank %d: %v", rank, err)
		return
	}
	near("gathered weight", whole.Weight.Value().Data(), full.Weight.Value().Data(), 1)
	near("gathered bias", whole.Bias.Value().Data(), full.Bias.Value().Data(), 1)
}

// checkReducer gives each rank gradients of its own and reports them Ready
// in an order of its own (some not at all, one parameter without a
// gradient on odd ranks), and checks that every rank ends with the mean.
func checkReducer(t *testing.T, c Comm, alg Algorithm) {
	n, rank := c.Size(), c.Rank()
	sizes := []int{3, 300, 70, 1, 2000, 5}
	params := make([]*autograd.Var, len(sizes))
	for i, s := range sizes {
		params[i] = autograd.Param(tensor.Zeros(s))
	}
	// Buckets of at most 1 KiB after a first one of 400 B.
	red, err := NewReducer(c, params, ReducerOptions{Algorithm: alg, FirstBucketBytes: 400, BucketBytes: 1024})
	if err != nil {
		t.Errorf("rank %d: %v", rank, err)
		return
	}
	defer red.Close()
	grad := func(r, p, i, step int) float32 {
		if p == 2 && r%2 == 1 {
			return 0
		}
		return value(r, i, 10*p+step)
	}
	rng := rand.New(rand.NewPCG(uint64(rank), 1))
	for step := range 3 {
		for p, v := range params {
			v.ZeroGrad()
			if p == 2 && rank%2 == 1 {
				continue
			}
			g := make([]float32, sizes[p])
			for i := range g {
				g[i] = grad(rank, p, i, step)
			}
			v.SetGrad(tensor.FromSlice(g))
		}
		for _, p := range rng.Perm(len(params))[:rng.IntN(len(params)+1)] {
			red.Ready(params[p])
		}
		if err := red.Wait(); err != nil {
			t.Errorf("rank %d: %v reducer step %d: %v", rank, alg, step, err)
			return
		}
		for p, v := range params {
			for i, got := range v.Grad().Data() {
				var sum float32
				for r := range n {
					sum += grad(r, p, i, step)
				}
				if want := sum * (1 / float32(n)); got != want {
					t.Errorf("rank %d of %d: %v reducer step %d: parameter %d [%d] = %v, want %v", rank, n, alg, step, p, i, got, want)
					return
				}
			}
		}
	}
	if got := red.Stats(); got.Steps != 3 || got.Buckets != 3*len(red.Buckets()) {
		t.Errorf("rank %d: stats %+v after 3 steps of %d buckets", rank, got, len(red.Buckets()))
	}
}
