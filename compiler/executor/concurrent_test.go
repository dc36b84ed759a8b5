package executor

import (
	"slices"
	"sync"
	"testing"

	"argus/autograd"
	"argus/compiler/xgraph"
	"argus/tensor"
)

// trainStep is one training step of a small convolutional layer: the
// gradients of sum(relu(conv(x, w) + b)²) with respect to x, w and b.
type trainStep struct {
	x, w, b *tensor.Tensor
}

func (s trainStep) grads() [3][]float32 {
	x, w, b := autograd.Param(s.x), autograd.Param(s.w), autograd.Param(s.b)
	y := autograd.ReLU(autograd.Conv2d(x, w, b, autograd.Conv2dOptions{Padding: []int{1, 1}}))
	autograd.Sum(autograd.Mul(y, y)).Backward()
	var g [3][]float32
	for i, v := range []*autograd.Var{x, w, b} {
		if v.Grad() == nil {
			return g // recording was switched off: the caller reports it
		}
		g[i] = slices.Clone(v.Grad().Data())
	}
	return g
}

// TestInferenceBesideTraining runs a convolutional graph on the executor,
// node by node (on autograd.Conv2d) and compiled, in several goroutines
// while another goroutine takes training steps on another convolution: the
// executor must switch nothing off that the training step relies on, so
// every step's gradients equal, bit for bit, those of the step taken alone,
// and every inference equals the inference run alone. Run it with -race
// too.
func TestInferenceBesideTraining(t *testing.T) {
	b := newGraphBuilder(3, 12, 12)
	pads := map[string]*xgraph.Attr{"pads": ints64(1, 1, 1, 1)}
	b.g.Outputs = []*xgraph.Value{b.relu(b.conv(b.relu(b.conv(b.x, 3, 8, 3, pads)), 8, 4, 3, pads))}
	compiled, err := New(b.g)
	if err != nil {
		t.Fatal(err)
	}
	if err := compiled.Compiled(); err != nil {
		t.Fatal(err)
	}
	nodes := *compiled
	nodes.net = nil
	in := map[string]*xgraph.Tensor{"x": randTensor(b.rng, 2, 3, 12, 12)}
	paths := map[string]*Executor{"compiled": compiled, "node by node": &nodes}
	want := map[string][]float32{}
	for name, e := range paths {
		out, err := e.Run(in)
		if err != nil {
			t.Fatal(err)
		}
		want[name] = out[0].F
	}

	rng := tensor.NewRNG(5)
	step := trainStep{x: rng.Normal(0, 1, 2, 4, 10, 10), w: rng.Normal(0, 0.3, 6, 4, 3, 3), b: rng.Normal(0, 0.1, 6)}
	alone := step.grads()
	for i, g := range alone {
		if g == nil {
			t.Fatalf("operand %d has no gradient when the step runs alone", i)
		}
	}

	const steps = 50
	done := make(chan struct{})
	// The training steps start once every inference goroutine runs.
	var wg, running sync.WaitGroup
	defer func() {
		close(done)
		wg.Wait()
	}()
	for name, e := range paths {
		for range 2 {
			wg.Add(1)
			running.Add(1)
			go func() {
				defer wg.Done()
				running.Done()
				// At least one inference, then as many as overlap the
				// training steps.
				for first := true; ; first = false {
					select {
					case <-done:
						if !first {
							return
						}
					default:
					}
					out, err := e.Run(in)
					if err != nil {
						t.Errorf("%s: %v", name, err)
						return
					}
					if !slices.Equal(out[0].F, want[name]) {
						t.Errorf("%s: output differs from the run alone", name)
						return
					}
				}
			}()
		}
	}
	running.Wait()
	for i := range steps {
		got := step.grads()
		for j := range got {
			if got[j] == nil {
				t.Fatalf("step %d: operand %d has no gradient: recording was switched off", i, j)
			}
			if !slices.Equal(got[j], alone[j]) {
				t.Fatalf("step %d: gradient of operand %d differs from the step taken alone", i, j)
			}
		}
	}
}
