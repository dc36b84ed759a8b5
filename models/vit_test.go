package models

import (
	"math"
	"slices"
	"strings"
	"testing"

	"argus/autograd"
	"argus/checkpoint"
	"argus/compiler/executor"
	"argus/compiler/onnx"
	"argus/compiler/trace"
	"argus/compiler/xgraph"
	"argus/dcal"
	"argus/internal/golden"
	"argus/nn"
	"argus/tensor"
)

// The golden file and the small state dict are written by
// tools/golden/models/vit.py from timm's VisionTransformer.

type vitTensor struct {
	Shape []int     `json:"shape"`
	Data  []float32 `json:"data"`
}

func (g vitTensor) tensor() *tensor.Tensor {
	return tensor.Wrap(append([]float32(nil), g.Data...), g.Shape...)
}

type vitGolden struct {
	Keys    map[string][][2]any `json:"keys"`
	Params  map[string]int      `json:"params"`
	Forward []struct {
		Name      string    `json:"name"`
		Height    int       `json:"height"`
		Width     int       `json:"width"`
		Input     vitTensor `json:"input"`
		Logits    vitTensor `json:"logits"`
		PreLogits vitTensor `json:"pre_logits"`
		Rollout   vitTensor `json:"rollout"`
	} `json:"forward"`
	Resample []struct {
		Old, New      []int
		Input, Output vitTensor
	} `json:"resample"`
}

func loadViTGolden(t *testing.T) vitGolden {
	var g vitGolden
	golden.Load(t, "testdata/vit.json", &g)
	return g
}

// closeRel reports whether got is within 1e-4 of want relative to the
// largest |want| (and 1e-6 absolute).
func closeRel(t *testing.T, what string, got []float32, want vitTensor, shape []int) {
	t.Helper()
	if !tensor.EqualShapes(shape, want.Shape) {
		t.Fatalf("%s: shape %v, want %v", what, shape, want.Shape)
	}
	var scale float64
	for _, w := range want.Data {
		scale = math.Max(scale, math.Abs(float64(w)))
	}
	for i, w := range want.Data {
		if d := math.Abs(float64(got[i]) - float64(w)); d > 1e-6+1e-4*scale || math.IsNaN(float64(got[i])) {
			t.Fatalf("%s[%d] = %v, want %v (scale %v)", what, i, got[i], w, scale)
		}
	}
}

// TestViTStateDictMatchesTimm checks the names, order, shapes and
// parameter counts of the registered ViTs against timm's.
func TestViTStateDictMatchesTimm(t *testing.T) {
	g := loadViTGolden(t)
	for _, name := range []string{"deit-tiny", "deit-small", "vit-base"} {
		t.Run(name, func(t *testing.T) {
			if name == "vit-base" && testing.Short() {
				t.Skip("86M parameters")
			}
			m, err := New(name, tensor.NewRNG(1))
			if err != nil {
				t.Fatal(err)
			}
			sd := nn.StateDict(m)
			want := g.Keys[name]
			if len(sd) != len(want) {
				t.Fatalf("%d entries, want %d", len(sd), len(want))
			}
			for i, s := range sd {
				wname := want[i][0].(string)
				var wshape []int
				for _, d := range want[i][1].([]any) {
					wshape = append(wshape, int(d.(float64)))
				}
				if s.Name != wname || !tensor.EqualShapes(s.Value.Shape(), wshape) {
					t.Fatalf("entry %d: %s %v, want %s %v", i, s.Name, s.Value.Shape(), wname, wshape)
				}
			}
			if n := nn.NumParams(m); n != g.Params[name] {
				t.Errorf("%d parameters, want %d", n, g.Params[name])
			}
		})
	}
}

// TestViTMatchesTimm loads the small timm state dict, at its own grid and
// resampled to a non-square one, and compares logits, pre-logits and the
// class row of the attention rollout with timm's.
func TestViTMatchesTimm(t *testing.T) {
	g := loadViTGolden(t)
	f, err := checkpoint.ReadFile("testdata/vit_tiny.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range g.Forward {
		t.Run(c.Name, func(t *testing.T) {
			v, err := NewViT(tensor.NewRNG(3), ViTConfig{Patch: 16, Dim: 24, Depth: 2, Heads: 2, Classes: 5,
				GridH: c.Height / 16, GridW: c.Width / 16, DropPath: 0.1})
			if err != nil {
				t.Fatal(err)
			}
			if err := LoadWeights(f, v); err != nil {
				t.Fatal(err)
			}
			nn.Train(v, false)
			x := autograd.Const(c.Input.tensor())
			var logits, pre *autograd.Var
			var attn []*tensor.Tensor
			nn.NoGrad(v, func() {
				var tokens *autograd.Var
				tokens, attn = v.Features(x)
				pre = PreLogits(tokens)
				logits = v.Head.Forward(pre)
			})
			closeRel(t, "logits", logits.Value().Data(), c.Logits, logits.Shape())
			closeRel(t, "pre_logits", pre.Value().Data(), c.PreLogits, pre.Shape())
			r := dcal.Rollout(attn)
			closeRel(t, "rollout", r.Data(), c.Rollout, r.Shape())
			if got := v.Forward(x).Value().Data(); got[0] != logits.Value().Data()[0] {
				t.Errorf("Forward gives %v, Features and Head %v", got[0], logits.Value().Data()[0])
			}
		})
	}
}

// TestResamplePosEmbedMatchesTimm compares ResamplePosEmbed with timm's
// resample_abs_pos_embed, upsampling, downsampling and non-square.
func TestResamplePosEmbedMatchesTimm(t *testing.T) {
	for _, c := range loadViTGolden(t).Resample {
		got := ResamplePosEmbed(c.Input.tensor(), c.Old[0], c.Old[1], c.New[0], c.New[1])
		closeRel(t, "resampled", got.Data(), c.Output, got.Shape())
	}
	pe := tensor.NewRNG(4).Normal(0, 1, 1, 1+6, 2)
	if got := ResamplePosEmbed(pe, 2, 3, 2, 3); !slices.Equal(got.Data(), pe.Data()) {
		t.Error("resampling to the same grid changes the embedding")
	}
}

// TestLoadWeightsMismatch checks that a state dict that does not fit is
// refused with the names of what differs, the position embedding included
// when its positions are no square grid.
func TestLoadWeightsMismatch(t *testing.T) {
	v, err := NewViT(tensor.NewRNG(5), ViTConfig{Patch: 16, Dim: 24, Depth: 2, Heads: 2, Classes: 5, GridH: 2, GridW: 2})
	if err != nil {
		t.Fatal(err)
	}
	f, err := checkpoint.ReadFile("testdata/vit_tiny.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		edit func(g *checkpoint.File)
	}{
		{"head", func(g *checkpoint.File) { g.Tensors["head.bias"] = checkpoint.Float32Entry(tensor.Zeros(7)) }},
		{"missing", func(g *checkpoint.File) { delete(g.Tensors, "norm.weight") }},
		{"pos_embed", func(g *checkpoint.File) { g.Tensors["pos_embed"] = checkpoint.Float32Entry(tensor.Zeros(1, 7, 24)) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := &checkpoint.File{Tensors: map[string]checkpoint.Entry{}}
			for k, e := range f.Tensors {
				g.Tensors[k] = e
				if k != "norm.weight" || c.name != "missing" {
					g.Names = append(g.Names, k)
				}
			}
			c.edit(g)
			err := LoadWeights(g, v)
			if err == nil {
				t.Fatal("no error")
			}
			if want := map[string]string{"head": "head.bias", "missing": "norm.weight", "pos_embed": "pos_embed"}[c.name]; !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name %s", err, want)
			}
		})
	}
}

// TestViTExport traces a small ViT with an open batch, writes it as ONNX,
// reads it back and runs it on the executor at the traced batch and at
// another, against the model.
func TestViTExport(t *testing.T) {
	rng := tensor.NewRNG(8)
	v, err := NewViT(rng, ViTConfig{Patch: 8, Dim: 16, Depth: 2, Heads: 2, Classes: 4, GridH: 2, GridW: 3, DropPath: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range nn.StateDict(v) {
		copy(s.Value.Data(), rng.Normal(0, 0.3, s.Value.Len()).Data())
	}
	res, err := trace.Model(v, rng.Uniform(-1, 1, 2, 3, 16, 24), trace.Options{Name: "vit", DynamicBatch: true})
	if err != nil {
		t.Fatal(err)
	}
	data, err := onnx.Encode(res.Graph)
	if err != nil {
		t.Fatal(err)
	}
	g, err := onnx.Read(data)
	if err != nil {
		t.Fatal(err)
	}
	e, err := executor.New(g)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{2, 3} {
		x := rng.Uniform(-1, 1, n, 3, 16, 24)
		out, err := e.Run(map[string]*xgraph.Tensor{g.Inputs[0].Name: xgraph.FromDense(x)})
		if err != nil {
			t.Fatal(err)
		}
		var want *autograd.Var
		nn.NoGrad(v, func() { want = v.Forward(autograd.Const(x)) })
		w := want.Value()
		closeRel(t, "export", out[0].Dense().Data(), vitTensor{Shape: w.Shape(), Data: w.Data()}, out[0].Dense().Shape())
	}
}

// TestViTBackward runs a training step of a small ViT, drop path on, and
// checks that every parameter receives a finite, non-zero gradient.
func TestViTBackward(t *testing.T) {
	rng := tensor.NewRNG(9)
	v, err := NewViT(rng, ViTConfig{Patch: 8, Dim: 16, Depth: 3, Heads: 2, Classes: 4, GridH: 2, GridW: 2, DropPath: 0.2})
	if err != nil {
		t.Fatal(err)
	}
	nn.Train(v, true)
	loss := autograd.CrossEntropy(v.Forward(autograd.Const(rng.Normal(0, 1, 8, 3, 16, 16))), []int{0, 1, 2, 3, 0, 1, 2, 3}, autograd.CrossEntropyOptions{})
	loss.Backward()
	for _, p := range nn.Parameters(v) {
		g := p.Var.Grad()
		if g == nil {
			t.Fatalf("%s: no gradient", p.Name)
		}
		nonzero := false
		for _, x := range g.Data() {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				t.Fatalf("%s: gradient %v", p.Name, x)
			}
			nonzero = nonzero || x != 0
		}
		if !nonzero {
			t.Errorf("%s: zero gradient", p.Name)
		}
	}
}

// TestViTConfigFromState reads the small timm state dict's shape and the
// errors of state dicts that are not a ViT's.
func TestViTConfigFromState(t *testing.T) {
	f, err := checkpoint.ReadFile("testdata/vit_tiny.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	c, err := ViTConfigFromState(f, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := ViTConfig{Channels: 3, Patch: 16, Dim: 24, Depth: 2, Heads: 2, MLP: 96, Classes: 5, GridH: 2, GridW: 2}
	if c != want {
		t.Errorf("config %+v, want %+v", c, want)
	}
	if c, err := ViTConfigFromState(f, 0); err != nil || c.Heads != 1 {
		t.Errorf("default heads of width 24: %d, %v; want 1", c.Heads, err)
	}
	for _, tc := range []struct {
		name, drop, want string
	}{
		{"no patch embedding", "patch_embed.proj.weight", "no patch_embed.proj.weight"},
		{"no blocks", "blocks.0.norm1.weight", "no blocks.0.norm1.weight"},
		{"no head", "head.weight", "no head.weight"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &checkpoint.File{Tensors: map[string]checkpoint.Entry{}}
			for k, e := range f.Tensors {
				if k != tc.drop {
					g.Tensors[k] = e
				}
			}
			if _, err := ViTConfigFromState(g, 2); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one naming %s", err, tc.want)
			}
		})
	}
	if _, err := ViTConfigFromState(f, 5); err == nil {
		t.Error("width 24 in 5 heads accepted")
	}
}
