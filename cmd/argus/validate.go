package main

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"

	"github.com/spf13/cobra"

	"argus/compiler/dpu"
	"argus/compiler/executor"
	"argus/compiler/quant"
	"argus/compiler/xgraph"
	"argus/internal/progress"
)

// validateResult is what argus validate reports.
type validateResult struct {
	Model   string `json:"model"`
	Program string `json:"program"`
	Images  int    `json:"images"`
	// Cosine is the mean over the images of the cosine similarity between
	// the float model's outputs and the simulator's; MaxAbsError the
	// largest difference of one value.
	Cosine        float64 `json:"cosine"`
	CosineMin     float64 `json:"cosine_min"`
	MaxAbsError   float64 `json:"max_abs_error"`
	Top1Agreement float64 `json:"top1_agreement"`
	// BitExact says whether the simulator gave the quant-ref engine's
	// outputs bit for bit on every image; Mismatches counts the images
	// where it did not.
	BitExact   bool `json:"bit_exact"`
	Mismatches int  `json:"mismatches"`
}

// newValidateCmd builds argus validate.
func newValidateCmd() *cobra.Command {
	var calib calibOptions
	var asJSON bool
	var model modelOptions
	cmd := &cobra.Command{
		Use:   "validate MODEL.onnx model.dpu --calib DIR",
		Short: "Check a compiled program against its float model and its quantised graph",
		Long: `Runs the samples of the --calib folder (preprocessed as argus compile does)
through the float model on the reference executor, through the compiled
program on the functional simulator, and through the quantised graph on the
quant-ref engine. Reports the cosine similarity, the largest absolute error
and the top-1 agreement of the simulator's outputs with the float ones, and
whether the simulator and the quant-ref engine agree bit for bit. Give a
folder of images the model was not calibrated on.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := dpu.Read(args[1])
			if err != nil {
				return err
			}
			g, _, err := model.load(args[0])
			if err != nil {
				return err
			}
			shape, err := inputShape(g, args[0])
			if err != nil {
				return err
			}
			if in := p.Model.Tensor(p.Model.Input); in == nil || in.Shape != shape {
				return fmt.Errorf("%s takes %v images, %s was compiled for %v", args[0], shape, args[1], in.Shape)
			}
			if len(g.Outputs) != len(p.Model.Outputs) {
				return fmt.Errorf("%s has %d outputs, %s %d", args[0], len(g.Outputs), args[1], len(p.Model.Outputs))
			}
			src, err := calib.source(args[0], shape)
			if err != nil {
				return err
			}
			exec, err := executor.New(g)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			res := validateResult{Model: filepath.Base(args[0]), Program: filepath.Base(args[1]), CosineMin: 1}
			bar := progress.New(cmd.ErrOrStderr(), "validate", "img", src.Len())
			bar.Start(0)
			for i := range src.Len() {
				x, err := quant.Batch(src, i, i+1, shape)
				if err != nil {
					bar.Abort()
					return err
				}
				fo, err := exec.Run(map[string]*xgraph.Tensor{g.Inputs[0].Name: x})
				if err != nil {
					bar.Abort()
					return err
				}
				so, _, err := p.Run(x)
				if err != nil {
					bar.Abort()
					return fmt.Errorf("%s: %w", args[1], err)
				}
				qo, err := p.Model.Run(x)
				if err != nil {
					bar.Abort()
					return err
				}
				exact := true
				for k := range so {
					exact = exact && slices.Equal(so[k].Data, qo[k].Data)
					f, s := fo[k].F, so[k].Float()
					if len(f) != len(s) {
						bar.Abort()
						return fmt.Errorf("output %d: %d float values, %d from the program", k, len(f), len(s))
					}
					for j := range f {
						res.MaxAbsError = math.Max(res.MaxAbsError, math.Abs(float64(f[j]-s[j])))
					}
					if k == 0 {
						c := quant.Cosine(f, s)
						res.Cosine += c
						res.CosineMin = math.Min(res.CosineMin, c)
						if argmax(f) == argmax(s) {
							res.Top1Agreement++
						}
					}
				}
				if !exact {
					res.Mismatches++
				}
				res.Images++
				bar.Set(i + 1)
			}
			bar.Finish()
			if res.Images > 0 {
				res.Cosine /= float64(res.Images)
				res.Top1Agreement /= float64(res.Images)
			}
			res.BitExact = res.Mismatches == 0
			if asJSON {
				return printJSON(cmd, res)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s vs %s on %d images: cosine %.4f (min %.4f), max abs error %.4g, top-1 agreement %.3f; simulator vs quant-ref bit-exact: %v (%d mismatches)\n",
				res.Program, res.Model, res.Images, res.Cosine, res.CosineMin, res.MaxAbsError, res.Top1Agreement, res.BitExact, res.Mismatches)
			return nil
		},
	}
	calib.register(cmd.Flags())
	cmd.MarkFlagRequired("calib")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	model.register(cmd)
	return cmd
}

// argmax returns the index of the largest value.
func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}
