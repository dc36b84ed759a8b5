package finegrained

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"argus/checkpoint"
	"argus/models"
	"argus/nn"
	"argus/tensor"
)

// sourceViT returns the state dict of a 2-block ViT of 7 classes on a 2×2
// grid, as timm would save it.
func sourceViT(t *testing.T) (*models.ViT, *checkpoint.File) {
	t.Helper()
	v, err := models.NewViT(tensor.NewRNG(3), models.ViTConfig{Patch: 4, Dim: 8, Depth: 2, Heads: 2, Classes: 7, GridH: 2, GridW: 2})
	if err != nil {
		t.Fatal(err)
	}
	f, err := checkpoint.EncodeModel(v, checkpoint.Contents{})
	if err != nil {
		t.Fatal(err)
	}
	return v, f
}

func target(t *testing.T) *models.DCAL {
	t.Helper()
	m, err := models.NewDCAL(tensor.NewRNG(4), models.ViTConfig{Patch: 4, Dim: 8, Depth: 2, Heads: 2, Classes: 3, GridH: 3, GridW: 2},
		models.DCALOptions{GLCA: true, PWCA: true, GLCARatio: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestInitFromTimm(t *testing.T) {
	v, f := sourceViT(t)
	m := target(t)
	rep, err := Init(f, m, true)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.Skipped, []string{"head.weight", "head.bias"}) || rep.GLCAFrom != "blocks.1" {
		t.Fatalf("report %+v", rep)
	}
	if !slices.Equal(m.GLCA.QKV.Weight.Value().Data(), v.Blocks[1].Attn.QKV.Weight.Value().Data()) {
		t.Error("GLCA's qkv is not the last block's")
	}
	if !slices.Equal(m.ViT.Blocks[0].FC1.Weight.Value().Data(), v.Blocks[0].FC1.Weight.Value().Data()) {
		t.Error("block 0 not loaded")
	}
	want := models.ResamplePosEmbed(v.PosEmbed.Value(), 2, 2, 3, 2)
	if !slices.Equal(m.ViT.PosEmbed.Value().Data(), want.Data()) {
		t.Error("position embedding not resampled to 3×2")
	}
}

func TestInitMismatch(t *testing.T) {
	_, f := sourceViT(t)
	delete(f.Tensors, "blocks.0.norm1.bias")
	f.Names = slices.DeleteFunc(f.Names, func(n string) bool { return n == "blocks.0.norm1.bias" })
	f.Tensors["norm.weight"] = checkpoint.Float32Entry(tensor.Zeros(5))
	if err := f.Add("extra_token", checkpoint.Float32Entry(tensor.Zeros(2))); err != nil {
		t.Fatal(err)
	}
	m := target(t)
	before := slices.Clone(m.ViT.Blocks[0].FC1.Weight.Value().Data())
	_, err := Init(f, m, true)
	var mis *checkpoint.MismatchError
	if !errors.As(err, &mis) {
		t.Fatalf("strict: %v, want a mismatch", err)
	}
	for _, name := range []string{"blocks.0.norm1.bias", "norm.weight", "extra_token"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
	if !slices.Equal(m.ViT.Blocks[0].FC1.Weight.Value().Data(), before) {
		t.Error("a refused file changed the model")
	}
	rep, err := Init(f, m, false)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.Missing, []string{"blocks.0.norm1.bias"}) || !slices.Equal(rep.Unexpected, []string{"extra_token"}) || len(rep.Shapes) != 2 {
		t.Fatalf("report %+v", rep)
	}
	// Not loaded: the missing bias, norm.weight and the glca_norm.weight
	// copied from it, head.* and glca_head.*, loss_weights.
	if want := len(nn.StateDict(m)) - 8; rep.Loaded != want {
		t.Errorf("loaded %d tensors, want %d", rep.Loaded, want)
	}
}
