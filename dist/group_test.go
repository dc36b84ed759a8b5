package dist

import (
	"sync"
	"testing"
)

// group is an in-process run of n ranks for the tests of the default
// build: each rank is a goroutine with its own memComm, and each
// collective meets at a barrier, reads what every rank posted, and meets
// again before anyone reuses its buffers. Sums run in rank order.
type group struct {
	n       int
	mu      sync.Mutex
	cond    *sync.Cond
	arrived int
	gen     int
	posted  [][]float32
}

func newGroup(n int) *group {
	g := &group{n: n, posted: make([][]float32, n)}
	g.cond = sync.NewCond(&g.mu)
	return g
}

func (g *group) barrier() {
	g.mu.Lock()
	defer g.mu.Unlock()
	gen := g.gen
	g.arrived++
	if g.arrived == g.n {
		g.arrived = 0
		g.gen++
		g.cond.Broadcast()
		return
	}
	for gen == g.gen {
		g.cond.Wait()
	}
}

// run calls f on every rank of a new group of n and waits for all.
func runGroup(n int, f func(c Comm)) {
	g := newGroup(n)
	var wg sync.WaitGroup
	for r := range n {
		wg.Go(func() { f(&memComm{g: g, rank: r}) })
	}
	wg.Wait()
}

type memComm struct {
	g    *group
	rank int
}

func (c *memComm) Rank() int { return c.rank }
func (c *memComm) Size() int { return c.g.n }

// exchange posts buf, lets f read every rank's post, and returns when all
// ranks are done reading.
func (c *memComm) exchange(buf []float32, f func(posted [][]float32)) {
	c.g.posted[c.rank] = buf
	c.g.barrier()
	f(c.g.posted)
	c.g.barrier()
}

func (c *memComm) Allreduce(buf []float32) error {
	sum := make([]float32, len(buf))
	c.exchange(buf, func(p [][]float32) {
		for _, b := range p {
			for i, v := range b {
				sum[i] += v
			}
		}
	})
	copy(buf, sum)
	return nil
}

func (c *memComm) ReduceScatter(send, recv []float32) error {
	if err := checkBlocks("reduce-scatter", c.g.n, len(send), len(recv)); err != nil {
		return err
	}
	m := len(recv)
	c.exchange(send, func(p [][]float32) {
		clear(recv)
		for _, b := range p {
			for i, v := range b[c.rank*m : (c.rank+1)*m] {
				recv[i] += v
			}
		}
	})
	return nil
}

func (c *memComm) Allgather(send, recv []float32) error {
	if err := checkBlocks("all-gather", c.g.n, len(recv), len(send)); err != nil {
		return err
	}
	c.exchange(send, func(p [][]float32) {
		for r, b := range p {
			copy(recv[r*len(send):], b)
		}
	})
	return nil
}

func (c *memComm) Bcast(buf []float32, root int) error {
	if root < 0 || root >= c.g.n {
		return errRoot(root, c.g.n)
	}
	var from []float32
	c.exchange(buf, func(p [][]float32) { from = append(from, p[root]...) })
	copy(buf, from)
	return nil
}

func (c *memComm) Abort(code int) { panic("abort") }
func (c *memComm) Close() error   { return nil }

// TestGroup runs the checks of every build on in-process groups.
func TestGroup(t *testing.T) {
	for _, n := range []int{1, 2, 3, 4} {
		runGroup(n, func(c Comm) { checkComm(t, c) })
	}
}

func TestLocalIsAGroupOfOne(t *testing.T) {
	checkComm(t, Local{})
}
