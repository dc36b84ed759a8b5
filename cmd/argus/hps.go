package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"argus/detect/atss"
	"argus/hpo"
	"argus/hpo/sampler"
	"argus/hpo/storage"
	"argus/tasks/detect"
	"argus/train"
)

// hpsSearchReport is the JSON printed by `argus hps search --json`.
type hpsSearchReport struct {
	Study       string        `json:"study"`
	Model       string        `json:"model"`
	Best        atss.Searched `json:"best"`
	Complete    int           `json:"complete"`
	Failed      int           `json:"failed"`
	Minutes     train.Float   `json:"minutes"`
	BudgetSpent bool          `json:"budget_spent"`
	Out         string        `json:"out"`
}

func newHPSCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "hps",
		Short: "HPS-Det: search the numbers of positives per ground truth of an ATSS detector",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newHPSSearchCmd())
	for _, name := range []string{"data", "trials", "storage", "study", "out"} {
		cmd.MarkFlagRequired(name)
	}
	return cmd
}

func newHPSSearchCmd() *cobra.Command {
	cfg := detect.Recipe()
	cfg.Model, cfg.Assign = "atss-r18", "hps"
	cfg.Epochs, cfg.Size, cfg.Width, cfg.Batch, cfg.LR, cfg.Warmup, cfg.EvalEvery = 3, 128, 64, 8, 1e-3, 50, 1000
	var dataDir, storageURL, study, out, samplerName string
	var trials, kMin, kMax, startup int
	var budget float64
	var staleAfter time.Duration
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "search --data DIR --model atss-r18 --trials N --storage URL --study S --out best.json",
		Short: "Search the positives per object-size band by short trainings (val AP)",
		Long: `Runs HPS-Det's search: each trial is a short training (--epochs, --size,
--width, --batch, --lr) of --model on DIR's train2017 with the hps assigner
of the trial's numbers of positives k0, k1, k2 (objects of sqrt(area) below
32, below 96, above; each in --k-min to --k-max), whose AP on val2017 the
study's sampler (the Gaussian-process surrogate by default) learns from.

The study lives in --storage (sqlite:PATH or postgres://...); it is made on
first use and loaded after. Several processes running this command on one
study share its --trials trials, as argus hpo run workers do; a process
killed mid-trial leaves it RUNNING until its heartbeat is older than
--stale-after, when another (or a rerun) runs it again, so a resumed search
neither loses nor repeats finished trials. --budget-minutes stops claiming
trials after so many minutes (the running trial finishes). The best
complete trial is written to --out, the file train detect --hps reads.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case !strings.HasPrefix(cfg.Model, "atss-"):
				return fmt.Errorf("--model must be an ATSS detector (atss-r18, atss-r50), got %q", cfg.Model)
			case kMin > kMax:
				return fmt.Errorf("--k-min %d exceeds --k-max %d", kMin, kMax)
			}
			if err := notAnInput("out", out, dataDir); err != nil {
				return err
			}
			if fi, err := os.Stat(out); err == nil && fi.IsDir() {
				return fmt.Errorf("--out %s is a folder", out)
			}
			if d := filepath.Dir(out); d != "" {
				if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
					return fmt.Errorf("--out %s: no folder %s", out, d)
				}
			}
			// The trials' settings are checked with placeholder values before
			// anything is read or made.
			probe := cfg
			probe.HPSBands, probe.HPSK = atss.DefaultBands, []int{kMin, kMin, kMin}
			probe.Fill()
			if err := probe.Validate(); err != nil {
				return err
			}
			sc := hpo.SamplerConfig{Name: samplerName, Seed: cfg.Seed, Startup: startup}
			if _, err := sampler.New(sc); err != nil {
				return err
			}
			trainSplit, val, err := detect.ReadTrainVal(dataDir)
			if err != nil {
				return err
			}
			ctx, stop := signalContext(cmd)
			defer stop()
			st, err := storage.Open(ctx, storageURL)
			if err != nil {
				return err
			}
			defer st.Close()
			info := hpo.StudyInfo{Name: study, Direction: hpo.Maximize, Space: atss.SearchSpace(atss.DefaultBands, kMin, kMax), Sampler: sc}
			s, err := hpo.Create(ctx, st, info)
			if errors.Is(err, hpo.ErrExists) {
				s, err = hpo.Load(ctx, st, study)
			}
			if err != nil {
				return err
			}
			if s.Sampler, err = sampler.New(s.Info.Sampler); err != nil {
				return err
			}
			host, _ := os.Hostname()
			s.MaxTrials, s.StaleAfter, s.Worker = trials, staleAfter, fmt.Sprintf("%s:%d", host, os.Getpid())
			stderr := cmd.ErrOrStderr()
			sum, err := atss.Search(ctx, s, atss.SearchOptions{Budget: time.Duration(budget * float64(time.Minute)), Log: stderr},
				detect.SearchObjective(probe, trainSplit, val))
			if ctx.Err() != nil {
				return fmt.Errorf("%w after %d complete trials; the running trial is rerun when the search is run again", train.ErrInterrupted, sum.Complete)
			}
			if err != nil {
				return err
			}
			best, err := atss.Best(ctx, s, atss.DefaultBands)
			if err != nil {
				return err
			}
			if err := atss.WriteSearched(out, best); err != nil {
				return err
			}
			rep := hpsSearchReport{Study: study, Model: cfg.Model, Best: best, Complete: sum.Complete, Failed: sum.Failed,
				Minutes: train.Float(sum.Elapsed.Minutes()), BudgetSpent: sum.BudgetSpent, Out: out}
			if asJSON {
				return printJSON(cmd, rep)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "best k %v (AP %.4f, trial %d of %d); %d trials here in %.1f min; wrote %s\n",
				best.K, best.AP, best.Trial, best.Trials, sum.Complete, sum.Elapsed.Minutes(), out)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dataDir, "data", "", "COCO-layout root (train2017 trains the trials, val2017 scores them)")
	f.StringVar(&cfg.Model, "model", cfg.Model, "detector: atss-r18 or atss-r50")
	intFlag(f, &trials, "trials", 0, 1, maxHPOTrials, "trials of the study in all (shared by every process on it)")
	f.StringVar(&storageURL, "storage", "", "study storage: sqlite:PATH or postgres://user:pass@host/db")
	f.StringVar(&study, "study", "", "study name (made on first use)")
	floatFlag(f, &budget, "budget-minutes", 0, 0, math.Inf(1), "stop claiming trials after so many minutes (0: no limit)")
	f.StringVar(&out, "out", "", "write the best trial's values here (JSON, for train detect --hps)")
	f.BoolVar(&asJSON, "json", false, "print one JSON object on stdout")
	f.StringVar(&samplerName, "sampler", "gp", "sampler of a new study: gp (surrogate), tpe or random")
	intFlag(f, &startup, "startup", 5, 1, maxHPOTrials, "random trials before the sampler's model is used (new study)")
	intFlag(f, &kMin, "k-min", 1, 1, 1<<10, "least positives per ground truth in the space (new study)")
	intFlag(f, &kMax, "k-max", 20, 1, 1<<10, "most positives per ground truth in the space (new study)")
	f.DurationVar(&staleAfter, "stale-after", 2*time.Minute, "a RUNNING trial whose heartbeat is older than this is run again")
	intFlag(f, &cfg.Epochs, "epochs", cfg.Epochs, 1, detect.MaxEpochs, "epochs of each trial's training")
	intFlag(f, &cfg.Batch, "batch", cfg.Batch, 1, detect.MaxBatch, "trial training batch size")
	intFlag(f, &cfg.Size, "size", cfg.Size, 32, detect.MaxSize, "shorter side of the images")
	intFlag(f, &cfg.Width, "width", cfg.Width, 32, 4096, "channels of the pyramid and head (a multiple of 32)")
	positiveFloatFlag(f, &cfg.LR, "lr", cfg.LR, "peak learning rate of the trials")
	f.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed of the trials' trainings and of a new study's sampler")
	intFlag(f, &cfg.Workers, "workers", 0, 0, detect.MaxWorkers, "goroutines building batches (0: one per CPU)")
	for _, name := range []string{"data", "trials", "storage", "study", "out"} {
		cmd.MarkFlagRequired(name)
	}
	return cmd
}
