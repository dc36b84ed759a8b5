package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"argus/data/dataset"
	"argus/data/synth"
	reidtask "argus/tasks/reid"
	"argus/train"
)

// udaReidRow is one method in one direction over the seeds.
type udaReidRow struct {
	Method     string      `json:"method"`
	MAP        []float64   `json:"mAP"`
	MAPMean    float64     `json:"mAP_mean"`
	MAPStd     train.Float `json:"mAP_std"`
	Rank1      []float64   `json:"rank1"`
	Rank1Mean  float64     `json:"rank1_mean"`
	Rank1Std   train.Float `json:"rank1_std"`
	Purity     []float64   `json:"purity,omitempty"`
	PurityMean float64     `json:"purity_mean,omitempty"`
	NMI        []float64   `json:"nmi,omitempty"`
	NMIMean    float64     `json:"nmi_mean,omitempty"`
	Clusters   []float64   `json:"clusters,omitempty"`
}

// udaReidDirection is one source → target pair.
type udaReidDirection struct {
	Source string       `json:"source"`
	Target string       `json:"target"`
	Rows   []udaReidRow `json:"rows"`
}

// udaReidReport is the JSON printed by `argus repro uda-reid --json`.
type udaReidReport struct {
	Preset         string             `json:"preset"`
	Seeds          int                `json:"seeds"`
	Data           string             `json:"data"`
	Model          string             `json:"model"`
	Height         int                `json:"height"`
	Width          int                `json:"width"`
	Batch          int                `json:"batch"`
	Epochs         int                `json:"epochs"`
	PretrainEpochs int                `json:"pretrain_epochs"`
	Directions     []udaReidDirection `json:"directions"`
	Trainings      []reproTraining    `json:"trainings"`
	Seconds        float64            `json:"seconds"`
}

func newReproUDAReidCmd() *cobra.Command {
	var preset, dataDir, out string
	var seeds int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "uda-reid --preset small|tiny --seeds N",
		Short: "UDA re-ID's comparison: source only, CCL (the cluster-contrast loop), CCL+PDA, CCL+PDA+FA, both directions",
		Long: `Generates the synthetic re-ID domains (argus data synth reid, seed 0, the
preset's identities) under --out unless --data names such a folder, then for
each seed and each direction (domain_a → domain_b and back) trains
argus train reid's recipe at the preset's budget: source only (supervised
pre-training, evaluated on the target), CCL (the same pre-training, then
cluster-wise contrastive adaptation: cluster-contrast's loop, the baseline
without PDA and FA), CCL+PDA and CCL+PDA+FA. It reports each method's
target mAP and rank-1 (mean and sample standard deviation over the seeds)
and the final pseudo labels' purity and NMI against the true target ids.
Presets: small (a few minutes a training on two cores), tiny (a check of the
pipeline).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := reidtask.UDARepro(preset)
			if err != nil {
				return err
			}
			if err := notAnInput("out", out, dataDir); err != nil {
				return err
			}
			stderr := cmd.ErrOrStderr()
			start := time.Now()
			if dataDir == "" {
				dataDir = filepath.Join(out, "data")
				if _, err := os.Stat(dataDir); err == nil {
					fmt.Fprintf(stderr, "using the domains already generated in %s\n", dataDir)
				} else if _, err := synth.ReID(dataDir, synth.Options{Seed: 0, Size: p.Identities}); err != nil {
					return err
				}
			}
			abs, err := filepath.Abs(dataDir)
			if err != nil {
				return err
			}
			domains := map[string]*dataset.ReID{}
			for _, name := range []string{"domain_a", "domain_b"} {
				if domains[name], err = readReidDomain(abs, name); err != nil {
					return err
				}
			}
			ctx, stop := signalContext(cmd)
			defer stop()
			b := p.Base
			rep := udaReidReport{Preset: p.Name, Seeds: seeds, Data: abs, Model: b.Model, Height: b.Height, Width: b.Width,
				Batch: b.Batch, Epochs: b.Epochs, PretrainEpochs: b.UDA.PretrainEpochs}
			dirs := [][2]string{{"domain_a", "domain_b"}, {"domain_b", "domain_a"}}
			rows := make([][]udaReidRow, len(dirs))
			for i := range dirs {
				for _, m := range reidtask.ReproMethods {
					rows[i] = append(rows[i], udaReidRow{Method: m.Name})
				}
			}
			// Seed after seed, so that an interrupted reproduction leaves
			// whole seeds in its run folders.
			for s := 1; s <= seeds; s++ {
				for i, dir := range dirs {
					for j, m := range reidtask.ReproMethods {
						row := &rows[i][j]
						cfg := p.Training(m, dir[0], dir[1], uint64(s))
						cfg.Data = abs
						src, tgt := domains[dir[0]], domains[dir[1]]
						target := tgt
						if !m.UDA {
							target = nil
						}
						run, err := reidtask.NewRun(cfg, src, tgt, target, nil, stderr)
						if err != nil {
							return fmt.Errorf("%s → %s, %s, seed %d: %w", dir[0], dir[1], m.Name, s, err)
						}
						name := fmt.Sprintf("%s-%s", dir[0][len("domain_"):], dir[1][len("domain_"):])
						runDir := filepath.Join(out, fmt.Sprintf("seed%d", s), name, m.Name)
						fmt.Fprintf(stderr, "seed %d: %s → %s, %s\n", s, dir[0], dir[1], m.Name)
						res, err := run.Run(ctx, train.Options{Out: runDir, Progress: train.NewBar(stderr, "img")})
						if err != nil {
							return trainError(res, err)
						}
						rep.Trainings = append(rep.Trainings, reproTraining{Seed: uint64(s), Name: name + "/" + m.Name, Epochs: res.Epoch,
							Seconds: res.Seconds, Checkpoint: res.Checkpoint})
						row.MAP = append(row.MAP, float64(res.Metrics["mAP"]))
						row.Rank1 = append(row.Rank1, float64(res.Metrics["rank1"]))
						if m.UDA {
							row.Purity = append(row.Purity, float64(res.Metrics["purity"]))
							row.NMI = append(row.NMI, float64(res.Metrics["nmi"]))
							row.Clusters = append(row.Clusters, float64(res.Metrics["clusters"]))
						}
					}
				}
			}
			for i, dir := range dirs {
				d := udaReidDirection{Source: dir[0], Target: dir[1]}
				for _, row := range rows[i] {
					row.MAPMean, row.MAPStd = meanStd(row.MAP)
					row.Rank1Mean, row.Rank1Std = meanStd(row.Rank1)
					if row.Purity != nil {
						row.PurityMean, _ = meanStd(row.Purity)
						row.NMIMean, _ = meanStd(row.NMI)
					}
					d.Rows = append(d.Rows, row)
				}
				rep.Directions = append(rep.Directions, d)
			}
			rep.Seconds = time.Since(start).Seconds()
			if asJSON {
				return printJSON(cmd, rep)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "UDA re-ID reproduction, preset %s: %d seeds, %s at %d×%d, batch %d, %d epochs (%d of source pre-training)\n",
				rep.Preset, seeds, rep.Model, rep.Height, rep.Width, rep.Batch, rep.Epochs, rep.PretrainEpochs)
			for _, d := range rep.Directions {
				fmt.Fprintf(w, "%s → %s\n  %-12s  %-15s  %-15s  %-7s  %-7s\n", d.Source, d.Target, "method", "mAP", "rank-1", "purity", "NMI")
				for _, r := range d.Rows {
					fmt.Fprintf(w, "  %-12s  %5.1f%% ± %5.1f  %5.1f%% ± %5.1f", r.Method, 100*r.MAPMean, 100*float64(r.MAPStd), 100*r.Rank1Mean, 100*float64(r.Rank1Std))
					if r.Purity != nil {
						fmt.Fprintf(w, "  %7.3f  %7.3f", r.PurityMean, r.NMIMean)
					}
					fmt.Fprintln(w)
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&preset, "preset", "small", "budget: small or tiny")
	intFlag(f, &seeds, "seeds", 3, 1, 20, "number of training seeds")
	f.StringVar(&dataDir, "data", "", "folder holding domain_a/ and domain_b/ (default: generate them under --out)")
	f.StringVar(&out, "out", "runs/repro-uda-reid", "write the generated domains and every run's folder under this folder")
	f.BoolVar(&asJSON, "json", false, "print one JSON object with the results")
	return cmd
}
