package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"argus/data/synth"
	"argus/tasks/detect"
	"argus/train"
)

// detectReproRow is one compared setting: AP and AP50 over the seeds.
type detectReproRow struct {
	Name     string      `json:"name"`
	AP       []float64   `json:"AP"`
	AP50     []float64   `json:"AP50"`
	APMean   float64     `json:"AP_mean"`
	APStd    train.Float `json:"AP_std"`
	AP50Mean float64     `json:"AP50_mean"`
	AP50Std  train.Float `json:"AP50_std"`
}

// detectReproReport is the JSON of `argus repro dynamic-sparse-rcnn --json`.
type detectReproReport struct {
	Preset      string           `json:"preset"`
	Seeds       int              `json:"seeds"`
	Data        string           `json:"data"`
	Easy        bool             `json:"easy"`
	TrainImages int              `json:"train_images"`
	ValImages   int              `json:"val_images"`
	Model       string           `json:"model"`
	Size        int              `json:"size"`
	Width       int              `json:"width"`
	Stages      int              `json:"stages"`
	Proposals   int              `json:"num_proposals"`
	Epochs      int              `json:"epochs"`
	Rows        []detectReproRow `json:"rows"`
	Trainings   []reproTraining  `json:"trainings"`
	Seconds     float64          `json:"seconds"`
}

func newReproDynamicSparseRCNNCmd() *cobra.Command {
	var preset, dataDir, out string
	var seeds int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "dynamic-sparse-rcnn --preset small|medium|tiny --seeds N",
		Short: "Dynamic Sparse R-CNN's comparison: Sparse R-CNN, +DLA, +DPG and +both",
		Long: `Generates a detection set (argus data synth detection, seed 0, the preset's
number of images; --easy for tiny and small) under --out unless --data
names a COCO-layout folder,
then for each seed trains Sparse R-CNN four times with the preset's recipe:
Hungarian matching and static proposals, DLA, DPG, and DLA with DPG. It
reports AP and AP50 on val2017 (mean and sample standard deviation over
the seeds). Presets: tiny (a check of the pipeline in seconds), small
(600 easy images, 128 px, a 64-wide three-stage head, 14 epochs) and
medium (1000 images of the full set, 192 px, a 128-wide six-stage head,
24 epochs).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := detect.DynamicSparseRCNNRepro(preset)
			if err != nil {
				return err
			}
			stderr := cmd.ErrOrStderr()
			start := time.Now()
			if dataDir == "" {
				// The variant is in the folder's name, so that a set of
				// another preset is not taken for this one's.
				dataDir = filepath.Join(out, fmt.Sprintf("data-%d", p.Images))
				if p.Easy {
					dataDir += "-easy"
				}
				if _, err := os.Stat(dataDir); err == nil {
					fmt.Fprintf(stderr, "using the set already generated in %s\n", dataDir)
				} else if _, err := synth.Detection(dataDir, synth.Options{Seed: 0, Size: p.Images, Easy: p.Easy}); err != nil {
					return err
				}
			}
			trainSplit, val, err := detect.ReadTrainVal(dataDir)
			if err != nil {
				return err
			}
			abs, err := filepath.Abs(dataDir)
			if err != nil {
				return err
			}
			ctx, stop := signalContext(cmd)
			defer stop()
			b := p.Base
			rep := detectReproReport{Preset: p.Name, Seeds: seeds, Data: dataDir, Easy: p.Easy, TrainImages: trainSplit.Set.Len(), ValImages: val.Set.Len(),
				Model: b.Model, Size: b.Size, Width: b.Width, Stages: b.Stages, Proposals: b.Proposals, Epochs: b.Epochs}
			var rows []detectReproRow
			for s := 1; s <= seeds; s++ {
				names, cfgs := p.Trainings(uint64(s))
				if rows == nil {
					for _, n := range names {
						rows = append(rows, detectReproRow{Name: n})
					}
				}
				for i, cfg := range cfgs {
					cfg.Data = abs
					dir := filepath.Join(out, fmt.Sprintf("seed%d", s), names[i])
					if err := os.RemoveAll(dir); err != nil {
						return err
					}
					tr, _, err := detect.NewTrainer(cfg, trainSplit, val)
					if err != nil {
						return err
					}
					fmt.Fprintf(stderr, "seed %d: %s\n", s, names[i])
					res, err := tr.Run(ctx, train.Options{Out: dir, Progress: train.NewBar(stderr, "img")})
					if err != nil {
						return trainError(res, err)
					}
					rep.Trainings = append(rep.Trainings, reproTraining{Seed: uint64(s), Name: names[i], Epochs: res.Epoch,
						Seconds: res.Seconds, Checkpoint: res.Checkpoint, ImagesPerSecond: float64(res.Samples) / max(res.SessionSeconds, 1e-9)})
					rows[i].AP = append(rows[i].AP, float64(res.Metrics["AP"]))
					rows[i].AP50 = append(rows[i].AP50, float64(res.Metrics["AP50"]))
				}
			}
			for i := range rows {
				rows[i].APMean, rows[i].APStd = meanStd(rows[i].AP)
				rows[i].AP50Mean, rows[i].AP50Std = meanStd(rows[i].AP50)
			}
			rep.Rows = rows
			rep.Seconds = time.Since(start).Seconds()
			if asJSON {
				return printJSON(cmd, rep)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "Dynamic Sparse R-CNN reproduction, preset %s: %d seeds, %d training and %d val images, %s at %d px\n",
				rep.Preset, seeds, rep.TrainImages, rep.ValImages, rep.Model, rep.Size)
			for _, r := range rows {
				fmt.Fprintf(w, "  %-12s AP %.4f ± %.4f  AP50 %.4f ± %.4f\n", r.Name, r.APMean, float64(r.APStd), r.AP50Mean, float64(r.AP50Std))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&preset, "preset", "small", "budget: small, medium or tiny")
	intFlag(f, &seeds, "seeds", 3, 1, 20, "number of training seeds")
	f.StringVar(&dataDir, "data", "", "COCO-layout root (default: generate one under --out)")
	f.StringVar(&out, "out", "runs/repro-dynamic-sparse-rcnn", "write the generated set and every run's folder under this folder")
	f.BoolVar(&asJSON, "json", false, "print one JSON object with the results")
	return cmd
}
