package infer

import (
	"slices"

	"argus/internal/kernels"
)

// buffers are the activations of one Run. Values whose lifetimes do not
// overlap share storage, so a network needs memory for its widest few
// layers rather than for all of them.
type buffers struct {
	n    int
	acts []kernels.NHWC
	// shared marks the values with a border whose storage other values
	// use too: their border must be zeroed again before each write.
	shared []bool
}

// plan lays out the activations of a run of batch size bs. The steps run
// in order; a value takes the smallest free piece of storage that holds
// it when its step writes it (never one that the step reads), and gives it
// back after its last reader. The output is kept to the end.
func (n *Net) plan(bs int) *buffers {
	last := make([]int, len(n.values))
	for i := range last {
		last[i] = -1
	}
	for si, s := range n.steps {
		reads, _ := s.io()
		for _, r := range reads {
			last[r] = si
		}
	}
	if n.out != nil {
		last[n.out.id] = len(n.steps)
	}
	size := func(v *Value) int {
		if v.vector {
			return bs * v.C
		}
		return bs * (v.H + 2*v.pad) * (v.W + 2*v.pad) * v.C
	}
	var caps []int  // capacity of each piece of storage
	var free []int  // pieces not in use
	var users []int // values per piece
	slot := make([]int, len(n.values))
	take := func(v *Value) {
		need := size(v)
		best := -1
		for i, p := range free {
			if caps[p] >= need && (best < 0 || caps[p] < caps[free[best]]) {
				best = i
			}
		}
		if best < 0 {
			slot[v.id] = len(caps)
			caps = append(caps, need)
			users = append(users, 1)
			return
		}
		slot[v.id] = free[best]
		users[free[best]]++
		free = slices.Delete(free, best, best+1)
	}
	give := func(id int) { free = append(free, slot[id]) }
	take(n.values[0])
	if last[0] < 0 {
		give(0)
	}
	for si, s := range n.steps {
		reads, w := s.io()
		take(n.values[w])
		for _, r := range reads {
			if last[r] == si && !slices.Contains(free, slot[r]) {
				give(r)
			}
		}
		if last[w] < 0 {
			give(w)
		}
	}
	store := make([][]float32, len(caps))
	for i, c := range caps {
		store[i] = make([]float32, c)
	}
	b := &buffers{n: bs, acts: make([]kernels.NHWC, len(n.values)), shared: make([]bool, len(n.values))}
	for i, v := range n.values {
		data := store[slot[i]][:size(v)]
		if v.vector {
			b.acts[i] = kernels.NHWC{N: bs, H: 1, W: 1, C: v.C, Data: data}
			continue
		}
		b.acts[i] = kernels.NHWC{N: bs, H: v.H, W: v.W, C: v.C, Pad: v.pad, Data: data}
		b.shared[i] = v.pad > 0 && users[slot[i]] > 1
	}
	return b
}

// clearBorder zeroes the border of value v when other values have used
// its storage.
func (b *buffers) clearBorder(v int) {
	if !b.shared[v] {
		return
	}
	x := b.acts[v]
	rs, w := x.RowStride(), x.Pad*x.C
	for n := range x.N {
		img := x.Data[n*x.ImageStride():][:x.ImageStride()]
		clear(img[:x.Pad*rs])
		clear(img[(x.H+x.Pad)*rs:])
		for y := x.Pad; y < x.H+x.Pad; y++ {
			row := img[y*rs:][:rs]
			clear(row[:w])
			clear(row[rs-w:])
		}
	}
}
