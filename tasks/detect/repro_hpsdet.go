package detect

import "fmt"

// HPSDetPreset is a budget of `argus repro hps-det`: the generated sets,
// the recipe of every final training, the search's trials and the
// compared fixed k.
type HPSDetPreset struct {
	Name string
	// Images is the number of images of each generated set (argus data
	// synth detection; a fifth of them in val2017): the source set of
	// seed 0 and the transfer set of seed 1.
	Images int
	// Base is the final trainings' recipe (model, size, width, epochs).
	Base Config
	// TrialEpochs are the epochs of a search trial's training, Trials the
	// trials of each search, Startup its random trials before the
	// surrogate, BudgetMinutes its time limit (0: none), KMin and KMax
	// the range of each searched k.
	TrialEpochs, Trials, Startup int
	BudgetMinutes                float64
	KMin, KMax                   int
	// Grid are the fixed k of the topk rows.
	Grid []int
	// TransferSize is the shorter side the transfer set is trained at, so
	// that its objects fall in the size bands in another mix;
	// TransferModel the other backbone.
	TransferSize  int
	TransferModel string
}

// HPSDetRepro returns the named preset: tiny (a check of the pipeline in
// a minute) or small (300 images at 128 pixels, a 64-wide head, 8-epoch
// trainings and 2-epoch trials).
func HPSDetRepro(name string) (HPSDetPreset, error) {
	base := Recipe()
	base.Model, base.Assign = "atss-r18", "atss"
	base.LR, base.Warmup, base.LogEvery, base.EvalEvery = 1e-3, 50, 20, 1<<20
	switch name {
	case "tiny":
		base.Size, base.Width, base.Batch, base.Epochs, base.Warmup = 64, 32, 2, 1, 0
		return HPSDetPreset{Name: name, Images: 12, Base: base, TrialEpochs: 1, Trials: 2, Startup: 1, KMin: 1, KMax: 20,
			Grid: []int{3, 9}, TransferSize: 96, TransferModel: "atss-r34"}, nil
	case "small":
		base.Size, base.Width, base.Batch, base.Epochs = 128, 64, 8, 8
		return HPSDetPreset{Name: name, Images: 300, Base: base, TrialEpochs: 2, Trials: 12, Startup: 5, BudgetMinutes: 60, KMin: 1, KMax: 20,
			Grid: []int{3, 9, 16}, TransferSize: 176, TransferModel: "atss-r34"}, nil
	}
	return HPSDetPreset{}, fmt.Errorf("unknown preset %q (have tiny, small)", name)
}

// Trial returns the recipe of a search trial on model at size.
func (p HPSDetPreset) Trial(model string, size int) Config {
	c := p.Base
	c.Model, c.Size, c.Epochs = model, size, p.TrialEpochs
	return c
}
