package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"argus/data/synth"
	"argus/detect/atss"
	"argus/hpo"
	"argus/hpo/sampler"
	"argus/hpo/storage"
	"argus/tasks/detect"
	"argus/train"
)

// hpsDetSearch is one search of `argus repro hps-det`: where it ran, what
// it found and what it cost.
type hpsDetSearch struct {
	Study   string      `json:"study"`
	Data    string      `json:"data"`
	Model   string      `json:"model"`
	Size    int         `json:"size"`
	K       []int       `json:"k"`
	AP      float64     `json:"trial_ap"`
	Trials  int         `json:"trials"`
	Failed  int         `json:"failed"`
	Minutes train.Float `json:"minutes"`
}

// hpsDetReport is the JSON of `argus repro hps-det --json`.
type hpsDetReport struct {
	Preset      string           `json:"preset"`
	Seeds       int              `json:"seeds"`
	TrainImages int              `json:"train_images"`
	ValImages   int              `json:"val_images"`
	Size        int              `json:"size"`
	Width       int              `json:"width"`
	Epochs      int              `json:"epochs"`
	BestK       int              `json:"best_k"`
	Searches    []hpsDetSearch   `json:"searches"`
	Rows        []detectReproRow `json:"rows"`
	Trainings   []reproTraining  `json:"trainings"`
	Seconds     float64          `json:"seconds"`
}

// hpsDetRow is one compared training: its name, data set, model, size and
// assigner.
type hpsDetRow struct {
	name, set, model string
	size             int
	assign           string
	k                int
	search           int // index of the search whose values hps uses
}

func newReproHPSDetCmd() *cobra.Command {
	var preset, out string
	var seeds int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "hps-det --preset small|tiny --seeds N",
		Short: "HPS-Det's comparison: ATSS, fixed k, searched + dynamic positives, and their transfer",
		Long: `Generates two detection sets under --out (argus data synth detection of
the preset's size, seeds 0 and 1), then runs three searches of HPS-Det
(argus hps search's, in the SQLite study file --out/search.db, so that a
rerun resumes them): on set A with the preset's model and size, on set B
trained at the preset's transfer size (its objects fall in the size bands
in another mix), and on set A with the transfer backbone. For each seed it
trains ATSS, top-k with each k of the preset's grid, HPS with the values
searched in place, and the transfer rows: set B and the other backbone with
the values searched on A with the first model, beside the same with their
values searched in place and ATSS. It reports AP and AP50 on each set's
val2017 (mean and sample standard deviation over the seeds), the best
fixed k (by mean AP) and each search's cost. Presets: tiny (a check of the
pipeline) and small (300 images per set, 128 px, a 64-wide head, 8-epoch
trainings, 12 trials of 2 epochs per search).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := detect.HPSDetRepro(preset)
			if err != nil {
				return err
			}
			stderr := cmd.ErrOrStderr()
			start := time.Now()
			ctx, stop := signalContext(cmd)
			defer stop()
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			splits := map[string][2]*detect.Split{}
			abs := map[string]string{}
			for i, set := range []string{"a", "b"} {
				dir := filepath.Join(out, "data-"+set)
				if _, err := os.Stat(dir); err == nil {
					fmt.Fprintf(stderr, "using the set already generated in %s\n", dir)
				} else if _, err := synth.Detection(dir, synth.Options{Seed: uint64(i), Size: p.Images, Context: ctx}); err != nil {
					return err
				}
				tr, val, err := detect.ReadTrainVal(dir)
				if err != nil {
					return err
				}
				splits[set] = [2]*detect.Split{tr, val}
				if abs[set], err = filepath.Abs(dir); err != nil {
					return err
				}
			}
			st, err := storage.Open(ctx, "sqlite:"+filepath.Join(out, "search.db"))
			if err != nil {
				return err
			}
			defer st.Close()
			base := p.Base
			searches := []hpsDetSearch{
				{Study: "a-" + base.Model, Data: "a", Model: base.Model, Size: base.Size},
				{Study: "b-" + base.Model, Data: "b", Model: base.Model, Size: p.TransferSize},
				{Study: "a-" + p.TransferModel, Data: "a", Model: p.TransferModel, Size: base.Size},
			}
			host, _ := os.Hostname()
			for i := range searches {
				sr := &searches[i]
				info := hpo.StudyInfo{Name: sr.Study, Direction: hpo.Maximize, Space: atss.SearchSpace(atss.DefaultBands, p.KMin, p.KMax),
					Sampler: hpo.SamplerConfig{Name: "gp", Seed: uint64(i + 1), Startup: p.Startup}}
				s, err := hpo.Create(ctx, st, info)
				if errors.Is(err, hpo.ErrExists) {
					s, err = hpo.Load(ctx, st, sr.Study)
				}
				if err != nil {
					return err
				}
				if s.Sampler, err = sampler.New(s.Info.Sampler); err != nil {
					return err
				}
				s.MaxTrials, s.StaleAfter, s.Worker = p.Trials, 2*time.Minute, fmt.Sprintf("%s:%d", host, os.Getpid())
				fmt.Fprintf(stderr, "search %s: %d trials\n", sr.Study, p.Trials)
				sp := splits[sr.Data]
				sum, err := atss.Search(ctx, s, atss.SearchOptions{Budget: time.Duration(p.BudgetMinutes * float64(time.Minute)), Log: stderr},
					detect.SearchObjective(p.Trial(sr.Model, sr.Size), sp[0], sp[1]))
				if ctx.Err() != nil {
					return fmt.Errorf("%w in search %s; run again to resume it", train.ErrInterrupted, sr.Study)
				}
				if err != nil {
					return err
				}
				best, err := atss.Best(ctx, s, atss.DefaultBands)
				if err != nil {
					return err
				}
				if err := atss.WriteSearched(filepath.Join(out, sr.Study+".json"), best); err != nil {
					return err
				}
				sr.K, sr.AP, sr.Trials, sr.Failed, sr.Minutes = best.K, best.AP, best.Trials, sum.Failed, train.Float(sum.Elapsed.Minutes())
			}
			rows := []hpsDetRow{{name: "atss", set: "a", model: base.Model, size: base.Size, assign: "atss"}}
			for _, k := range p.Grid {
				rows = append(rows, hpsDetRow{name: fmt.Sprintf("topk k=%d", k), set: "a", model: base.Model, size: base.Size, assign: "topk", k: k})
			}
			rows = append(rows,
				hpsDetRow{name: "hps", set: "a", model: base.Model, size: base.Size, assign: "hps", search: 0},
				hpsDetRow{name: "set B: atss", set: "b", model: base.Model, size: p.TransferSize, assign: "atss"},
				hpsDetRow{name: "set B: hps from A", set: "b", model: base.Model, size: p.TransferSize, assign: "hps", search: 0},
				hpsDetRow{name: "set B: hps in place", set: "b", model: base.Model, size: p.TransferSize, assign: "hps", search: 1},
				hpsDetRow{name: p.TransferModel + ": atss", set: "a", model: p.TransferModel, size: base.Size, assign: "atss"},
				hpsDetRow{name: p.TransferModel + ": hps from " + base.Model, set: "a", model: p.TransferModel, size: base.Size, assign: "hps", search: 0},
				hpsDetRow{name: p.TransferModel + ": hps in place", set: "a", model: p.TransferModel, size: base.Size, assign: "hps", search: 2},
			)
			rep := hpsDetReport{Preset: p.Name, Seeds: seeds, TrainImages: splits["a"][0].Set.Len(), ValImages: splits["a"][1].Set.Len(),
				Size: base.Size, Width: base.Width, Epochs: base.Epochs, Searches: searches}
			res := make([]detectReproRow, len(rows))
			for s := 1; s <= seeds; s++ {
				for i, r := range rows {
					cfg := base
					cfg.Seed, cfg.Model, cfg.Size, cfg.Assign, cfg.K, cfg.Data = uint64(s), r.model, r.size, r.assign, r.k, abs[r.set]
					if r.assign == "hps" {
						cfg.SetSearched(atss.Searched{Bands: atss.DefaultBands, K: searches[r.search].K})
					}
					dir := filepath.Join(out, fmt.Sprintf("seed%d", s), fmt.Sprintf("row%02d", i))
					if err := os.RemoveAll(dir); err != nil {
						return err
					}
					sp := splits[r.set]
					tr, _, err := detect.NewTrainer(cfg, sp[0], sp[1])
					if err != nil {
						return err
					}
					fmt.Fprintf(stderr, "seed %d: %s\n", s, r.name)
					run, err := tr.Run(ctx, train.Options{Out: dir, Progress: train.NewBar(stderr, "img")})
					if err != nil {
						return trainError(run, err)
					}
					rep.Trainings = append(rep.Trainings, reproTraining{Seed: uint64(s), Name: r.name, Epochs: run.Epoch,
						Seconds: run.Seconds, Checkpoint: run.Checkpoint, ImagesPerSecond: float64(run.Samples) / max(run.SessionSeconds, 1e-9)})
					res[i].Name = r.name
					res[i].AP = append(res[i].AP, float64(run.Metrics["AP"]))
					res[i].AP50 = append(res[i].AP50, float64(run.Metrics["AP50"]))
				}
			}
			bestMean := -1.0
			for i := range res {
				res[i].APMean, res[i].APStd = meanStd(res[i].AP)
				res[i].AP50Mean, res[i].AP50Std = meanStd(res[i].AP50)
				if rows[i].assign == "topk" && res[i].APMean > bestMean {
					bestMean, rep.BestK = res[i].APMean, rows[i].k
				}
			}
			rep.Rows = res
			rep.Seconds = time.Since(start).Seconds()
			if asJSON {
				return printJSON(cmd, rep)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "HPS-Det reproduction, preset %s: %d seeds, %d training and %d val images per set, %d px\n",
				rep.Preset, seeds, rep.TrainImages, rep.ValImages, rep.Size)
			for _, sr := range searches {
				fmt.Fprintf(w, "  search %-14s k %v after %d trials (%.1f min)\n", sr.Study, sr.K, sr.Trials, float64(sr.Minutes))
			}
			for _, r := range res {
				fmt.Fprintf(w, "  %-28s AP %.4f ± %.4f  AP50 %.4f ± %.4f\n", r.Name, r.APMean, float64(r.APStd), r.AP50Mean, float64(r.AP50Std))
			}
			fmt.Fprintf(w, "  best fixed k: %d\n", rep.BestK)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&preset, "preset", "small", "budget: small or tiny")
	intFlag(f, &seeds, "seeds", 3, 1, 20, "number of training seeds")
	f.StringVar(&out, "out", "runs/repro-hps-det", "write the generated sets, the search study and every run's folder under this folder")
	f.BoolVar(&asJSON, "json", false, "print one JSON object with the results")
	return cmd
}
