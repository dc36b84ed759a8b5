package main

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"argus/compiler/onnx"
	"argus/compiler/quant"
	"argus/internal/progress"
)

// quantizeResult is what argus quantize reports.
type quantizeResult struct {
	Model   string         `json:"model"`
	Out     string         `json:"out,omitempty"`
	Samples int            `json:"samples"`
	Batches int            `json:"batches"`
	Layers  int            `json:"layers"`
	Ops     map[string]int `json:"ops"`
	// Positions summarises the activations' fix positions: how many
	// tensors have each position.
	Positions map[int]int `json:"positions"`
	// Params gives the positions and shifts of the layers with weights.
	Params    []paramSummary          `json:"params"`
	Legalized []quant.Change          `json:"legalized"`
	Agreement quant.Agreement         `json:"agreement"`
	Worst     quant.TensorAgreement   `json:"worst_tensor"`
	Tensors   []quant.TensorAgreement `json:"tensors"`
	// The wall time of the calibration (Quantize) and of the comparison,
	// and of the whole command.
	CalibrateSeconds float64 `json:"calibrate_seconds"`
	CompareSeconds   float64 `json:"compare_seconds"`
	Seconds          float64 `json:"seconds"`
}

// paramSummary is the quantisation of one layer's weights and bias.
type paramSummary struct {
	Layer     string `json:"layer"`
	Op        string `json:"op"`
	WeightPos int    `json:"weight_pos"`
	BiasPos   int    `json:"bias_pos"`
	ShiftCut  int    `json:"shift_cut"`
	ShiftBias int    `json:"shift_bias"`
}

// newQuantizeCmd builds argus quantize.
func newQuantizeCmd() *cobra.Command {
	var calib, out string
	var n, batch, size int
	var crop float64
	var mean, std []float32
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "quantize MODEL.onnx --calib DIR",
		Short: "Quantise a model to int8 with power-of-two fix positions for the DPU, from calibration samples",
		Long: `Reads an ONNX model, folds its batch norms, calibrates the fix position of
every weight, bias and activation on the samples in the --calib folder (JPEG
and PNG images, resized and centre-cropped to the model's input size (--crop) and
normalised with --mean and --std, made grey for a model of one input
channel, or .pb TensorProto and .safetensors
tensors, already normalised), legalises them for the DPU and writes the
quantised model (--out, a .quant file). It then runs the float model and
the quantised one in integer arithmetic on the calibration samples and
reports their agreement: the cosine similarity and top-1 agreement of the
outputs, and the cosine and relative error of every tensor.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			start := time.Now()
			g, err := onnx.Load(args[0])
			if err != nil {
				return err
			}
			pre := quant.Preprocess{Size: size, Crop: crop, Mean: mean, Std: std}
			if len(g.Inputs) == 1 && len(g.Inputs[0].Shape) == 4 {
				in := g.Inputs[0].Shape
				if size == 0 {
					pre.Size = in[2]
				}
				if pre.Grey = in[1] == 1; pre.Grey && !cmd.Flags().Changed("mean") {
					return fmt.Errorf("%s takes grey images: give --mean and --std with one value each", args[0])
				}
			}
			if pre.Size <= 0 {
				pre.Size = 224
			}
			src, err := quant.OpenSource(calib, pre, n)
			if err != nil {
				return err
			}
			errw := cmd.ErrOrStderr()
			bar := progress.New(errw, "calibrate", "img", src.Len())
			t0 := time.Now()
			bar.StartAt(t0, 0)
			m, rep, err := quant.Quantize(g, src, quant.Options{BatchSize: batch, Progress: samplesDone(bar)})
			calibrate := time.Since(t0).Seconds()
			if err != nil {
				bar.Abort()
				return fmt.Errorf("%s: %w", args[0], err)
			}
			bar.Finish()
			if out != "" {
				if err := quant.Write(out, m); err != nil {
					return err
				}
			}
			bar = progress.New(errw, "compare", "img", src.Len())
			t0 = time.Now()
			bar.StartAt(t0, 0)
			a, ts, err := quant.Compare(g, m, src, batch, samplesDone(bar))
			compare := time.Since(t0).Seconds()
			if err != nil {
				bar.Abort()
				return err
			}
			bar.Finish()
			res := quantizeResult{
				Model: filepath.Base(args[0]), Out: out, Samples: rep.Samples, Batches: rep.Batches,
				Layers: len(m.Layers), Ops: map[string]int{}, Positions: map[int]int{},
				Legalized: rep.Changes, Agreement: a, Tensors: ts,
			}
			if res.Legalized == nil {
				res.Legalized = []quant.Change{}
			}
			for _, l := range m.Layers {
				res.Ops[string(l.Op)]++
				if l.Weights != nil {
					res.Params = append(res.Params, paramSummary{l.Name, string(l.Op), l.WeightPos, l.BiasPos, l.ShiftCut, l.ShiftBias})
				}
			}
			for _, t := range m.Tensors {
				res.Positions[t.Pos]++
			}
			res.Worst = ts[0]
			for _, t := range ts {
				if t.RelError > res.Worst.RelError {
					res.Worst = t
				}
			}
			res.CalibrateSeconds, res.CompareSeconds, res.Seconds = calibrate, compare, time.Since(start).Seconds()
			if asJSON {
				return printJSON(cmd, res)
			}
			printQuantize(cmd.OutOrStdout(), res)
			return nil
		},
	}
	f := cmd.Flags()
	def := quant.ImageNet(0)
	f.StringVar(&calib, "calib", "", "folder of calibration images (.jpg, .png) or tensors (.pb, .safetensors)")
	intFlag(f, &n, "calib-n", 100, 0, noLimit, "use at most this many calibration samples (0: all)")
	intFlag(f, &batch, "batch", 8, 1, 4096, "calibration batch size; each batch votes for every activation's position")
	intFlag(f, &size, "size", 0, 0, 16384, "image side after resizing and cropping (default: the model's input size, else 224)")
	floatRangeFlag(f, &floatRange{p: &crop, min: 0, max: 1, minOpen: true}, "crop", 0.875, "fraction of the resized image's shorter side that the centre crop keeps (1: resize the shorter side to --size)")
	f.Float32SliceVar(&mean, "mean", def.Mean, "per-channel mean subtracted from images scaled to [0,1]")
	f.Float32SliceVar(&std, "std", def.Std, "per-channel standard deviation images are divided by")
	f.StringVar(&out, "out", "", "write the quantised model to this .quant file")
	f.BoolVar(&asJSON, "json", false, "print one JSON object")
	cmd.MarkFlagRequired("calib")
	return cmd
}

// printQuantize writes the report as text.
func printQuantize(w io.Writer, r quantizeResult) {
	fmt.Fprintf(w, "%s: %d layers", r.Model, r.Layers)
	ops := make([]string, 0, len(r.Ops))
	for op := range r.Ops {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for _, op := range ops {
		fmt.Fprintf(w, ", %d %s", r.Ops[op], op)
	}
	fmt.Fprintf(w, "\ncalibrated on %d samples in %d batches\n", r.Samples, r.Batches)
	pos := make([]int, 0, len(r.Positions))
	for p := range r.Positions {
		pos = append(pos, p)
	}
	sort.Ints(pos)
	fmt.Fprint(w, "activation positions:")
	for _, p := range pos {
		fmt.Fprintf(w, " %d×%d", r.Positions[p], p)
	}
	fmt.Fprint(w, "\nweight positions:")
	wp := map[int]int{}
	for _, p := range r.Params {
		wp[p.WeightPos]++
	}
	pos = pos[:0]
	for p := range wp {
		pos = append(pos, p)
	}
	sort.Ints(pos)
	for _, p := range pos {
		fmt.Fprintf(w, " %d×%d", wp[p], p)
	}
	fmt.Fprintf(w, "\nlegalisation moved %d positions\n", len(r.Legalized))
	for _, c := range r.Legalized {
		fmt.Fprintf(w, "  %s %s %s: %d -> %d (%s)\n", c.Layer, c.What, c.Tensor, c.From, c.To, c.Rule)
	}
	a := r.Agreement
	fmt.Fprintf(w, "float vs quantised on %d samples: cosine %.4f (min %.4f), top-1 agreement %.3f; centred cosine %.4f, centred top-1 %.3f\n",
		a.Images, a.CosineMean, a.CosineMin, a.Top1, a.CenteredCosine, a.CenteredTop1)
	fmt.Fprintf(w, "worst tensor %s: relative error %.4f, cosine %.4f\n", r.Worst.Name, r.Worst.RelError, r.Worst.Cosine)
	fmt.Fprintf(w, "calibration %.1f s, comparison %.1f s, in all %.1f s\n", r.CalibrateSeconds, r.CompareSeconds, r.Seconds)
	if r.Out != "" {
		fmt.Fprintf(w, "wrote %s\n", r.Out)
	}
}

// samplesDone returns the progress callback of quant.Quantize and
// quant.Compare (samples done of total) that moves bar.
func samplesDone(bar *progress.Bar) func(done, total int) {
	return func(done, _ int) { bar.Set(done) }
}
