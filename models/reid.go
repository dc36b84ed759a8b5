package models

import (
	"fmt"
	"slices"
	"strings"

	"argus/autograd"
	"argus/checkpoint"
	"argus/nn"
	"argus/tensor"
)

// ReID is the person re-identification network of the strong baseline
// (Luo et al., "Bag of Tricks and a Strong Baseline for Deep Person
// Re-identification"), with its state-dict names: a backbone "base", a
// pooling "pool" (GeM for a ResNet, none for a ViT, whose class token is
// the feature), a batch-norm neck "bottleneck" whose bias is frozen at zero
// (it does not require a gradient) and a bias-free linear "classifier".
//
// In training Forward returns the logits; in evaluation it returns the
// post-neck feature, which retrieval compares. Outputs returns all three
// outputs for the losses.
//
// On a *DCAL base (NewReIDDCAL) the GLCA branch has a neck and classifier
// of its own ("glca_bottleneck", "glca_classifier"), PWCA's pass shares the
// self-attention branch's, and the evaluation feature is the two necks'
// outputs side by side, SA then GLCA, as DCAL's re-ID concatenates them.
type ReID struct {
	// Base is a *ResNet without classifier, last stride 1, a *ViT or a
	// *DCAL, both without their heads.
	Base           nn.Module
	Pool           *nn.GeM
	Bottleneck     *nn.BatchNorm2d
	Classifier     *nn.Linear
	GLCABottleneck *nn.BatchNorm2d
	GLCAClassifier *nn.Linear
	training       bool
}

// ReIDOutputs are the outputs of a ReID network for one batch.
type ReIDOutputs struct {
	// Feature is the pooled backbone feature before the neck (N, Dim), the
	// triplet loss's input.
	Feature *autograd.Var
	// Neck is the feature after the batch-norm neck (N, Dim), the one that
	// evaluation compares.
	Neck *autograd.Var
	// Logits are the classifier's outputs (N, Classes).
	Logits *autograd.Var
}

// NewReIDResNet returns the re-ID network on a ResNet of the given depth
// with last stride 1, GeM pooling with p initialised to 3, and classes
// identities. The neck's weight is 1 and its bias 0, frozen; the classifier
// is initialised normal with standard deviation 0.001, as the strong
// baseline does.
func NewReIDResNet(rng *tensor.RNG, depth, classes int) (*ReID, error) {
	r, err := NewResNet(rng, depth, 0)
	if err != nil {
		return nil, err
	}
	if err := r.SetLastStride(1); err != nil {
		return nil, err
	}
	cs := r.StageChannels()
	return newReID(rng, r, nn.NewGeM(3), cs[len(cs)-1], classes)
}

// NewReIDViT returns the re-ID network on the ViT of config c without its
// head, whose normalised class token is the feature (c.Classes is not
// used).
func NewReIDViT(rng *tensor.RNG, c ViTConfig, classes int) (*ReID, error) {
	v, err := NewViT(rng, c)
	if err != nil {
		return nil, err
	}
	v.Head = nil
	return newReID(rng, v, nil, c.Dim, classes)
}

// NewReIDDCAL returns the re-ID network on a ViT of config c with DCAL's
// branches o (c.Classes is not used): the self-attention branch as
// NewReIDViT's, and with GLCA a second neck and classifier, initialised
// alike, on the GLCA block's normalised class token.
func NewReIDDCAL(rng *tensor.RNG, c ViTConfig, o DCALOptions, classes int) (*ReID, error) {
	d, err := NewDCAL(rng, c, o)
	if err != nil {
		return nil, err
	}
	d.ViT.Head, d.GLCAHead = nil, nil
	m, err := newReID(rng, d, nil, c.Dim, classes)
	if err != nil {
		return nil, err
	}
	if o.GLCA {
		m.GLCABottleneck, m.GLCAClassifier = neck(rng, c.Dim, classes)
	}
	return m, nil
}

func newReID(rng *tensor.RNG, base nn.Module, pool *nn.GeM, dim, classes int) (*ReID, error) {
	if classes < 1 {
		return nil, fmt.Errorf("a re-ID network needs at least 1 identity, not %d", classes)
	}
	bn, cls := neck(rng, dim, classes)
	return &ReID{Base: base, Pool: pool, Bottleneck: bn, Classifier: cls, training: true}, nil
}

// neck returns the strong baseline's batch-norm neck, bias frozen at zero,
// and its bias-free classifier, normal with standard deviation 0.001.
func neck(rng *tensor.RNG, dim, classes int) (*nn.BatchNorm2d, *nn.Linear) {
	bn := nn.NewBatchNorm2d(dim)
	bn.Bias.SetRequiresGrad(false)
	cls := nn.NewLinear(rng, dim, classes, false)
	nn.Normal(rng, cls.Weight.Value(), 0, 0.001)
	return bn, cls
}

// Members implements nn.Module with the strong baseline's names.
func (m *ReID) Members() nn.Members {
	mem := nn.Members{Children: []nn.Child{{Name: "base", Module: m.Base}}}
	if m.Pool != nil {
		mem.Children = append(mem.Children, nn.Child{Name: "pool", Module: m.Pool})
	}
	mem.Children = append(mem.Children,
		nn.Child{Name: "bottleneck", Module: m.Bottleneck},
		nn.Child{Name: "classifier", Module: m.Classifier})
	if m.GLCABottleneck != nil {
		mem.Children = append(mem.Children,
			nn.Child{Name: "glca_bottleneck", Module: m.GLCABottleneck},
			nn.Child{Name: "glca_classifier", Module: m.GLCAClassifier})
	}
	return mem
}

// DCAL returns the network's DCAL base, or nil when it has none.
func (m *ReID) DCAL() *DCAL {
	d, _ := m.Base.(*DCAL)
	return d
}

// SetTraining switches what Forward returns; nn.Train switches the
// sub-modules.
func (m *ReID) SetTraining(on bool) { m.training = on }

// features maps images to the pooled backbone feature (N, Dim).
func (m *ReID) features(x *autograd.Var) *autograd.Var {
	switch b := m.Base.(type) {
	case *ResNet:
		return m.Pool.Forward(b.Stages(x)[3])
	case *ViT:
		tokens, _ := b.Features(x)
		return PreLogits(tokens)
	case *DCAL:
		return b.Tokens(x, nil).SA
	default:
		panic(fmt.Sprintf("models: re-ID backbone %T", m.Base))
	}
}

// Outputs maps images (N, 3, H, W) to the pre-neck feature, the post-neck
// feature and the logits.
func (m *ReID) Outputs(x *autograd.Var) ReIDOutputs {
	f := m.features(x)
	n := m.Bottleneck.Forward(f)
	return ReIDOutputs{Feature: f, Neck: n, Logits: m.Classifier.Forward(n)}
}

// Forward returns the logits in training and the post-neck feature in
// evaluation.
func (m *ReID) Forward(x *autograd.Var) *autograd.Var {
	if !m.training {
		if d := m.DCAL(); d != nil && m.GLCABottleneck != nil {
			t := d.Tokens(x, nil)
			return autograd.Concat([]*autograd.Var{m.Bottleneck.Forward(t.SA), m.GLCABottleneck.Forward(t.GLCA)}, 1)
		}
		return m.Bottleneck.Forward(m.features(x))
	}
	return m.Outputs(x).Logits
}

// BranchOutputs returns the training outputs of each of DCAL's branches,
// in the order of DCAL.Branches (sa, glca, pwca): the self-attention
// branch's and PWCA's through the first neck and classifier, GLCA's
// through its own. partners are PWCA's (DCAL.Run); without a DCAL base it
// returns Outputs alone.
func (m *ReID) BranchOutputs(x *autograd.Var, partners []int) []ReIDOutputs {
	d := m.DCAL()
	if d == nil {
		return []ReIDOutputs{m.Outputs(x)}
	}
	if !d.Options.PWCA {
		partners = nil
	}
	t := d.Tokens(x, partners)
	head := func(f *autograd.Var, bn *nn.BatchNorm2d, cls *nn.Linear) ReIDOutputs {
		n := bn.Forward(f)
		return ReIDOutputs{Feature: f, Neck: n, Logits: cls.Forward(n)}
	}
	out := []ReIDOutputs{head(t.SA, m.Bottleneck, m.Classifier)}
	if t.GLCA != nil {
		out = append(out, head(t.GLCA, m.GLCABottleneck, m.GLCAClassifier))
	}
	if t.PWCA != nil {
		out = append(out, head(t.PWCA, m.Bottleneck, m.Classifier))
	}
	return out
}

// LoadBackbone copies a classifier's state dict f into the backbone: a
// torchvision ResNet's (a converted .pth) or a timm ViT's, whose position
// embedding is resampled to the model's grid. The classifier's entries,
// fc.* of a ResNet and head.* of a ViT, are
// not loaded and are returned, sorted; any other difference fails as
// checkpoint.LoadModel does, changing nothing.
func LoadBackbone(f *checkpoint.File, m *ReID) (ignored []string, err error) {
	prefix := "fc."
	var base nn.Module = m.Base
	switch b := m.Base.(type) {
	case *ViT:
		prefix = "head."
	case *DCAL:
		// A timm state dict fills the ViT; DCAL's own weights keep their
		// initialisation.
		prefix, base = "head.", b.ViT
	}
	g := &checkpoint.File{Tensors: make(map[string]checkpoint.Entry, len(f.Tensors)), Metadata: f.Metadata}
	for _, name := range f.Names {
		if strings.HasPrefix(name, prefix) {
			ignored = append(ignored, name)
			continue
		}
		g.Names = append(g.Names, name)
		g.Tensors[name] = f.Tensors[name]
	}
	if err := LoadWeights(g, base); err != nil {
		return nil, err
	}
	slices.Sort(ignored)
	return ignored, nil
}
