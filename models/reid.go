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
type ReID struct {
	// Base is a *ResNet without classifier, last stride 1, or a *ViT.
	Base       nn.Module
	Pool       *nn.GeM
	Bottleneck *nn.BatchNorm2d
	Classifier *nn.Linear
	training   bool
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

func newReID(rng *tensor.RNG, base nn.Module, pool *nn.GeM, dim, classes int) (*ReID, error) {
	if classes < 1 {
		return nil, fmt.Errorf("a re-ID network needs at least 1 identity, not %d", classes)
	}
	bn := nn.NewBatchNorm2d(dim)
	bn.Bias.SetRequiresGrad(false)
	cls := nn.NewLinear(rng, dim, classes, false)
	nn.Normal(rng, cls.Weight.Value(), 0, 0.001)
	return &ReID{Base: base, Pool: pool, Bottleneck: bn, Classifier: cls, training: true}, nil
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
	return mem
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
		return m.Bottleneck.Forward(m.features(x))
	}
	return m.Outputs(x).Logits
}

// LoadBackbone copies a classifier's state dict f into the backbone: a
// torchvision ResNet's (a converted .pth) or a timm ViT's, whose position
// embedding is resampled to the model's grid. The classifier's entries,
// fc.* of a ResNet and head.* of a ViT, are
// not loaded and are returned, sorted; any other difference fails as
// checkpoint.LoadModel does, changing nothing.
func LoadBackbone(f *checkpoint.File, m *ReID) (ignored []string, err error) {
	prefix := "fc."
	if _, ok := m.Base.(*ViT); ok {
		prefix = "head."
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
	if err := LoadWeights(g, m.Base); err != nil {
		return nil, err
	}
	slices.Sort(ignored)
	return ignored, nil
}
