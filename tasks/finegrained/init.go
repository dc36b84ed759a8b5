package finegrained

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"argus/checkpoint"
	"argus/models"
	"argus/nn"
	"argus/tensor"
)

// InitReport says how a weights file initialised a DCAL model.
type InitReport struct {
	// Loaded is the number of tensors copied.
	Loaded int `json:"loaded"`
	// Skipped are the file's classifier tensors for another number of
	// classes (head.*, glca_head.*), never loaded.
	Skipped []string `json:"skipped,omitempty"`
	// GLCAFrom names the block the GLCA block was copied from when the
	// file has no glca.* tensors (the last block; its norm from norm.*).
	GLCAFrom string `json:"glca_from,omitempty"`
	// Missing, Unexpected and Shapes are what did not fit (only with
	// strict off): the model's tensors the file lacks, the file's tensors
	// the model lacks, and those of another shape.
	Missing    []string `json:"missing,omitempty"`
	Unexpected []string `json:"unexpected,omitempty"`
	Shapes     []string `json:"shapes,omitempty"`
}

// Init copies the state dict f (timm's ViT names, or a fine-grained
// checkpoint) into m. The position embedding is resampled to m's grid
// when its number of positions differs (models.ResamplePosEmbed, from a
// square grid); a classifier of another number of classes is skipped;
// without glca.* tensors the GLCA block starts as a copy of the last
// block and its norm as the final norm's; an absent GLCA classifier and
// absent loss weights keep their initial values. Anything else that does not fit — a tensor of m missing from
// f, one of f that m lacks, or one of another shape — is a
// *checkpoint.MismatchError naming them all and changes nothing when
// strict, and is listed in the report (the rest loaded) when not.
func Init(f *checkpoint.File, m *models.DCAL, strict bool) (*InitReport, error) {
	rep := &InitReport{}
	g := map[string]checkpoint.Entry{}
	var names []string
	for _, name := range f.Names {
		if strings.HasPrefix(name, "optim/") || strings.HasPrefix(name, "extra/") {
			continue
		}
		g[name] = f.Tensors[name]
		names = append(names, name)
	}
	states := nn.StateDict(m)
	want := map[string][]int{}
	for _, s := range states {
		want[s.Name] = s.Value.Shape()
	}
	// The position embedding, resampled to the model's grid.
	if e, ok := g["pos_embed"]; ok {
		w := want["pos_embed"]
		if len(e.Shape) == 3 && e.Shape[0] == 1 && e.Shape[2] == w[2] && e.Shape[1] != w[1] {
			side := int(math.Sqrt(float64(e.Shape[1] - 1)))
			if side < 1 || side*side != e.Shape[1]-1 {
				return nil, fmt.Errorf("pos_embed %v: %d patch positions are not a square grid", e.Shape, e.Shape[1]-1)
			}
			pe, err := e.Float32()
			if err != nil {
				return nil, fmt.Errorf("pos_embed: %w", err)
			}
			c := m.ViT.Config
			g["pos_embed"] = checkpoint.Float32Entry(models.ResamplePosEmbed(pe, side, side, c.GridH, c.GridW))
		}
	}
	// Classifiers of other classes.
	for _, head := range []string{"head", "glca_head"} {
		e, ok := g[head+".weight"]
		if ok && len(e.Shape) == 2 && len(want[head+".weight"]) == 2 && e.Shape[0] != want[head+".weight"][0] {
			for _, n := range []string{head + ".weight", head + ".bias"} {
				if _, ok := g[n]; ok {
					delete(g, n)
					rep.Skipped = append(rep.Skipped, n)
				}
			}
		}
	}
	// GLCA from the last block.
	if m.GLCA != nil && !hasPrefix(g, "glca.") {
		last := fmt.Sprintf("blocks.%d.", len(m.ViT.Blocks)-1)
		copied := false
		for _, n := range names {
			if rest, ok := strings.CutPrefix(n, last); ok {
				g["glca."+rest] = g[n]
				copied = true
			}
		}
		for _, n := range []string{"weight", "bias"} {
			if e, ok := g["norm."+n]; ok {
				if _, have := g["glca_norm."+n]; !have {
					g["glca_norm."+n] = e
				}
			}
		}
		if copied {
			rep.GLCAFrom = strings.TrimSuffix(last, ".")
		}
	}
	var mis checkpoint.MismatchError
	vals := make([]*tensor.Tensor, len(states))
	for i, s := range states {
		e, ok := g[s.Name]
		if !ok {
			if s.Name != "loss_weights" && !strings.HasPrefix(s.Name, "glca_head.") && !slices.Contains(rep.Skipped, s.Name) {
				mis.Missing = append(mis.Missing, s.Name)
			}
			continue
		}
		if !tensor.EqualShapes(e.Shape, s.Value.Shape()) {
			mis.Shapes = append(mis.Shapes, fmt.Sprintf("%s (file %v, model %v)", s.Name, e.Shape, s.Value.Shape()))
			continue
		}
		t, err := e.Float32()
		if err != nil {
			mis.Shapes = append(mis.Shapes, fmt.Sprintf("%s (%v)", s.Name, err))
			continue
		}
		vals[i] = t
	}
	for _, n := range names {
		if _, ok := want[n]; !ok && !slices.Contains(rep.Skipped, n) {
			mis.Unexpected = append(mis.Unexpected, n)
		}
	}
	if strict && len(mis.Missing)+len(mis.Unexpected)+len(mis.Shapes) > 0 {
		return nil, &mis
	}
	rep.Missing, rep.Unexpected, rep.Shapes = mis.Missing, mis.Unexpected, mis.Shapes
	for i, s := range states {
		if vals[i] != nil {
			s.Value.CopyFrom(vals[i])
			rep.Loaded++
		}
	}
	return rep, nil
}

func hasPrefix(g map[string]checkpoint.Entry, prefix string) bool {
	for n := range g {
		if strings.HasPrefix(n, prefix) {
			return true
		}
	}
	return false
}
