package reid

import "fmt"

// ReproPreset is a budget of `argus repro uda-reid`: the synthetic
// domains' size and the recipe every compared training shares.
type ReproPreset struct {
	Name string
	// Identities is the synthetic domains' size knob (argus data synth
	// reid --size).
	Identities int
	// Base is the shared recipe: UDA trainings pre-train Base.UDA.
	// PretrainEpochs on the source then adapt for the rest of Base.Epochs;
	// the source-only training stops after the pre-training.
	Base Config
}

// ReproMethod is one compared setting of the reproduction.
type ReproMethod struct {
	// Name is the row's name: source-only, ccl, ccl+pda or ccl+pda+fa.
	Name string
	// UDA is false for the source-only training.
	UDA, PDA, FA bool
}

// ReproMethods are the compared settings, in the report's order. The
// cluster-contrast-style baseline (the same loop without PDA and FA) is
// the ccl row: Argus's CCL is cluster-contrast's memory and loss.
var ReproMethods = []ReproMethod{
	{Name: "source-only"},
	{Name: "ccl", UDA: true},
	{Name: "ccl+pda", UDA: true, PDA: true},
	{Name: "ccl+pda+fa", UDA: true, PDA: true, FA: true},
}

// UDARepro returns the named preset: small (each training a few minutes
// on two cores) or tiny (a check of the pipeline).
func UDARepro(name string) (ReproPreset, error) {
	c := Default()
	c.Model = "resnet18"
	c.Height, c.Width = 64, 32
	c.Instances, c.EvalBatch = 4, 64
	c.Schedule, c.Warmup = "cosine", 10
	c.UDA.K1, c.UDA.K2, c.UDA.Eps, c.UDA.MinSamples = 10, 3, 0.7, 3
	switch name {
	case "small":
		c.Batch, c.Epochs, c.UDA.PretrainEpochs = 32, 18, 12
		return ReproPreset{Name: name, Identities: 24, Base: c}, nil
	case "tiny":
		c.Batch, c.Epochs, c.UDA.PretrainEpochs = 16, 3, 1
		c.UDA.K1, c.UDA.K2, c.UDA.Eps, c.UDA.MinSamples = 6, 3, 0.9, 2
		return ReproPreset{Name: name, Identities: 12, Base: c}, nil
	}
	return ReproPreset{}, fmt.Errorf("unknown preset %q (want small or tiny)", name)
}

// Training returns the config of method m adapting source to target with
// seed.
func (p ReproPreset) Training(m ReproMethod, source, target string, seed uint64) Config {
	c := p.Base
	c.Source, c.Target, c.Seed = source, target, seed
	c.UDA.PDA, c.UDA.FA = m.PDA, m.FA
	if m.UDA {
		c.Mode = "uda"
	} else {
		c.Mode, c.Epochs = "supervised", c.UDA.PretrainEpochs
	}
	return c
}
