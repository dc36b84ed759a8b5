package dist

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"argus/autograd"
	"argus/tensor"
)

// Bucket sizes of PyTorch's DDP, the Reducer's defaults: a small first
// bucket, so that reducing starts early in the backward pass, then larger
// ones, so that each collective's latency is paid for many values.
const (
	FirstBucketBytes = 1 << 20
	BucketBytes      = 25 << 20
)

// ReducerOptions configure a Reducer.
type ReducerOptions struct {
	// Algorithm all-reduces each bucket (default Ring).
	Algorithm Algorithm
	// FirstBucketBytes caps the first bucket, BucketBytes the others
	// (defaults FirstBucketBytes and BucketBytes). A parameter larger than
	// the cap has a bucket of its own.
	FirstBucketBytes, BucketBytes int
}

// Reducer averages the gradients of a model's parameters over the ranks of
// a Comm, in buckets, overlapping the reduction with the backward pass.
//
// The parameters are taken in reverse order (the order in which a backward
// pass completes their gradients, last layer first, as DDP assumes) and cut
// into buckets: the first of at most FirstBucketBytes of float32
// gradients, the others of at most BucketBytes. The buckets are the same on
// every rank and are all-reduced strictly in their order, one at a time, by
// a goroutine of the Reducer: a bucket starts once all its parameters are
// Ready and every earlier bucket has started, so every rank issues the same
// collectives in the same order whatever the timing.
//
// A step is: Ready for each parameter as its gradient completes (from
// autograd.OnLeafGrad during the last backward pass; optional), then Wait,
// which starts the buckets left, waits for all of them and leaves every
// parameter's gradient the mean over the ranks. A parameter without a
// gradient counts as zeros and receives the mean.
type Reducer struct {
	comm    Comm
	alg     Algorithm
	buckets []*bucket
	slots   map[*autograd.Var]slot
	next    int // the first bucket not yet started this step
	work    chan *bucket
	wg      sync.WaitGroup
	stats   Stats
}

// slot is where a parameter's gradient lies: its bucket, its index in
// the bucket's parameters and its offset in the bucket's buffer.
type slot struct{ bucket, index, off int }

// bucket is a run of parameters whose gradients are reduced together in
// one flat buffer.
type bucket struct {
	params  []*autograd.Var
	offs    []int
	ready   []bool
	nready  int
	buf     []float32 // the gradients, padded to a multiple of the ranks
	scratch []float32 // the butterfly's reduced slice
	done    chan error
	// end is when the reduction ended and seconds how long it took, set
	// before done is sent.
	end     time.Time
	seconds float64
}

// Stats describe the overlap of the reductions with the backward passes,
// over the steps so far.
type Stats struct {
	// Steps is the number of Waits, Buckets the buckets reduced.
	Steps, Buckets int
	// Hidden counts the buckets whose reduction had ended when Wait was
	// called: the backward pass hid them entirely.
	Hidden int
	// ReduceSeconds is the time spent in the collectives, WaitSeconds the
	// time Wait blocked, which the backward pass did not hide.
	ReduceSeconds, WaitSeconds float64
}

// NewReducer returns a Reducer of the gradients of params over c. Every
// rank must pass the same parameters, with the same shapes, in the same
// order. Close stops its goroutine.
func NewReducer(c Comm, params []*autograd.Var, opt ReducerOptions) (*Reducer, error) {
	if opt.FirstBucketBytes == 0 {
		opt.FirstBucketBytes = FirstBucketBytes
	}
	if opt.BucketBytes == 0 {
		opt.BucketBytes = BucketBytes
	}
	if opt.FirstBucketBytes < 0 || opt.BucketBytes < 0 {
		return nil, fmt.Errorf("dist: bucket sizes must be positive, got %d and %d", opt.FirstBucketBytes, opt.BucketBytes)
	}
	if opt.Algorithm != Ring && opt.Algorithm != Butterfly {
		return nil, fmt.Errorf("dist: unknown all-reduce algorithm %v", opt.Algorithm)
	}
	r := &Reducer{comm: c, alg: opt.Algorithm, slots: map[*autograd.Var]slot{}}
	var cur *bucket
	size, limit := 0, opt.FirstBucketBytes
	for i := len(params) - 1; i >= 0; i-- {
		p := params[i]
		if !p.RequiresGrad() {
			continue
		}
		if _, dup := r.slots[p]; dup {
			return nil, fmt.Errorf("dist: parameter %d is listed twice", i)
		}
		n := p.Value().Len()
		if cur != nil && size+4*n > limit {
			r.seal(cur, size)
			cur, size, limit = nil, 0, opt.BucketBytes
		}
		if cur == nil {
			cur = &bucket{}
			r.buckets = append(r.buckets, cur)
		}
		r.slots[p] = slot{bucket: len(r.buckets) - 1, index: len(cur.params), off: size / 4}
		cur.params = append(cur.params, p)
		cur.offs = append(cur.offs, size/4)
		size += 4 * n
	}
	if cur != nil {
		r.seal(cur, size)
	}
	r.work = make(chan *bucket, len(r.buckets))
	r.wg.Add(1)
	go r.reduce()
	return r, nil
}

// seal sizes bucket b's buffers for size bytes of gradients.
func (r *Reducer) seal(b *bucket, size int) {
	n := r.comm.Size()
	vals := (size/4 + n - 1) / n * n
	b.buf = make([]float32, vals)
	if r.alg == Butterfly {
		b.scratch = make([]float32, vals/n)
	}
	b.ready = make([]bool, len(b.params))
	b.done = make(chan error, 1)
}

// reduce all-reduces the buckets handed to it, in the order they come.
func (r *Reducer) reduce() {
	defer r.wg.Done()
	for b := range r.work {
		start := time.Now()
		err := Allreduce(r.comm, b.buf, r.alg, b.scratch)
		b.end = time.Now()
		b.seconds = b.end.Sub(start).Seconds()
		b.done <- err
	}
}

// Buckets returns the number of values of each bucket, in reduction order.
func (r *Reducer) Buckets() []int {
	out := make([]int, len(r.buckets))
	for i, b := range r.buckets {
		last := len(b.params) - 1
		out[i] = b.offs[last] + b.params[last].Value().Len()
	}
	return out
}

// Rank returns the rank of the Reducer's Comm.
func (r *Reducer) Rank() int { return r.comm.Rank() }

// Ready records that p's gradient is complete for this step: it is copied
// into its bucket, and the buckets that are now complete start in order.
// A parameter the Reducer does not hold is ignored.
func (r *Reducer) Ready(p *autograd.Var) {
	s, ok := r.slots[p]
	if !ok {
		return
	}
	b, i, j := r.buckets[s.bucket], s.off, s.index
	if b.ready[j] {
		return
	}
	fill(b.buf[i:i+p.Value().Len()], p.Grad())
	b.ready[j] = true
	b.nready++
	for r.next < len(r.buckets) && r.buckets[r.next].nready == len(r.buckets[r.next].params) {
		r.work <- r.buckets[r.next]
		r.next++
	}
}

// fill copies gradient g into dst, or zeros when there is none.
func fill(dst []float32, g *tensor.Tensor) {
	if g == nil {
		clear(dst)
		return
	}
	copy(dst, g.Data())
}

// Wait starts the buckets not yet started, waits for every reduction and
// sets each parameter's gradient to the mean over the ranks. After an
// error the ranks no longer agree and the run must stop.
func (r *Reducer) Wait() error {
	called := time.Now()
	for ; r.next < len(r.buckets); r.next++ {
		b := r.buckets[r.next]
		for j, p := range b.params {
			if !b.ready[j] {
				fill(b.buf[b.offs[j]:b.offs[j]+p.Value().Len()], p.Grad())
			}
		}
		r.work <- b
	}
	r.next = 0
	scale := 1 / float32(r.comm.Size())
	var errs []error
	for _, b := range r.buckets {
		if err := <-b.done; err != nil {
			errs = append(errs, err)
		}
		if !b.end.After(called) {
			r.stats.Hidden++
		}
		r.stats.ReduceSeconds += b.seconds
		for j, p := range b.params {
			src := b.buf[b.offs[j] : b.offs[j]+p.Value().Len()]
			g := p.Grad()
			if g == nil {
				g = tensor.Zeros(p.Shape()...)
				p.SetGrad(g)
			}
			dst := g.Data()
			for k, v := range src {
				dst[k] = v * scale
			}
			b.ready[j] = false
		}
		b.nready = 0
	}
	r.stats.Steps++
	r.stats.Buckets += len(r.buckets)
	r.stats.WaitSeconds += time.Since(called).Seconds()
	return errors.Join(errs...)
}

// Stats returns the overlap statistics of the steps so far.
func (r *Reducer) Stats() Stats { return r.stats }

// Average replaces each value with its mean over the ranks (the losses of
// a step, for the record), in float32.
func (r *Reducer) Average(v []float64) error {
	if r.comm.Size() == 1 || len(v) == 0 {
		return nil
	}
	buf := make([]float32, len(v))
	for i, x := range v {
		buf[i] = float32(x)
	}
	if err := r.comm.Allreduce(buf); err != nil {
		return fmt.Errorf("average: %w", err)
	}
	for i, x := range buf {
		v[i] = float64(x) / float64(r.comm.Size())
	}
	return nil
}

// Close stops the Reducer's goroutine; the Comm stays open.
func (r *Reducer) Close() {
	close(r.work)
	r.wg.Wait()
}

// BroadcastParams sets every rank's parameter values to root's, so that
// the ranks start a run from the same weights.
func BroadcastParams(c Comm, params []*autograd.Var, root int) error {
	for i, p := range params {
		if err := c.Bcast(p.Value().Data(), root); err != nil {
			return fmt.Errorf("broadcast parameter %d: %w", i, err)
		}
	}
	return nil
}
