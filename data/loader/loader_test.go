package loader

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"argus/data/imageio"
	"argus/data/transform"
)

// memSet makes sample i a 20×16 image whose samples depend on i, with a
// box, and runs tf on it. Index fail fails to load.
type memSet struct {
	n    int
	tf   transform.Transform
	fail int
	gets atomic.Int64
}

func (m *memSet) Len() int { return m.n }

func (m *memSet) Get(i int, st *transform.State) (*transform.Sample, error) {
	m.gets.Add(1)
	if i == m.fail {
		return nil, fmt.Errorf("read sample-%d.jpg: corrupt", i)
	}
	w := 20
	if m.tf != nil {
		w += i % 3 // sizes differ before the crop
	}
	img := imageio.NewImage(3, 16, w)
	for k := range img.Pix {
		img.Pix[k] = float32((k*7+i*13)%101) / 100
	}
	s := &transform.Sample{Image: img, Label: i % 5, Boxes: [][4]float32{{2, 3, 10, 12}}, BoxLabels: []int{i}, Path: fmt.Sprint(i)}
	if m.tf != nil {
		if err := m.tf.Apply(s, st); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func collectAll[T any](t *testing.T, l *Loader[T], epoch int) []Result[T] {
	t.Helper()
	it, err := l.Epoch(context.Background(), epoch)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var out []Result[T]
	for {
		r, err := it.Next()
		if errors.Is(err, ErrDone) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
}

func TestSameResultsAnyWorkers(t *testing.T) {
	tf := transform.Compose{
		transform.RandomResizedCrop{W: 12, H: 12},
		transform.HFlip{P: 0.5},
		transform.ColorJitter{Brightness: 0.4, Contrast: 0.4, Saturation: 0.4, Hue: 0.1},
		transform.RandomErasing{P: 0.5},
	}
	ds := &memSet{n: 103, tf: tf, fail: -1}
	s := Indices{N: 103, BatchSize: 8, Shuffle: true, Seed: 4}
	var ref []Result[*Images]
	for _, w := range []int{1, 2, 7} {
		l := New([]Dataset{ds}, s, Stack(imageio.ImageNetMean, imageio.ImageNetStd), Options{Workers: w, Seed: 9, Prefetch: 3})
		got := collectAll(t, l, 3)
		if len(got) != 13 {
			t.Fatalf("%d workers: %d batches", w, len(got))
		}
		if ref == nil {
			ref = got
			continue
		}
		for i := range got {
			if !slices.Equal(got[i].Data.X.Data(), ref[i].Data.X.Data()) || !slices.Equal(got[i].Data.Labels, ref[i].Data.Labels) {
				t.Fatalf("%d workers: batch %d differs from 1 worker", w, i)
			}
		}
	}
}

func TestIndices(t *testing.T) {
	base := Indices{N: 10, BatchSize: 3, Shuffle: true, Seed: 1}
	e0, _ := base.Order(0)
	e0b, _ := base.Order(0)
	e1, _ := base.Order(1)
	if !slices.Equal(e0, e0b) || slices.Equal(e0, e1) {
		t.Fatal("shuffle is not a function of seed and epoch")
	}
	cases := []struct {
		name        string
		s           Indices
		batches     []int // batch sizes
		coverAll    bool
		shardsTotal int
	}{
		{"plain", Indices{N: 10, BatchSize: 3}, []int{3, 3, 3, 1}, true, 0},
		{"drop last", Indices{N: 10, BatchSize: 3, DropLast: true}, []int{3, 3, 3}, false, 0},
		{"rank 1 of 3", Indices{N: 10, BatchSize: 2, Shuffle: true, Rank: 1, World: 3}, []int{2, 2}, false, 4},
		{"rank 2 of 4, drop", Indices{N: 10, BatchSize: 4, Rank: 2, World: 4, DropLast: true}, nil, false, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bs, err := c.s.Batches(0)
			if err != nil {
				t.Fatal(err)
			}
			var sizes []int
			var all []int
			for _, b := range bs {
				sizes = append(sizes, len(b.Indices))
				all = append(all, b.Indices...)
			}
			if !slices.Equal(sizes, c.batches) {
				t.Fatalf("batch sizes %v, want %v", sizes, c.batches)
			}
			if c.coverAll {
				slices.Sort(all)
				if !slices.Equal(all, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
					t.Fatalf("indices %v", all)
				}
			}
			if c.shardsTotal > 0 {
				o, _ := c.s.Order(0)
				if len(o) != c.shardsTotal {
					t.Fatalf("shard of %d, want %d", len(o), c.shardsTotal)
				}
			}
		})
	}
	// The shards of all ranks cover the dataset, each index once when the
	// world divides it.
	var seen []int
	for r := range 5 {
		o, err := Indices{N: 10, Shuffle: true, Seed: 3, Rank: r, World: 5}.Order(2)
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, o...)
	}
	slices.Sort(seen)
	if !slices.Equal(seen, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
		t.Fatalf("shards cover %v", seen)
	}
	if _, err := (Indices{N: 10, BatchSize: 1, Rank: 3, World: 2}).Batches(0); err == nil {
		t.Fatal("rank outside the world accepted")
	}
}

func TestIdentities(t *testing.T) {
	// 9 identities with 1..9 images each.
	var labels []int
	for id := range 9 {
		for range id + 1 {
			labels = append(labels, 100+id)
		}
	}
	s := Identities{Labels: labels, P: 4, K: 2, Seed: 5}
	bs, err := s.Batches(0)
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) < 3 {
		t.Fatalf("%d batches", len(bs))
	}
	for _, b := range bs {
		if len(b.Indices) != 8 {
			t.Fatalf("batch of %d", len(b.Indices))
		}
		count := map[int]int{}
		for _, i := range b.Indices {
			count[labels[i]]++
		}
		if len(count) != 4 {
			t.Fatalf("batch identities %v", count)
		}
		for id, c := range count {
			if c != 2 {
				t.Fatalf("identity %d has %d images in a batch", id, c)
			}
		}
	}
	again, _ := s.Batches(0)
	if !slices.EqualFunc(bs, again, func(a, b Batch) bool { return slices.Equal(a.Indices, b.Indices) }) {
		t.Fatal("not deterministic")
	}
	r0, _ := Identities{Labels: labels, P: 4, K: 2, Seed: 5, World: 2}.Batches(0)
	r1, _ := Identities{Labels: labels, P: 4, K: 2, Seed: 5, World: 2, Rank: 1}.Batches(0)
	if len(r0)+len(r1) != len(bs) || !slices.Equal(r0[0].Indices, bs[0].Indices) || !slices.Equal(r1[0].Indices, bs[1].Indices) {
		t.Fatal("ranks do not deal the batches round-robin")
	}
	if _, err := (Identities{Labels: labels, P: 10, K: 2}).Batches(0); err == nil {
		t.Fatal("P over the identity count accepted")
	}
}

func TestAlternate(t *testing.T) {
	a := Alternate{
		Indices{N: 10, BatchSize: 2, Shuffle: true, Seed: 1, Dataset: 0},
		Indices{N: 4, BatchSize: 2, Shuffle: true, Seed: 2, Dataset: 1},
	}
	bs, err := a.Batches(0)
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 10 {
		t.Fatalf("%d batches, want 5 rounds of 2", len(bs))
	}
	for i, b := range bs {
		if b.Dataset != i%2 {
			t.Fatalf("batch %d from dataset %d", i, b.Dataset)
		}
	}
	// The short dataset starts over with a new order after two batches.
	first := append(slices.Clone(bs[1].Indices), bs[3].Indices...)
	second := append(slices.Clone(bs[5].Indices), bs[7].Indices...)
	slices.Sort(first)
	slices.Sort(second)
	if !slices.Equal(first, []int{0, 1, 2, 3}) || !slices.Equal(second, []int{0, 1, 2, 3}) {
		t.Fatalf("passes %v %v", first, second)
	}
	ds := []Dataset{&memSet{n: 10, fail: -1}, &memSet{n: 4, fail: -1}}
	got := collectAll(t, New(ds, a, Stack(nil, nil), Options{Workers: 2}), 0)
	for i, r := range got {
		if r.Dataset != i%2 {
			t.Fatalf("loaded batch %d from dataset %d", i, r.Dataset)
		}
	}
}

func TestErrorsAndSkipping(t *testing.T) {
	ds := &memSet{n: 20, fail: 7}
	l := New([]Dataset{ds}, Indices{N: 20, BatchSize: 4}, Stack(nil, nil), Options{Workers: 2})
	it, _ := l.Epoch(context.Background(), 0)
	var err error
	for err == nil {
		_, err = it.Next()
	}
	if errors.Is(err, ErrDone) || err == nil || !strings.Contains(err.Error(), "sample-7.jpg") {
		t.Fatalf("error %v does not name the bad sample", err)
	}
	l = New([]Dataset{ds}, Indices{N: 20, BatchSize: 4}, Stack(nil, nil), Options{Workers: 2, SkipErrors: true})
	it, _ = l.Epoch(context.Background(), 0)
	n := 0
	for {
		r, err := it.Next()
		if errors.Is(err, ErrDone) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n += len(r.Data.Labels)
	}
	if n != 19 || it.Skipped() != 1 {
		t.Fatalf("%d samples, %d skipped", n, it.Skipped())
	}
}

func TestPrefetchBound(t *testing.T) {
	ds := &memSet{n: 400, fail: -1}
	l := New([]Dataset{ds}, Indices{N: 400, BatchSize: 4}, Stack(nil, nil), Options{Workers: 3, Prefetch: 2})
	it, _ := l.Epoch(context.Background(), 0)
	defer it.Close()
	if _, err := it.Next(); err != nil {
		t.Fatal(err)
	}
	// After one batch is taken at most Prefetch+1 batches can have been
	// started; wait for the pipeline to fill and check it stopped.
	deadline := time.Now().Add(2 * time.Second)
	for ds.gets.Load() < 12 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	if g := ds.gets.Load(); g > 12 {
		t.Fatalf("%d samples loaded ahead, bound is 12", g)
	}
}

func TestPadCollate(t *testing.T) {
	ss := []*transform.Sample{
		{Image: imageio.NewImage(3, 5, 7), Boxes: [][4]float32{{1, 1, 3, 3}}, BoxLabels: []int{2}, Mask: imageio.NewMask(5, 7, 1)},
		{Image: imageio.NewImage(3, 9, 4), Mask: imageio.NewMask(9, 4, 2)},
	}
	for i := range ss[1].Image.Pix {
		ss[1].Image.Pix[i] = 1
	}
	b, err := Pad(nil, nil, 8)(0, ss)
	if err != nil {
		t.Fatal(err)
	}
	if s := b.X.Shape(); !slices.Equal(s, []int{2, 3, 16, 8}) {
		t.Fatalf("shape %v", s)
	}
	if b.X.At(1, 2, 8, 3) != 1 || b.X.At(1, 2, 9, 3) != 0 || b.X.At(1, 0, 0, 4) != 0 {
		t.Fatal("image not placed at the top left")
	}
	if b.Masks.At(0, 4, 6) != 1 || b.Masks.At(0, 5, 6) != 255 || b.Masks.At(1, 8, 3) != 2 {
		t.Fatal("masks not padded with 255")
	}
	if b.Sizes[1] != [2]int{9, 4} || len(b.Boxes[0]) != 1 || b.Labels[0][0] != 2 || len(b.Labels[1]) != 0 {
		t.Fatalf("annotations %+v", b)
	}
	if _, err := Stack(nil, nil)(0, ss); err == nil {
		t.Fatal("stacking images of different sizes succeeded")
	}
}

func TestMultiScaleBatches(t *testing.T) {
	ds := &memSet{n: 40, tf: transform.Compose{transform.BatchResize{}, transform.HFlip{P: 0.5}}, fail: -1}
	scales := transform.MultiScale{Sizes: []int{8, 12, 16}, Seed: 2}
	l := New([]Dataset{ds}, Indices{N: 40, BatchSize: 4, Shuffle: true}, Stack(nil, nil), Options{Workers: 3, Scales: scales})
	sizes := map[int]bool{}
	for _, r := range collectAll(t, l, 1) {
		s := r.Data.X.Shape()
		if r.Size != scales.Size(1, r.Index) || s[2] != r.Size || s[3] != r.Size {
			t.Fatalf("batch %d: size %d, shape %v", r.Index, r.Size, s)
		}
		sizes[r.Size] = true
	}
	if len(sizes) < 2 {
		t.Fatalf("one size for every batch: %v", sizes)
	}
}

func TestEpochFromContinuesAnEpoch(t *testing.T) {
	ds := &memSet{n: 50, tf: transform.Compose{transform.RandomResizedCrop{W: 12, H: 12}, transform.HFlip{P: 0.5}}, fail: -1}
	l := New([]Dataset{ds}, Indices{N: 50, BatchSize: 8, Shuffle: true, Seed: 2}, Stack(nil, nil), Options{Workers: 2, Seed: 5})
	all := collectAll(t, l, 1)
	for _, first := range []int{0, 3, len(all)} {
		it, err := l.EpochFrom(context.Background(), 1, first)
		if err != nil {
			t.Fatal(err)
		}
		if it.Len() != len(all)-first {
			t.Errorf("from %d: Len %d, want %d", first, it.Len(), len(all)-first)
		}
		for k := first; ; k++ {
			r, err := it.Next()
			if errors.Is(err, ErrDone) {
				if k != len(all) {
					t.Errorf("from %d: ended at batch %d of %d", first, k, len(all))
				}
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Index != k || !slices.Equal(r.Data.X.Data(), all[k].Data.X.Data()) || !slices.Equal(r.Data.Labels, all[k].Data.Labels) {
				t.Fatalf("from %d: batch %d (index %d) differs from the whole epoch's", first, k, r.Index)
			}
		}
		it.Close()
	}
	if _, err := l.EpochFrom(context.Background(), 1, len(all)+1); err == nil {
		t.Error("starting past the last batch was accepted")
	}
}
