package models

import (
	"encoding/json"
	"math"
	"os"
	"slices"
	"testing"

	"argus/autograd"
	"argus/checkpoint"
	"argus/nn"
	"argus/optim"
	"argus/tensor"
)

// pspnetStep is models/testdata/pspnet_step.json, written by
// tools/golden/segment/pspnet_step.py.
type pspnetStep struct {
	R18Keys     [][2]any `json:"r18_keys"`
	R50Keys     [][2]any `json:"r50_keys"`
	Terms       map[string]float64
	Total       float64
	Classes     []int
	Width       int
	Channels    int
	AuxChannels int `json:"aux_channels"`
	Bins        []int
}

// relClose fails unless got is within rel of want in the relative L2
// error ‖got − want‖ / ‖want‖ (a zero want must be matched within rel
// absolutely). The norm-wise error is the measure that float32 can meet
// against a float64 reference through a deep network's backward pass:
// PyTorch's own float32 step of this network differs from its float64 step
// by up to 1.2e-4 of a tensor's largest value in single elements.
func relClose(t *testing.T, what string, got, want []float32, rel float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	var diff, norm float64
	for i, w := range want {
		d := float64(got[i]) - float64(w)
		diff += d * d
		norm += float64(w) * float64(w)
	}
	if norm == 0 {
		norm = 1
	}
	if e := math.Sqrt(diff / norm); e > rel {
		t.Errorf("%s: relative error %.3g, want at most %g", what, e, rel)
	}
}

// TestPSPNetCDCLStepMatchesPyTorch runs one Dataset Alternation Training
// step of a reduced PSPNet-R18-D8 with two dataset-aware batch norms and two
// label sets from PyTorch's initial weights, and compares every loss term,
// every gradient and the state dict after the SGD step (running statistics
// included: each dataset's batch norms see only its batch).
func TestPSPNetCDCLStepMatchesPyTorch(t *testing.T) {
	b, err := os.ReadFile("testdata/pspnet_step.json")
	if err != nil {
		t.Fatal(err)
	}
	var g pspnetStep
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	cfg := PSPNetR18(g.Classes, len(g.Classes))
	cfg.Width, cfg.Channels, cfg.AuxChannels, cfg.Bins, cfg.Dropout = g.Width, g.Channels, g.AuxChannels, g.Bins, 0
	m, err := NewPSPNet(tensor.NewRNG(1), cfg)
	if err != nil {
		t.Fatal(err)
	}
	init, err := checkpoint.ReadFile("testdata/pspnet_init.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	if err := checkpoint.LoadModel(init, m); err != nil {
		t.Fatal(err)
	}
	gold, err := checkpoint.ReadFile("testdata/pspnet_step.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	f32 := func(name string) *tensor.Tensor {
		t.Helper()
		e, ok := gold.Tensors[name]
		if !ok {
			t.Fatalf("golden has no %s", name)
		}
		v, err := e.Float32()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return v
	}
	opt := optim.NewSGD(0.9, 0, false, optim.NewGroup(0.01, 1e-4, nn.Parameters(m)...))
	nn.Train(m, true)
	optim.ZeroGrad(opt)
	var total *autograd.Var
	for d := range g.Classes {
		if err := m.SetDataset(d); err != nil {
			t.Fatal(err)
		}
		ys, err := gold.Tensors["y"+string(rune('0'+d))].Int64s()
		if err != nil {
			t.Fatal(err)
		}
		labels := make([]int, len(ys))
		for i, y := range ys {
			labels[i] = int(y)
		}
		dec, aux := m.Losses(autograd.Const(f32("x"+string(rune('0'+d)))), labels, 255)
		for name, v := range map[string]*autograd.Var{"decode": dec, "aux": aux} {
			key := string(rune('0'+d)) + "." + name + ".loss_ce"
			want := g.Terms[key]
			if got := float64(v.Value().Item()); math.Abs(got-want) > 1e-4*math.Abs(want) {
				t.Errorf("loss %s = %.7g, PyTorch %.7g", key, got, want)
			}
		}
		l := autograd.Add(dec, aux)
		if total == nil {
			total = l
		} else {
			total = autograd.Add(total, l)
		}
	}
	if got := float64(total.Value().Item()); math.Abs(got-g.Total) > 1e-4*g.Total {
		t.Errorf("total loss %.7g, PyTorch %.7g", got, g.Total)
	}
	total.Backward()
	n := 0
	for _, p := range nn.Parameters(m) {
		if p.Var.Grad() == nil {
			t.Fatalf("%s has no gradient", p.Name)
		}
		relClose(t, "grad "+p.Name, p.Var.Grad().Data(), f32("grad."+p.Name).Data(), 1e-4)
		n++
	}
	grads := 0
	for name := range gold.Tensors {
		if len(name) > 5 && name[:5] == "grad." {
			grads++
		}
	}
	if n != grads {
		t.Errorf("compared %d gradients, PyTorch has %d", n, grads)
	}
	opt.Step()
	for _, s := range nn.StateDict(m) {
		if s.Integer {
			v, err := gold.Tensors["after."+s.Name].Int64s()
			if err != nil {
				t.Fatal(err)
			}
			if int64(s.Value.Data()[0]) != v[0] {
				t.Errorf("%s = %v, PyTorch %d", s.Name, s.Value.Data()[0], v[0])
			}
			continue
		}
		relClose(t, "after step "+s.Name, s.Value.Data(), f32("after."+s.Name).Data(), 1e-4)
	}
}

// TestPSPNetStateDictMatchesMMSeg checks the names, order and shapes of
// the registry's pspnet-r18 and pspnet-r50 (19 classes) against
// mmsegmentation's pspnet_r18-d8 and pspnet_r50-d8, and the per-dataset
// names of a CDCL network.
func TestPSPNetStateDictMatchesMMSeg(t *testing.T) {
	b, err := os.ReadFile("testdata/pspnet_step.json")
	if err != nil {
		t.Fatal(err)
	}
	var g pspnetStep
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		model string
		keys  [][2]any
	}{{"pspnet-r18", g.R18Keys}, {"pspnet-r50", g.R50Keys}} {
		m, err := New(c.model, tensor.NewRNG(1))
		if err != nil {
			t.Fatal(err)
		}
		sd := nn.StateDict(m)
		if len(sd) != len(c.keys) || len(sd) == 0 {
			t.Fatalf("%s: %d state-dict entries, mmsegmentation has %d", c.model, len(sd), len(c.keys))
		}
		for i, s := range sd {
			name := c.keys[i][0].(string)
			var shape []int
			for _, d := range c.keys[i][1].([]any) {
				shape = append(shape, int(d.(float64)))
			}
			if s.Name != name || !slices.Equal(s.Value.Shape(), shape) && !(len(shape) == 0 && s.Value.Len() == 1) {
				t.Fatalf("%s entry %d: %s %v, mmsegmentation %s %v", c.model, i, s.Name, s.Value.Shape(), name, shape)
			}
		}
	}
	m, err := New("pspnet-r18", tensor.NewRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	cdcl, err := NewPSPNet(tensor.NewRNG(1), PSPNetR18([]int{19, 11, 8}, 3))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, p := range nn.Parameters(cdcl) {
		names[p.Name] = true
	}
	for _, want := range []string{"backbone.stem.1.2.weight", "backbone.layer4.1.bn2.0.bias", "decode_head.conv_seg.2.weight", "auxiliary_head.conv_seg.1.bias"} {
		if !names[want] {
			t.Errorf("the CDCL network has no parameter %s", want)
		}
	}
	// One shared convolution per block, three batch norms.
	if n, single := nn.NumParams(cdcl), nn.NumParams(m); n <= single {
		t.Errorf("CDCL network has %d parameters, the single one %d", n, single)
	}
}

// TestPSPNetForDataset checks that a dataset's network alone computes
// what the multi-dataset network computes for that dataset, in evaluation
// mode, with single-dataset names and parameter count.
func TestPSPNetForDataset(t *testing.T) {
	cfg := PSPNetR18([]int{5, 3}, 2)
	cfg.Width, cfg.Channels, cfg.AuxChannels = 4, 8, 4
	m, err := NewPSPNet(tensor.NewRNG(1), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Distinct running statistics per dataset.
	for i, b := range nn.Buffers(m) {
		if !b.Integer {
			for j := range b.Value.Data() {
				b.Value.Data()[j] = 0.5 + float32((i*7+j)%5)/10
			}
		}
	}
	single := cfg
	single.Classes, single.Norms = []int{3}, 1
	ref, err := NewPSPNet(tensor.NewRNG(1), single)
	if err != nil {
		t.Fatal(err)
	}
	x := autograd.Const(tensor.NewRNG(2).Normal(0, 1, 1, 3, 24, 24))
	nn.Train(m, false)
	if err := m.SetDataset(1); err != nil {
		t.Fatal(err)
	}
	want := m.Forward(x).Value().Data()
	q, err := m.ForDataset(1)
	if err != nil {
		t.Fatal(err)
	}
	nn.Train(q, false)
	got := q.Forward(x).Value().Data()
	relClose(t, "dataset 1's logits", got, want, 1e-6)
	if nn.NumParams(q) != nn.NumParams(ref) {
		t.Errorf("the dataset's network has %d parameters, a single-dataset one %d", nn.NumParams(q), nn.NumParams(ref))
	}
	a, b := nn.StateDict(q), nn.StateDict(ref)
	for i := range a {
		if a[i].Name != b[i].Name {
			t.Fatalf("entry %d: %s, a single-dataset network has %s", i, a[i].Name, b[i].Name)
		}
	}
	q0, _ := m.ForDataset(0)
	nn.Train(q0, false)
	if other := q0.Forward(x).Value().Data(); len(other) == len(got) {
		t.Error("dataset 0's network has dataset 1's classes")
	}
}
