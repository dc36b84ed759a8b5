package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"argus/data/dataset"
	"argus/data/synth"
	"argus/tasks/classify"
	"argus/train"
)

// newReproCmd groups the reproductions of the source papers' experiments.
func newReproCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "repro",
		Short: "Reproduce the source papers' comparisons on generated data",
	}
	cmd.AddCommand(newReproDeepImageCmd(), newReproDCALCmd(), newReproCDCLCmd(), newReproDynamicSparseRCNNCmd(), newReproUDAReidCmd(), newReproHPSDetCmd())
	return cmd
}

// reproRow is one compared setting: its top-1 and top-5 over the seeds.
type reproRow struct {
	Name     string      `json:"name"`
	Top1     []float64   `json:"top1"`
	Top5     []float64   `json:"top5"`
	Top1Mean float64     `json:"top1_mean"`
	Top1Std  train.Float `json:"top1_std"`
	Top5Mean float64     `json:"top5_mean"`
}

// reproTraining is one training of the reproduction.
type reproTraining struct {
	Seed            uint64  `json:"seed"`
	Name            string  `json:"name"`
	Epochs          int     `json:"epochs"`
	Seconds         float64 `json:"seconds"`
	ImagesPerSecond float64 `json:"images_per_second"`
	Checkpoint      string  `json:"checkpoint"`
}

// reproReport is the JSON printed by `argus repro deep-image --json`.
type reproReport struct {
	Preset      string          `json:"preset"`
	Seeds       int             `json:"seeds"`
	Data        string          `json:"data"`
	Classes     int             `json:"classes"`
	TrainImages int             `json:"train_images"`
	ValImages   int             `json:"val_images"`
	Model       string          `json:"model"`
	Size        int             `json:"size"`
	Scales      []int           `json:"scales"`
	Epochs      int             `json:"epochs"`
	Rows        []reproRow      `json:"rows"`
	Trainings   []reproTraining `json:"trainings"`
	Seconds     float64         `json:"seconds"`
}

func newReproDeepImageCmd() *cobra.Command {
	var preset, dataDir, out string
	var seeds int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "deep-image --preset small|medium|tiny --seeds N",
		Short: "Deep Image's comparison: standard vs Deep Image augmentation, one scale vs the multi-scale ensemble",
		Long: `Generates the fine-grained synthetic set (argus data synth finegrained, seed
0, the preset's images per class) under --out unless --data names a set,
then for each seed trains three ResNet-18s with argus train classify's
recipe: standard augmentation, Deep Image's augmentation, and Deep Image's
augmentation with multi-scale batches. It reports top-1 and top-5 (mean
and sample standard deviation over the seeds) of four settings: each model
at its training size, and the ensemble of the two Deep Image models at
the preset's test scales with flipping. Presets: small (48×48, 10 epochs,
30 images per class; one or two minutes a training on two cores), medium
(the same for 30 epochs) and tiny (a check of the pipeline in seconds).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := classify.DeepImageRepro(preset)
			if err != nil {
				return err
			}
			stderr := cmd.ErrOrStderr()
			start := time.Now()
			if dataDir == "" {
				dataDir = filepath.Join(out, "data")
				if _, err := os.Stat(dataDir); err == nil {
					fmt.Fprintf(stderr, "using the set already generated in %s\n", dataDir)
				} else if _, err := synth.FineGrained(dataDir, synth.Options{Seed: 0, Size: p.PerClass}); err != nil {
					return err
				}
			}
			trainSet, val, err := dataset.ReadImageNet(dataDir, "")
			if err != nil {
				return err
			}
			ctx, stop := signalContext(cmd)
			defer stop()
			rep := reproReport{Preset: p.Name, Seeds: seeds, Data: dataDir, Classes: len(trainSet.Classes),
				TrainImages: len(trainSet.Items), ValImages: len(val.Items), Model: p.Base.Model, Size: p.Base.Size,
				Scales: p.Scales, Epochs: p.Base.Epochs}
			rows := []reproRow{{Name: "standard, one scale"}, {Name: "deepimage, one scale"},
				{Name: "deepimage multi-scale training, one scale"}, {Name: "deepimage multi-scale ensemble (2 models, scales, flip)"}}
			for s := 1; s <= seeds; s++ {
				names, cfgs := p.Trainings(uint64(s))
				ckpts := make([]string, len(names))
				for i, cfg := range cfgs {
					dir := filepath.Join(out, fmt.Sprintf("seed%d", s), names[i])
					tr, err := classify.NewFolderTrainer(cfg, trainSet, val)
					if err != nil {
						return err
					}
					fmt.Fprintf(stderr, "seed %d: %s\n", s, names[i])
					res, err := tr.Run(ctx, train.Options{Out: dir, Progress: train.NewBar(stderr, "img")})
					if err != nil {
						return trainError(res, err)
					}
					ckpts[i] = res.Checkpoint
					t := reproTraining{Seed: uint64(s), Name: names[i], Epochs: res.Epoch, Seconds: res.Seconds, Checkpoint: res.Checkpoint}
					if res.SessionSeconds > 0 {
						t.ImagesPerSecond = float64(res.Samples) / res.SessionSeconds
					}
					rep.Trainings = append(rep.Trainings, t)
				}
				for i := range 3 {
					m, _, err := evalMember(ctx, ckpts[i], val, dataDir, nil, 50, 0, false, false)
					if err != nil {
						return err
					}
					rows[i].Top1, rows[i].Top5 = append(rows[i].Top1, m.Top1), append(rows[i].Top5, m.Top5)
				}
				var ens classify.Probs
				for _, c := range ckpts[1:] {
					_, pr, err := evalMember(ctx, c, val, dataDir, p.Scales, 50, 0, true, false)
					if err != nil {
						return err
					}
					if err := ens.Add(pr); err != nil {
						return err
					}
				}
				ens.Scale(0.5)
				sc := ens.Score()
				rows[3].Top1, rows[3].Top5 = append(rows[3].Top1, sc.Top1), append(rows[3].Top5, sc.Top5)
			}
			for i := range rows {
				rows[i].Top1Mean, rows[i].Top1Std = meanStd(rows[i].Top1)
				rows[i].Top5Mean, _ = meanStd(rows[i].Top5)
			}
			rep.Rows = rows
			rep.Seconds = time.Since(start).Seconds()
			if asJSON {
				return printJSON(cmd, rep)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "Deep Image reproduction, preset %s: %d seeds, %d classes, %d training and %d val images, %s at %d px\n",
				rep.Preset, seeds, rep.Classes, rep.TrainImages, rep.ValImages, rep.Model, rep.Size)
			for _, r := range rows {
				fmt.Fprintf(w, "  %-56s top-1 %5.1f%% ± %4.1f  top-5 %5.1f%%\n", r.Name, 100*r.Top1Mean, 100*r.Top1Std, 100*r.Top5Mean)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&preset, "preset", "small", "budget: small, medium or tiny")
	intFlag(f, &seeds, "seeds", 3, 1, 20, "number of training seeds")
	f.StringVar(&dataDir, "data", "", "dataset root in the layout of argus train classify (default: generate one under --out)")
	f.StringVar(&out, "out", "runs/repro-deep-image", "write the generated set and every run's folder under this folder")
	f.BoolVar(&asJSON, "json", false, "print one JSON object with the results")
	return cmd
}

// meanStd returns the mean and the sample standard deviation of v (NaN
// for fewer than two values).
func meanStd(v []float64) (float64, train.Float) {
	var m float64
	for _, x := range v {
		m += x
	}
	m /= float64(len(v))
	if len(v) < 2 {
		return m, train.Float(math.NaN())
	}
	var ss float64
	for _, x := range v {
		ss += (x - m) * (x - m)
	}
	return m, train.Float(math.Sqrt(ss / float64(len(v)-1)))
}
