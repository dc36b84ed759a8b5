package train

import (
	"context"
	"math"
	"os"
	"testing"

	"argus/autograd"
	"argus/data/loader"
	"argus/dist"
	"argus/nn"
	"argus/tensor"
)

// mlp is a two-layer perceptron: no dropout and no batch norm, so that a
// batch's gradient is the mean of its samples' and data-parallel training
// can repeat single-process training.
type mlp struct{ fc1, fc2 *nn.Linear }

func buildMLP(rng *tensor.RNG) forwarder {
	return &mlp{fc1: nn.NewLinear(rng, 64, 16, true), fc2: nn.NewLinear(rng, 16, 3, true)}
}

func (m *mlp) Members() nn.Members {
	return nn.Members{Children: []nn.Child{{Name: "fc1", Module: m.fc1}, {Name: "fc2", Module: m.fc2}}}
}

func (m *mlp) Forward(x *autograd.Var) *autograd.Var {
	return m.fc2.Forward(autograd.ReLU(m.fc1.Forward(autograd.Flatten(x, 1, -1))))
}

// shardedTask is newTestTask's task for rank of world: its share of every
// global batch of batch samples.
func shardedTask(cfg Config, batch, rank, world int) Task[*loader.Images] {
	return shardedTaskOf(cfg, batch, rank, world, buildMLP)
}

// shardedTaskOf is shardedTask with the model build makes.
func shardedTaskOf(cfg Config, batch, rank, world int, build func(*tensor.RNG) forwarder) Task[*loader.Images] {
	t := newTestTask(cfg, testN, batch, build)
	t.Data = loader.New([]loader.Dataset{newBlobs(testN, 1)},
		loader.Indices{N: testN, BatchSize: batch / world, Shuffle: true, Seed: cfg.Seed, Rank: rank, World: world},
		loader.Stack(nil, nil), loader.Options{Workers: 1, Seed: cfg.Seed})
	t.EpochSize = testN / world
	t.Eval = nil
	return t
}

// Tolerances of data-parallel training against one process with the same
// global batch: the gradients agree to float32 rounding (the mean of the
// ranks' means sums in another order, and the step's loss is averaged in
// float32), which AdamW's steps carry on. Measured over 24 steps at 2 and
// 4 ranks: 3e-7 relative in the losses, 5e-8 in the weights.
const (
	lossTol   = 2e-6 // relative, per step
	weightTol = 1e-6 // absolute, weights of magnitude ~0.1-1
)

// checkDataParallel trains the MLP for two epochs in one process with
// global batches of 8, and again as this rank of c with the Reducer, each
// rank taking 8/Size() samples of every batch, and compares the losses of
// every step and the final weights. It must run on every rank of c.
func checkDataParallel(t *testing.T, c dist.Comm, alg dist.Algorithm) {
	cfg := testConfig()
	cfg.Epochs, cfg.EMA = 2, 0
	ref, err := New(cfg, shardedTask(cfg, testBatch, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	var want losses
	if _, err := ref.Run(context.Background(), Options{OnStep: want.hook}); err != nil {
		t.Fatal(err)
	}

	tr, err := New(cfg, shardedTask(cfg, testBatch, c.Rank(), c.Size()))
	if err != nil {
		t.Fatal(err)
	}
	params := nn.Parameters(tr.Task.Module)
	vars := make([]*autograd.Var, len(params))
	for i, p := range params {
		vars[i] = p.Var
	}
	// Buckets of 256 B after a first one of 64 B: fc2's bias, fc2's
	// weight, then fc1's in pieces, so several buckets are in flight.
	red, err := dist.NewReducer(c, vars, dist.ReducerOptions{Algorithm: alg, FirstBucketBytes: 64, BucketBytes: 256})
	if err != nil {
		t.Fatal(err)
	}
	defer red.Close()
	out := t.TempDir()
	var got losses
	res, err := tr.Run(context.Background(), Options{Out: out, Sync: red, OnStep: got.hook})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.steps) != len(want.steps) || len(got.steps) != 2*testSteps {
		t.Fatalf("%d steps, one process took %d", len(got.steps), len(want.steps))
	}
	var maxLoss, maxWeight float64
	for i := range want.steps {
		d := math.Abs(got.steps[i] - want.steps[i])
		maxLoss = max(maxLoss, d/math.Abs(want.steps[i]))
		if d > lossTol*math.Abs(want.steps[i]) {
			t.Fatalf("step %d: loss %v as rank %d of %d, %v in one process", i+1, got.steps[i], c.Rank(), c.Size(), want.steps[i])
		}
	}
	wantState, gotState := nn.StateDict(ref.Task.Module), nn.StateDict(tr.Task.Module)
	for i := range wantState {
		for j, v := range wantState[i].Value.Data() {
			d := math.Abs(float64(gotState[i].Value.Data()[j] - v))
			maxWeight = max(maxWeight, d)
			if g := gotState[i].Value.Data()[j]; d > weightTol {
				t.Fatalf("%s[%d] = %v as rank %d of %d, %v in one process", wantState[i].Name, j, g, c.Rank(), c.Size(), v)
			}
		}
	}
	t.Logf("rank %d of %d, %v: largest relative loss difference %.2g, largest weight difference %.2g", c.Rank(), c.Size(), alg, maxLoss, maxWeight)
	// Every rank must hold the same weights bit for bit: rank 0's are
	// broadcast and compared.
	for _, p := range params {
		mine := p.Var.Value().Data()
		root := append([]float32(nil), mine...)
		if err := c.Bcast(root, 0); err != nil {
			t.Fatal(err)
		}
		for j := range mine {
			if mine[j] != root[j] {
				t.Fatalf("%s[%d] = %v on rank %d, %v on rank 0", p.Name, j, mine[j], c.Rank(), root[j])
			}
		}
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	if c.Rank() == 0 && (len(entries) == 0 || res.Checkpoint == "") {
		t.Errorf("rank 0 wrote no checkpoint (%d files)", len(entries))
	}
	if c.Rank() != 0 && len(entries) != 0 {
		t.Errorf("rank %d wrote %d files into the run folder", c.Rank(), len(entries))
	}
	if st := red.Stats(); st.Steps != 2*testSteps {
		t.Errorf("reducer stats %+v after %d steps", st, 2*testSteps)
	}
}

// TestDataParallelOneRank runs the data-parallel path as a run of one
// process, which must repeat plain training.
func TestDataParallelOneRank(t *testing.T) {
	checkDataParallel(t, dist.Local{}, dist.Ring)
}

// shardedMLP is mlp with its classifier split over the ranks of a run
// (Deep Image's model-parallel fully connected layer).
type shardedMLP struct {
	fc1 *nn.Linear
	fc2 *dist.ShardedLinear
}

func (m *shardedMLP) Members() nn.Members {
	return nn.Members{Children: []nn.Child{{Name: "fc1", Module: m.fc1}, {Name: "fc2", Module: m.fc2}}}
}

func (m *shardedMLP) Forward(x *autograd.Var) *autograd.Var {
	return m.fc2.Forward(autograd.ReLU(m.fc1.Forward(autograd.Flatten(x, 1, -1))))
}

// checkModelParallelFC trains the MLP for an epoch in one process, and
// again as this rank of c with fc2 a ShardedLinear (built from the same
// weights) and the Reducer over fc1 alone, and compares the losses of
// every step, fc1's final weights, and fc2's gathered from the shards. It
// must run on every rank of c.
func checkModelParallelFC(t *testing.T, c dist.Comm) {
	cfg := testConfig()
	cfg.Epochs, cfg.EMA = 1, 0
	ref, err := New(cfg, shardedTask(cfg, testBatch, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	var want losses
	if _, err := ref.Run(context.Background(), Options{OnStep: want.hook}); err != nil {
		t.Fatal(err)
	}

	var sharded *shardedMLP
	var buildErr error
	build := func(rng *tensor.RNG) forwarder {
		m := buildMLP(rng).(*mlp)
		sl, err := dist.NewShardedLinear(c, m.fc2)
		buildErr = err
		sharded = &shardedMLP{fc1: m.fc1, fc2: sl}
		return sharded
	}
	tr, err := New(cfg, shardedTaskOf(cfg, testBatch, c.Rank(), c.Size(), build))
	if err != nil {
		t.Fatal(err)
	}
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	// The shard's gradients are complete (the layer's backward gathers
	// every rank's samples): only fc1's are reduced.
	red, err := dist.NewReducer(c, []*autograd.Var{sharded.fc1.Weight, sharded.fc1.Bias}, dist.ReducerOptions{Algorithm: dist.Ring})
	if err != nil {
		t.Fatal(err)
	}
	defer red.Close()
	var got losses
	if _, err := tr.Run(context.Background(), Options{Sync: red, OnStep: got.hook}); err != nil {
		t.Fatal(err)
	}
	if len(got.steps) != len(want.steps) || len(got.steps) != testSteps {
		t.Fatalf("%d steps, one process took %d", len(got.steps), len(want.steps))
	}
	for i := range want.steps {
		if d := math.Abs(got.steps[i] - want.steps[i]); d > lossTol*math.Abs(want.steps[i]) {
			t.Fatalf("step %d: loss %v as rank %d of %d with the sharded classifier, %v in one process", i+1, got.steps[i], c.Rank(), c.Size(), want.steps[i])
		}
	}
	fc2, err := sharded.fc2.Gather()
	if err != nil {
		t.Fatal(err)
	}
	refMLP := ref.Task.Module.(*mlp)
	for _, p := range []struct {
		name      string
		got, want *autograd.Var
	}{
		{"fc1.weight", sharded.fc1.Weight, refMLP.fc1.Weight}, {"fc1.bias", sharded.fc1.Bias, refMLP.fc1.Bias},
		{"fc2.weight", fc2.Weight, refMLP.fc2.Weight}, {"fc2.bias", fc2.Bias, refMLP.fc2.Bias},
	} {
		for j, v := range p.want.Value().Data() {
			if g := p.got.Value().Data()[j]; math.Abs(float64(g-v)) > weightTol {
				t.Fatalf("%s[%d] = %v as rank %d of %d with the sharded classifier, %v in one process", p.name, j, g, c.Rank(), c.Size(), v)
			}
		}
	}
}

// TestDataParallelModelParallelFCOneRank runs the sharded classifier as a
// run of one process, one shard of all the features.
func TestDataParallelModelParallelFCOneRank(t *testing.T) {
	checkModelParallelFC(t, dist.Local{})
}
