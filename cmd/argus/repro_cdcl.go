package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"argus/compiler/executor"
	"argus/compiler/trace"
	"argus/data/synth"
	"argus/models"
	"argus/nn"
	"argus/tasks/segment"
	"argus/tensor"
	"argus/train"
)

// cdclScore is one dataset's mIoU over the seeds and the inference FLOPs
// of its network.
type cdclScore struct {
	MIoU     []float64   `json:"mIoU"`
	MIoUMean float64     `json:"mIoU_mean"`
	MIoUStd  train.Float `json:"mIoU_std"`
	AAccMean float64     `json:"aAcc_mean"`
	aAcc     []float64
	FLOPs    int64 `json:"flops"`
}

// cdclRow is one method: a score per dataset.
type cdclRow struct {
	Method   string                `json:"method"`
	Datasets map[string]*cdclScore `json:"datasets"`
}

// cdclReport is the JSON printed by `argus repro cdcl --json`.
type cdclReport struct {
	Preset    string          `json:"preset"`
	Seeds     int             `json:"seeds"`
	Data      string          `json:"data"`
	Datasets  []string        `json:"datasets"`
	Model     string          `json:"model"`
	Width     int             `json:"width"`
	Iters     int             `json:"iters"`
	Batch     int             `json:"batch"`
	Crop      int             `json:"crop"`
	FLOPsSize int             `json:"flops_size"`
	Rows      []cdclRow       `json:"rows"`
	Trainings []reproTraining `json:"trainings"`
	Seconds   float64         `json:"seconds"`
}

func newReproCDCLCmd() *cobra.Command {
	var preset, dataDir, out string
	var seeds int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "cdcl --preset small|tiny --seeds N",
		Short: "CDCL's comparison: single-dataset training, joint training with shared batch norms, and CDCL",
		Long: `Generates the synthetic street scenes (argus data synth segmentation, seed
0, the preset's images per dataset) under --out unless --data names such a
folder, then for each seed trains, with argus train segment's recipe at the
preset's budget, one single-dataset network per dataset (cityscapes,
camvid, coarse), one joint network (shared batch norms, a classifier per
label set) and one CDCL network (Dataset-Aware Blocks, Dataset Alternation
Training). Every training takes the same iterations, crops per dataset and
schedule. It reports each method's mIoU per dataset (mean and sample
standard deviation over the seeds) and the inference FLOPs of each
dataset's network, batch norms folded, at the preset's size. Presets: small
(each training about ten minutes on two cores), tiny (a check of the
pipeline).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := segment.CDCLRepro(preset)
			if err != nil {
				return err
			}
			stderr := cmd.ErrOrStderr()
			start := time.Now()
			if dataDir == "" {
				dataDir = filepath.Join(out, "data")
				if _, err := os.Stat(dataDir); err == nil {
					fmt.Fprintf(stderr, "using the scenes already generated in %s\n", dataDir)
				} else if _, err := synth.Segmentation(dataDir, synth.Options{Seed: 0, Size: p.PerDataset}); err != nil {
					return err
				}
			}
			abs, err := filepath.Abs(dataDir)
			if err != nil {
				return err
			}
			ctx, stop := signalContext(cmd)
			defer stop()
			b := p.Base
			rep := cdclReport{Preset: p.Name, Seeds: seeds, Data: abs, Datasets: p.Datasets, Model: b.Model, Width: b.Width,
				Iters: b.Iters, Batch: b.Batch, Crop: b.Crop, FLOPsSize: p.FLOPsSize}
			rows := map[string]*cdclRow{}
			for _, m := range []string{"single", "joint", "cdcl"} {
				r := &cdclRow{Method: m, Datasets: map[string]*cdclScore{}}
				for _, d := range p.Datasets {
					r.Datasets[d] = &cdclScore{}
				}
				rows[m] = r
			}
			for s := 1; s <= seeds; s++ {
				for _, t := range p.Trainings(uint64(s)) {
					cfg := t.Config
					cfg.Data = abs
					d, err := segment.OpenData(cfg)
					if err != nil {
						return err
					}
					tr, err := segment.NewTrainer(cfg, d)
					if err != nil {
						return err
					}
					dir := filepath.Join(out, fmt.Sprintf("seed%d", s), strings.ReplaceAll(t.Name, ":", "-"))
					fmt.Fprintf(stderr, "seed %d: %s\n", s, t.Name)
					res, err := tr.Run(ctx, train.Options{Out: dir, Progress: train.NewBar(stderr, "it")})
					if err != nil {
						return trainError(res, err)
					}
					rep.Trainings = append(rep.Trainings, reproTraining{Seed: uint64(s), Name: t.Name, Epochs: res.Epoch, Seconds: res.Seconds, Checkpoint: res.Checkpoint})
					row := rows[cfg.Method]
					for i, name := range cfg.Datasets {
						sc := row.Datasets[name]
						sc.MIoU = append(sc.MIoU, float64(res.Metrics[name+".mIoU"]))
						sc.aAcc = append(sc.aAcc, float64(res.Metrics[name+".aAcc"]))
						if s == 1 {
							pm := tr.Task.Module.(*models.PSPNet)
							if sc.FLOPs, err = datasetFLOPs(pm, i, p.FLOPsSize); err != nil {
								return err
							}
						}
					}
				}
			}
			for _, m := range []string{"single", "joint", "cdcl"} {
				r := rows[m]
				for _, sc := range r.Datasets {
					sc.MIoUMean, sc.MIoUStd = meanStd(sc.MIoU)
					sc.AAccMean, _ = meanStd(sc.aAcc)
				}
				rep.Rows = append(rep.Rows, *r)
			}
			rep.Seconds = time.Since(start).Seconds()
			if asJSON {
				return printJSON(cmd, rep)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "CDCL reproduction, preset %s: %d seeds, %s of width %d, %d iterations of %d crops of %d px per dataset\n",
				rep.Preset, seeds, rep.Model, rep.Width, rep.Iters, rep.Batch, rep.Crop)
			fmt.Fprintf(w, "  %-8s", "method")
			for _, d := range p.Datasets {
				fmt.Fprintf(w, "  %-26s", d+" mIoU (GFLOPs)")
			}
			fmt.Fprintln(w)
			for _, r := range rep.Rows {
				fmt.Fprintf(w, "  %-8s", r.Method)
				for _, d := range p.Datasets {
					sc := r.Datasets[d]
					fmt.Fprintf(w, "  %5.1f%% ± %4.1f (%6.3f)     ", 100*sc.MIoUMean, 100*sc.MIoUStd, float64(sc.FLOPs)/1e9)
				}
				fmt.Fprintln(w)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&preset, "preset", "small", "budget: small or tiny")
	intFlag(f, &seeds, "seeds", 3, 1, 20, "number of training seeds")
	f.StringVar(&dataDir, "data", "", "folder holding cityscapes/, camvid/ and coarse/ (default: generate them under --out)")
	f.StringVar(&out, "out", "runs/repro-cdcl", "write the generated scenes and every run's folder under this folder")
	f.BoolVar(&asJSON, "json", false, "print one JSON object with the results")
	return cmd
}

// datasetFLOPs counts the inference FLOPs of dataset d's network of m
// (models.PSPNet.ForDataset, batch norms folded) on a size×size image.
func datasetFLOPs(m *models.PSPNet, d, size int) (int64, error) {
	q, err := m.ForDataset(d)
	if err != nil {
		return 0, err
	}
	nn.Train(q, false)
	defer nn.Train(q, true)
	x := tensor.NewRNG(0).Uniform(-1, 1, 1, 3, size, size)
	res, err := trace.Model(q, x, trace.Options{Name: "pspnet"})
	if err != nil {
		return 0, fmt.Errorf("count FLOPs: %w", err)
	}
	if _, err := executor.Optimize(res.Graph); err != nil {
		return 0, fmt.Errorf("count FLOPs: %w", err)
	}
	return convFLOPs(res.Graph), nil
}
