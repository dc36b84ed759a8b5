package nn

import (
	"math"
	"testing"

	"argus/autograd"
	"argus/internal/golden"
	"argus/tensor"
)

type nnGolden struct {
	Names map[string][][2]any
	MHA   struct {
		State             map[string][]float32
		Q, KV, Y, W       []float32
		Pad               []int
		GradQ             []float32 `json:"grad_q"`
		GradKV            []float32 `json:"grad_kv"`
		GradInProjWeight  []float32 `json:"grad_in_proj_weight"`
		GradOutProjWeight []float32 `json:"grad_out_proj_weight"`
	} `json:"mha"`
}

func loadGolden(t *testing.T) nnGolden {
	var g nnGolden
	golden.Load(t, "testdata/nn.json", &g)
	return g
}

func TestStateDictNamesMatchTorch(t *testing.T) {
	g := loadGolden(t)
	rng := tensor.NewRNG(1)
	mods := map[string]Module{
		"linear": NewLinear(rng, 4, 3, true),
		"conv":   NewConv2d(rng, 2, 4, 3, autograd.Conv2dOptions{}, false),
		"convt":  NewConvTranspose2d(rng, 4, 2, 3, autograd.ConvTranspose2dOptions{}, true),
		"bn":     NewBatchNorm2d(3),
		"ln":     NewLayerNorm(5),
		"gn":     NewGroupNorm(2, 4),
		"emb":    NewEmbedding(rng, 7, 3),
		"mha":    NewMultiHeadAttention(rng, 8, 2, 0),
		"seq":    NewSequential(NewConv2d(rng, 1, 2, 3, autograd.Conv2dOptions{}, true), ReLU{}, NewBatchNorm2d(2)),
	}
	for name, m := range mods {
		t.Run(name, func(t *testing.T) {
			want := g.Names[name]
			sd := StateDict(m)
			if len(sd) != len(want) {
				t.Fatalf("%d entries, PyTorch %d", len(sd), len(want))
			}
			for i, w := range want {
				var shape []int
				for _, d := range w[1].([]any) {
					shape = append(shape, int(d.(float64)))
				}
				if sd[i].Name != w[0].(string) || !tensor.EqualShapes(sd[i].Value.Shape(), shape) {
					t.Errorf("entry %d: %s %v, PyTorch %s %v", i, sd[i].Name, sd[i].Value.Shape(), w[0], shape)
				}
			}
		})
	}
}

func near(t *testing.T, what string, got []float32, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); d > tol*math.Max(1, math.Abs(float64(want[i]))) {
			t.Fatalf("%s[%d] = %.7g, PyTorch %.7g", what, i, got[i], want[i])
		}
	}
}

func TestMultiHeadAttentionMatchesTorch(t *testing.T) {
	g := loadGolden(t).MHA
	a := NewMultiHeadAttention(tensor.NewRNG(1), 8, 2, 0)
	for _, s := range StateDict(a) {
		copy(s.Value.Data(), g.State[s.Name])
	}
	q := autograd.Param(tensor.FromSlice(g.Q, 2, 3, 8))
	kv := autograd.Param(tensor.FromSlice(g.KV, 2, 4, 8))
	pad := make([]bool, len(g.Pad))
	for i, p := range g.Pad {
		pad[i] = p != 0
	}
	y, w := a.Attend(q, kv, kv, pad)
	near(t, "output", y.Value().Data(), g.Y, 1e-5)
	near(t, "weights", w.Value().Data(), g.W, 1e-5)
	seed := tensor.Zeros(y.Shape()...)
	for i := range seed.Data() {
		seed.Data()[i] = float32(math.Sin(float64(i)))
	}
	y.Backward(autograd.WithGrad(seed))
	near(t, "grad query", q.Grad().Data(), g.GradQ, 1e-4)
	near(t, "grad key/value", kv.Grad().Data(), g.GradKV, 1e-4)
	near(t, "grad in_proj_weight", a.InProjWeight.Grad().Data(), g.GradInProjWeight, 1e-4)
	near(t, "grad out_proj.weight", a.OutProj.Weight.Grad().Data(), g.GradOutProjWeight, 1e-4)
}

func moments(d []float32) (mean, std, maxAbs float64) {
	for _, v := range d {
		mean += float64(v)
		maxAbs = math.Max(maxAbs, math.Abs(float64(v)))
	}
	mean /= float64(len(d))
	for _, v := range d {
		std += (float64(v) - mean) * (float64(v) - mean)
	}
	return mean, math.Sqrt(std / float64(len(d))), maxAbs
}

func TestInitialisers(t *testing.T) {
	rng := tensor.NewRNG(3)
	w := tensor.Zeros(256, 64, 3, 3) // fan in 576, fan out 2304
	cases := []struct {
		name     string
		init     func()
		std, max float64
	}{
		{"torch default", func() { defaultInit(rng, w, nil) }, 1 / math.Sqrt(576) / math.Sqrt(3), 1 / math.Sqrt(576)},
		{"kaiming uniform fan in", func() { KaimingUniform(rng, w, 0, FanIn, "relu") }, math.Sqrt(2.0 / 576), math.Sqrt(6.0 / 576)},
		{"kaiming normal fan out", func() { KaimingNormal(rng, w, 0, FanOut, "relu") }, math.Sqrt(2.0 / 2304), math.Inf(1)},
		{"xavier uniform", func() { XavierUniform(rng, w, 1) }, math.Sqrt(2.0 / (576 + 2304)), math.Sqrt(6.0 / (576 + 2304))},
		{"xavier normal", func() { XavierNormal(rng, w, 1) }, math.Sqrt(2.0 / (576 + 2304)), math.Inf(1)},
		// N(0, 1) truncated to [-2, 2] has standard deviation 0.8796.
		{"trunc normal", func() { TruncNormal(rng, w, 0, 0.02, -0.04, 0.04) }, 0.02 * 0.8796, 0.04},
	}
	for _, c := range cases {
		c.init()
		mean, std, maxAbs := moments(w.Data())
		if math.Abs(mean) > 0.02*c.std || math.Abs(std-c.std) > 0.02*c.std || maxAbs > c.max {
			t.Errorf("%s: mean %.3g std %.4g max %.4g, want std %.4g max %.4g", c.name, mean, std, maxAbs, c.std, c.max)
		}
	}
	a := NewLinear(tensor.NewRNG(9), 10, 5, true)
	b := NewLinear(tensor.NewRNG(9), 10, 5, true)
	for i, v := range a.Weight.Value().Data() {
		if b.Weight.Value().Data()[i] != v {
			t.Fatal("the same seed gave different weights")
		}
	}
}

func TestTrainModeReachesNestedModules(t *testing.T) {
	rng := tensor.NewRNG(1)
	bn := NewBatchNorm2d(2)
	drop := NewDropout(0.5, rng)
	seq := NewSequential(NewSequential(bn), drop)
	Train(seq, false)
	if bn.Training || drop.Training {
		t.Fatal("eval mode did not reach nested modules")
	}
	x := autograd.Const(rng.Normal(0, 1, 2, 2, 3, 3))
	y := seq.Forward(x)
	if bn.NumBatchesTracked.Item() != 0 {
		t.Error("eval forward counted a batch")
	}
	Train(seq, true)
	seq.Forward(x)
	if bn.NumBatchesTracked.Item() != 1 || !drop.Training {
		t.Error("train mode not restored")
	}
	if len(Parameters(seq)) != 2 || Parameters(seq)[0].Name != "0.0.weight" || Buffers(seq)[2].Name != "0.0.num_batches_tracked" || !Buffers(seq)[2].Integer {
		t.Errorf("names %v %v", Parameters(seq), Buffers(seq))
	}
	_ = y
}

func TestLayerForwardMatchesTorch(t *testing.T) {
	var g struct {
		Forward map[string]struct {
			State  map[string][]float32
			X, Y   []float32
			XShape []int `json:"x_shape"`
		}
	}
	golden.Load(t, "testdata/nn.json", &g)
	rng := tensor.NewRNG(1)
	bn := NewBatchNorm2d(3)
	bn.Training = false
	layers := map[string]Layer{
		"ln": NewLayerNorm(5),
		"gn": NewGroupNorm(2, 4),
		"convt": NewConvTranspose2d(rng, 4, 2, 3, autograd.ConvTranspose2dOptions{
			Stride: [2]int{2, 2}, Padding: [2]int{1, 1}, OutputPadding: [2]int{1, 1}}, true),
		"bn_eval": bn,
	}
	for name, l := range layers {
		t.Run(name, func(t *testing.T) {
			c := g.Forward[name]
			for _, s := range StateDict(l) {
				copy(s.Value.Data(), c.State[s.Name])
			}
			var y *autograd.Var
			NoGrad(l, func() { y = l.Forward(autograd.Const(tensor.FromSlice(c.X, c.XShape...))) })
			near(t, name, y.Value().Data(), c.Y, 1e-5)
		})
	}
}

func TestDropout2dLayer(t *testing.T) {
	x := autograd.Const(tensor.NewRNG(2).Normal(0, 1, 2, 6, 3, 3))
	for _, c := range []struct {
		name     string
		training bool
	}{{"train", true}, {"eval", false}} {
		t.Run(c.name, func(t *testing.T) {
			d := NewDropout2d(0.5, tensor.NewRNG(8))
			Train(NewSequential(d), c.training)
			got := d.Forward(x)
			if !c.training {
				if got != x {
					t.Fatal("Dropout2d in evaluation changed its input")
				}
				return
			}
			want := autograd.Dropout2d(x, 0.5, true, tensor.NewRNG(8)).Value().Data()
			for i, v := range got.Value().Data() {
				if v != want[i] {
					t.Fatalf("element %d = %v, want %v (autograd.Dropout2d, same seed)", i, v, want[i])
				}
			}
		})
	}
}
