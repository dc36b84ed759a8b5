package models

import (
	"fmt"
	"strings"

	"argus/autograd"
	"argus/dcal"
	"argus/nn"
	"argus/tensor"
)

// DCALOptions selects the branches of Dual Cross-Attention Learning
// (arXiv 2205.02151) on a ViT.
type DCALOptions struct {
	// GLCA adds global-local cross-attention: one block of its own weights
	// after the self-attention blocks, whose queries are the class token
	// and the GLCARatio share of the patches of highest attention rollout,
	// with its own final norm and classifier.
	GLCA bool
	// PWCA adds pair-wise cross-attention in training: a second pass of
	// the image through the self-attention blocks (their weights), each
	// block's queries attending over the keys and values of the image and
	// of a partner image, classified by the ViT's norm and head.
	PWCA bool
	// GLCARatio is the share of the patch tokens whose queries GLCA keeps
	// (dcal.Queries): 0.1 for fine-grained recognition, 0.3 for re-ID.
	GLCARatio float64
}

// ParseDCAL reads the branches of a --dcal value: none, glca, pwca or
// glca,pwca (in either order).
func ParseDCAL(s string) (glca, pwca bool, err error) {
	if s == "none" || s == "" {
		return false, false, nil
	}
	for _, part := range strings.Split(s, ",") {
		switch strings.TrimSpace(part) {
		case "glca":
			glca = true
		case "pwca":
			pwca = true
		default:
			return false, false, fmt.Errorf("unknown DCAL branch %q in %q (want none, glca, pwca or glca,pwca)", part, s)
		}
	}
	return glca, pwca, nil
}

// String returns the --dcal value of o: none, glca, pwca or glca,pwca.
func (o DCALOptions) String() string {
	switch {
	case o.GLCA && o.PWCA:
		return "glca,pwca"
	case o.GLCA:
		return "glca"
	case o.PWCA:
		return "pwca"
	}
	return "none"
}

// DCAL is a ViT with DCAL's branches. Its state dict is the ViT's (timm's
// names) followed by the GLCA block (glca.*, timm's Block names), its norm
// (glca_norm.*) and classifier (glca_head.*), and the uncertainty weights
// of the losses (loss_weights, one per branch trained, in the order of
// Branches), each present only with its branch; with no branch it is the
// ViT's.
type DCAL struct {
	ViT     *ViT
	Options DCALOptions
	// GLCA, GLCANorm and GLCAHead are nil without the GLCA branch.
	GLCA     *dcal.GLCA
	GLCANorm *nn.LayerNorm
	GLCAHead *nn.Linear
	// LossWeights are the learnable s_i of dcal.Uncertainty, zero at the
	// start (every loss weighted 0.5); nil with one branch.
	LossWeights *autograd.Var
}

// NewDCAL returns a ViT of configuration c with the branches o, initialised
// as timm initialises a ViT (the GLCA block as a block, its norm and head
// as the ViT's); the GLCA block's drop-path rate is the last block's.
func NewDCAL(rng *tensor.RNG, c ViTConfig, o DCALOptions) (*DCAL, error) {
	if o.GLCA && !(o.GLCARatio > 0 && o.GLCARatio <= 1) {
		return nil, fmt.Errorf("dcal: GLCA ratio must be in (0, 1], got %g", o.GLCARatio)
	}
	v, err := NewViT(rng, c)
	if err != nil {
		return nil, err
	}
	m := &DCAL{ViT: v, Options: o}
	c = v.Config
	if o.GLCA {
		m.GLCA = dcal.NewGLCA(rng, c.Dim, c.Heads, c.MLP, c.DropPath)
		m.GLCANorm = nn.NewLayerNorm(c.Dim)
		m.GLCANorm.Eps = 1e-6
		m.GLCAHead = nn.NewLinear(rng, c.Dim, c.Classes, true)
		nn.TruncNormal(rng, m.GLCAHead.Weight.Value(), 0, 0.02, -2, 2)
		m.GLCAHead.Bias.Value().Fill(0)
	}
	if b := len(m.Branches()); b > 1 {
		m.LossWeights = autograd.Param(tensor.Zeros(b))
	}
	return m, nil
}

// Branches names the losses trained, in the order of LossWeights: "sa"
// (the ViT's own classifier), then "glca" and "pwca" when present.
func (m *DCAL) Branches() []string {
	b := []string{"sa"}
	if m.Options.GLCA {
		b = append(b, "glca")
	}
	if m.Options.PWCA {
		b = append(b, "pwca")
	}
	return b
}

// Members implements nn.Module: the ViT's members, then the branches'.
func (m *DCAL) Members() nn.Members {
	mem := m.ViT.Members()
	if m.GLCA != nil {
		mem.Children = append(mem.Children, nn.Child{Name: "glca", Module: m.GLCA}, nn.Child{Name: "glca_norm", Module: m.GLCANorm})
		if m.GLCAHead != nil {
			mem.Children = append(mem.Children, nn.Child{Name: "glca_head", Module: m.GLCAHead})
		}
	}
	if m.LossWeights != nil {
		mem.Params = append(mem.Params, nn.Parameter{Name: "loss_weights", Var: m.LossWeights})
	}
	return mem
}

// DCALOutputs are the results of a DCAL pass.
type DCALOutputs struct {
	// SA is the ViT's logits (N, Classes), GLCA the GLCA classifier's (nil
	// without the branch), PWCA the pair-wise pass's (nil unless partners
	// were given to a model with the branch).
	SA, GLCA, PWCA *autograd.Var
	// Attn holds each self-attention block's probabilities (N, Heads, L,
	// L); Rollout is their rollout's class row over the patches (N, L−1)
	// and Queries GLCA's query tokens per image, when GLCA ran.
	Attn    []*tensor.Tensor
	Rollout *tensor.Tensor
	Queries [][]int
}

// Run passes images x (N, C, H, W) through the model. With partners (one
// index into the batch per image, dcal.Partners) and the PWCA branch it
// also runs the pair-wise pass: image i's tokens through the blocks
// again, each block's queries attending over its own keys and values and
// those of image partners[i] in that block's self-attention pass (the keys
// and values of its input to the block, reused rather than recomputed);
// gradients flow into both. Without partners (inference) nothing of
// PWCA runs. GLCA reads the output of the last self-attention block.
func (m *DCAL) Run(x *autograd.Var, partners []int) DCALOutputs {
	out := m.Tokens(x, partners)
	out.SA = m.ViT.Head.Forward(out.SA)
	if out.GLCA != nil {
		out.GLCA = m.GLCAHead.Forward(out.GLCA)
	}
	if out.PWCA != nil {
		out.PWCA = m.ViT.Head.Forward(out.PWCA)
	}
	return out
}

// Tokens is Run without the classifiers: SA, GLCA and PWCA hold each
// branch's class token after its final norm (N, Dim), the feature a re-ID
// head takes. The heads need not exist.
func (m *DCAL) Tokens(x *autograd.Var, partners []int) DCALOutputs {
	v := m.ViT
	h := v.Embed(x)
	n := h.Shape()[0]
	var out DCALOutputs
	out.Attn = make([]*tensor.Tensor, len(v.Blocks))
	pairs := partners != nil && m.Options.PWCA
	var kvs []KV
	e := h
	if pairs {
		if len(partners) != n {
			panic(fmt.Sprintf("models: %d PWCA partners for a batch of %d", len(partners), n))
		}
		kvs = make([]KV, len(v.Blocks))
	}
	for i, b := range v.Blocks {
		if pairs {
			h, out.Attn[i], kvs[i] = b.ForwardKV(h)
		} else {
			h, out.Attn[i] = b.Forward(h)
		}
	}
	out.SA = PreLogits(v.Norm.Forward(h))
	if m.GLCA != nil {
		out.Rollout = dcal.Rollout(out.Attn)
		out.Queries = dcal.SelectQueries(out.Rollout, dcal.Queries(out.Rollout.Shape()[1], m.Options.GLCARatio))
		g := m.GLCA.Forward(h, out.Queries)
		out.GLCA = PreLogits(m.GLCANorm.Forward(g))
	}
	if pairs {
		p := e
		for i, b := range v.Blocks {
			p = b.ForwardPair(p, kvs[i].Select(partners))
		}
		out.PWCA = PreLogits(v.Norm.Forward(p))
	}
	return out
}

// Forward maps images to the ViT's logits (the self-attention branch), so
// that a DCAL model is a classifier; Run gives every branch.
func (m *DCAL) Forward(x *autograd.Var) *autograd.Var { return m.Run(x, nil).SA }

// Losses returns the training loss terms of images x with their labels and
// PWCA partners (ignored without the branch): each branch's
// cross-entropy with label smoothing, weighted by dcal.Uncertainty when
// more than one branch trains, named by Branches; a lone SA branch gives
// the plain cross-entropy. raw holds the unweighted cross-entropies in
// the same order.
func (m *DCAL) Losses(x *autograd.Var, labels, partners []int, opt autograd.CrossEntropyOptions) (terms, raw []*autograd.Var) {
	if !m.Options.PWCA {
		partners = nil
	} else if partners == nil {
		panic("models: DCAL losses with PWCA need partners")
	}
	o := m.Run(x, partners)
	raw = []*autograd.Var{autograd.CrossEntropy(o.SA, labels, opt)}
	if o.GLCA != nil {
		raw = append(raw, autograd.CrossEntropy(o.GLCA, labels, opt))
	}
	if o.PWCA != nil {
		raw = append(raw, autograd.CrossEntropy(o.PWCA, labels, opt))
	}
	if m.LossWeights == nil {
		return raw, raw
	}
	return dcal.Uncertainty(raw, m.LossWeights), raw
}
