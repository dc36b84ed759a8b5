package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"argus/autograd"
	"argus/data/loader"
	"argus/nn"
	"argus/optim"
	"argus/tasks/detect"
	"argus/tensor"
)

// Sparse R-CNN's benchmark setting: 10 classes, 5 boxes per image.
const (
	benchDetectClasses = 10
	benchDetectBoxes   = 5
)

func init() {
	for _, name := range []string{"sparse-rcnn-r18", "sparse-rcnn-r50"} {
		benchSteps[name] = benchStep{flags: detectBenchFlags, build: func(fs *pflag.FlagSet, tf *modelFlags) (builtStep, error) {
			det, cfg, b, err := detectBenchSetup(fs, tf, name)
			if err != nil {
				return builtStep{}, err
			}
			opt := optim.NewAdamW(0.9, 0.999, 1e-8, optim.NewGroup(cfg.LR, cfg.WeightDecay, nn.Parameters(det)...))
			nn.Train(det, true)
			return builtStep{classes: benchDetectClasses, step: func() {
				optim.ZeroGrad(opt)
				terms, err := det.Loss(b)
				if err != nil {
					panic(err) // the seeded batch is valid by construction
				}
				total := terms[0].Loss
				for _, t := range terms[1:] {
					total = autograd.Add(total, t.Loss)
				}
				total.Backward()
				opt.Step()
			}}, nil
		}}
		benchInfers[name] = func(cmd *cobra.Command, fs *pflag.FlagSet, inf *modelFlags) error {
			det, _, b, err := detectBenchSetup(fs, inf, name)
			if err != nil {
				return err
			}
			nn.Train(det, false)
			pass := func() {
				nn.NoGrad(det, func() {
					if _, err := det.Predict(b); err != nil {
						panic(err)
					}
				})
			}
			best, mean, cpu, err := timeLoop(inf.warmup, inf.iters, inf, pass)
			if err != nil {
				return err
			}
			rep := inferReport{
				MsPerBatch: best * 1e3, MeanMsPerBatch: mean * 1e3, CPUMsPerBatch: cpu * 1e3, ImagesPerSecond: float64(inf.batch) / best,
				Model: inf.model, Batch: inf.batch, Size: inf.size, Classes: benchDetectClasses, Iters: inf.iters, Warmup: inf.warmup,
				Threads: runtime.GOMAXPROCS(0), Engine: "autograd",
			}
			if inf.asJSON {
				return printJSON(cmd, rep)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s inference (%s), batch %d of %d×%d: %.2f ms best, %.2f ms mean (%d threads)\n",
				rep.Model, rep.Engine, rep.Batch, rep.Size, rep.Size, rep.MsPerBatch, rep.MeanMsPerBatch, rep.Threads)
			return nil
		}
	}
}

// detectBenchFlags adds --assign, --num-proposals, --width and --stages
// unless another step defined them.
func detectBenchFlags(fs *pflag.FlagSet) {
	if fs.Lookup("assign") == nil {
		fs.String("assign", "hungarian", "detectors' label assignment: hungarian or dla")
	}
	if fs.Lookup("width") == nil {
		var n int
		intFlag(fs, &n, "width", 256, 8, 4096, "Sparse R-CNN's pyramid and head width (a multiple of 8)")
	}
	if fs.Lookup("stages") == nil {
		var n int
		intFlag(fs, &n, "stages", 6, 1, 64, "Sparse R-CNN's head stages")
	}
	if fs.Lookup("num-proposals") == nil {
		var n int
		intFlag(fs, &n, "num-proposals", 100, 1, detect.MaxProposals, "Sparse R-CNN's proposals")
	}
}

// detectBenchSetup builds the named detector and a seeded batch of
// random images of tf.size with benchDetectBoxes random boxes each.
func detectBenchSetup(fs *pflag.FlagSet, tf *modelFlags, name string) (detect.Detector, detect.Config, *loader.Detection, error) {
	cfg := detect.Recipe()
	cfg.Model = name
	if f := fs.Lookup("assign"); f != nil {
		cfg.Assign = f.Value.String()
	}
	for name, p := range map[string]*int{"num-proposals": &cfg.Proposals, "width": &cfg.Width, "stages": &cfg.Stages} {
		if f := fs.Lookup(name); f != nil {
			fmt.Sscan(f.Value.String(), p)
		}
	}
	if tf.size == 0 {
		tf.size = 256
	}
	cfg.Size = tf.size
	cfg.Fill()
	if err := cfg.Validate(); err != nil {
		return nil, cfg, nil, err
	}
	det, err := detect.Build(tensor.NewRNG(tf.seed), cfg, benchDetectClasses)
	if err != nil {
		return nil, cfg, nil, err
	}
	rng := tensor.NewRNG(tf.seed + 1)
	r := rng.Rand()
	s := tf.size
	b := &loader.Detection{X: tensor.Zeros(tf.batch, 3, s, s)}
	for i := range b.X.Data() {
		b.X.Data()[i] = float32(r.NormFloat64())
	}
	for range tf.batch {
		b.Sizes = append(b.Sizes, [2]int{s, s})
		var boxes [][4]float32
		var labels []int
		for range benchDetectBoxes {
			w, h := float32(8+r.IntN(s/2)), float32(8+r.IntN(s/2))
			x, y := float32(r.IntN(s-int(w))), float32(r.IntN(s-int(h)))
			boxes = append(boxes, [4]float32{x, y, x + w, y + h})
			labels = append(labels, r.IntN(benchDetectClasses))
		}
		b.Boxes = append(b.Boxes, boxes)
		b.Labels = append(b.Labels, labels)
	}
	return det, cfg, b, nil
}
