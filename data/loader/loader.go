package loader

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"argus/data/transform"
)

// Dataset is an indexable set of samples. Get decodes sample i and
// applies the dataset's transforms with st; it must be safe for concurrent
// use.
type Dataset interface {
	Len() int
	Get(i int, st *transform.State) (*transform.Sample, error)
}

// Options configure a Loader. Zero values take the defaults.
type Options struct {
	// Workers is the number of goroutines building batches (default
	// GOMAXPROCS).
	Workers int
	// Prefetch bounds the batches built ahead of the consumer, which
	// bounds memory (default 2·Workers).
	Prefetch int
	// Seed seeds every sample's augmentation.
	Seed uint64
	// Scales, when it has sizes, picks one size per batch for
	// multi-scale training (passed to transforms in State.Size).
	Scales transform.MultiScale
	// SkipErrors drops samples that fail to load and counts them, instead
	// of stopping at the first error.
	SkipErrors bool
}

// Loader builds the batches of a Sampler over datasets, collating each
// into a T.
type Loader[T any] struct {
	datasets []Dataset
	sampler  Sampler
	collate  func(dataset int, s []*transform.Sample) (T, error)
	opt      Options
}

// New returns a loader over datasets (indexed by Batch.Dataset).
func New[T any](datasets []Dataset, s Sampler, collate func(dataset int, s []*transform.Sample) (T, error), opt Options) *Loader[T] {
	if opt.Workers <= 0 {
		opt.Workers = runtime.GOMAXPROCS(0)
	}
	if opt.Prefetch <= 0 {
		opt.Prefetch = 2 * opt.Workers
	}
	return &Loader[T]{datasets: datasets, sampler: s, collate: collate, opt: opt}
}

// Result is one collated batch.
type Result[T any] struct {
	// Index is the batch's position in the epoch, Dataset its dataset.
	Index, Dataset int
	// Size is the batch's multi-scale size (0 without multi-scale).
	Size int
	Data T
}

// Iter yields the batches of one epoch in order.
type Iter[T any] struct {
	cancel  context.CancelFunc
	slots   []chan slot[T]
	next    int
	tokens  chan struct{}
	wg      sync.WaitGroup
	skipped atomic.Int64
	done    bool
}

type slot[T any] struct {
	r   Result[T]
	err error
}

// Epoch starts building the batches of an epoch. Close the iterator when
// done with it (early or not).
func (l *Loader[T]) Epoch(ctx context.Context, epoch int) (*Iter[T], error) {
	return l.EpochFrom(ctx, epoch, 0)
}

// EpochFrom starts building the batches of an epoch at batch first, for
// resuming an epoch part-way: the batches it yields are the same, Index
// included, as batches first, first+1, ... of Epoch, and the ones before
// first are never built.
func (l *Loader[T]) EpochFrom(ctx context.Context, epoch, first int) (*Iter[T], error) {
	batches, err := l.sampler.Batches(epoch)
	if err != nil {
		return nil, err
	}
	if first < 0 || first > len(batches) {
		return nil, fmt.Errorf("loader: start at batch %d of an epoch of %d", first, len(batches))
	}
	offset := first
	batches = batches[first:]
	for i, b := range batches {
		if b.Dataset < 0 || b.Dataset >= len(l.datasets) {
			return nil, fmt.Errorf("loader: batch %d names dataset %d of %d", offset+i, b.Dataset, len(l.datasets))
		}
		n := l.datasets[b.Dataset].Len()
		for _, j := range b.Indices {
			if j < 0 || j >= n {
				return nil, fmt.Errorf("loader: batch %d holds index %d of a %d-sample dataset", offset+i, j, n)
			}
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	it := &Iter[T]{cancel: cancel, slots: make([]chan slot[T], len(batches)), tokens: make(chan struct{}, l.opt.Prefetch)}
	for i := range it.slots {
		it.slots[i] = make(chan slot[T], 1)
	}
	jobs := make(chan int)
	it.wg.Add(1)
	go func() {
		// Batches are dispatched in order, each after taking a token that
		// the consumer returns when it takes the batch: at most Prefetch
		// batches exist at once, and the next one the consumer waits for
		// has always been dispatched.
		defer it.wg.Done()
		defer close(jobs)
		for i := range batches {
			select {
			case it.tokens <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	for range l.opt.Workers {
		it.wg.Add(1)
		go func() {
			defer it.wg.Done()
			for i := range jobs {
				r, err := l.build(ctx, epoch, offset+i, batches[i], &it.skipped)
				it.slots[i] <- slot[T]{r, err}
			}
		}()
	}
	return it, nil
}

func (l *Loader[T]) build(ctx context.Context, epoch, i int, b Batch, skipped *atomic.Int64) (Result[T], error) {
	r := Result[T]{Index: i, Dataset: b.Dataset, Size: l.opt.Scales.Size(epoch, i)}
	ds := l.datasets[b.Dataset]
	samples := make([]*transform.Sample, 0, len(b.Indices))
	for pos, j := range b.Indices {
		if ctx.Err() != nil {
			return r, ctx.Err()
		}
		st := transform.NewState(transform.Mix(l.opt.Seed, epoch, i, pos))
		st.Size = r.Size
		s, err := ds.Get(j, st)
		if err != nil {
			if l.opt.SkipErrors {
				skipped.Add(1)
				continue
			}
			return r, fmt.Errorf("batch %d: sample %d: %w", i, j, err)
		}
		samples = append(samples, s)
	}
	if len(samples) == 0 {
		return r, fmt.Errorf("batch %d: every sample failed to load", i)
	}
	var err error
	r.Data, err = l.collate(b.Dataset, samples)
	if err != nil {
		return r, fmt.Errorf("batch %d: %w", i, err)
	}
	return r, nil
}

// ErrDone is returned by Next after the last batch.
var ErrDone = errors.New("no more batches")

// Len returns the number of batches the iterator yields: the epoch's,
// less those skipped by EpochFrom.
func (it *Iter[T]) Len() int { return len(it.slots) }

// Next returns the next batch in order, ErrDone after the last, or the
// error that stopped the epoch.
func (it *Iter[T]) Next() (Result[T], error) {
	if it.done || it.next >= len(it.slots) {
		it.Close()
		return Result[T]{}, ErrDone
	}
	s := <-it.slots[it.next]
	it.next++
	<-it.tokens
	if s.err != nil {
		it.Close()
		return Result[T]{}, s.err
	}
	return s.r, nil
}

// Skipped returns the number of samples dropped so far with SkipErrors.
func (it *Iter[T]) Skipped() int { return int(it.skipped.Load()) }

// Close stops the workers and waits for them.
func (it *Iter[T]) Close() {
	if it.done {
		return
	}
	it.done = true
	it.cancel()
	// Unblock workers waiting to deliver: every slot has room for one
	// result and each is written once, so workers never block on a slot.
	it.wg.Wait()
}
