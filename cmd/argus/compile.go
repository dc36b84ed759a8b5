package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"argus/compiler/dpu"
	"argus/compiler/partition"
	"argus/compiler/quant"
	"argus/compiler/xgraph"
	"argus/dpu/target"
	"argus/internal/atomicfile"
	"argus/internal/progress"
)

// calibOptions are the calibration flags argus compile and argus validate
// share with argus quantize.
type calibOptions struct {
	dir         string
	n, batch    int
	size        int
	crop        float64
	mean, std   []float32
	meanChanged func() bool
}

func (o *calibOptions) register(f *pflag.FlagSet) {
	def := quant.ImageNet(0)
	f.StringVar(&o.dir, "calib", "", "folder of calibration images (.jpg, .png) or tensors (.pb, .safetensors)")
	intFlag(f, &o.n, "calib-n", 100, 0, noLimit, "use at most this many calibration samples (0: all)")
	intFlag(f, &o.batch, "batch", 8, 1, 4096, "calibration batch size; each batch votes for every activation's position")
	intFlag(f, &o.size, "size", 0, 0, 16384, "image side after resizing and cropping (default: the model's input size, else 224)")
	floatRangeFlag(f, &floatRange{p: &o.crop, min: 0, max: 1, minOpen: true}, "crop", 0.875, "fraction of the resized image's shorter side that the centre crop keeps (1: resize the shorter side to --size)")
	f.Float32SliceVar(&o.mean, "mean", def.Mean, "per-channel mean subtracted from images scaled to [0,1]")
	f.Float32SliceVar(&o.std, "std", def.Std, "per-channel standard deviation images are divided by")
	o.meanChanged = func() bool { return f.Changed("mean") }
}

// source opens the calibration folder for a model whose per-image input
// is shape (C, H, W).
func (o *calibOptions) source(model string, shape [3]int) (quant.Source, error) {
	pre := quant.Preprocess{Size: o.size, Crop: o.crop, Mean: o.mean, Std: o.std}
	if pre.Size == 0 {
		pre.Size = shape[1]
	}
	if pre.Grey = shape[0] == 1; pre.Grey && !o.meanChanged() {
		return nil, fmt.Errorf("%s takes grey images: give --mean and --std with one value each", model)
	}
	if pre.Size <= 0 {
		pre.Size = 224
	}
	return quant.OpenSource(o.dir, pre, o.n)
}

// inputShape returns the per-image shape of a graph's one NCHW input.
func inputShape(g *xgraph.Graph, model string) ([3]int, error) {
	if len(g.Inputs) != 1 {
		return [3]int{}, fmt.Errorf("%s: the compiler takes one N×C×H×W input, the model has %d inputs", model, len(g.Inputs))
	}
	if len(g.Inputs[0].Shape) != 4 {
		return [3]int{}, fmt.Errorf("%s: the compiler takes one N×C×H×W input, input %q has shape %v", model, g.Inputs[0].Name, g.Inputs[0].Shape)
	}
	s := g.Inputs[0].Shape
	if s[1] <= 0 || s[2] <= 0 || s[3] <= 0 {
		return [3]int{}, fmt.Errorf("%s: input %q has the dynamic shape %v; the DPU needs fixed channels, height and width", model, g.Inputs[0].Name, s)
	}
	return [3]int{s[1], s[2], s[3]}, nil
}

// compileResult is what argus compile reports.
type compileResult struct {
	Model string `json:"model"`
	Out   string `json:"out,omitempty"`
	*dpu.Summary
	CompileSeconds float64 `json:"compile_seconds"`
}

// newCompileCmd builds argus compile.
func newCompileCmd() *cobra.Command {
	var calib calibOptions
	var tname, out, quantOut, report string
	var asJSON, noFusion, noSchedule bool
	var model modelOptions
	cmd := &cobra.Command{
		Use:   "compile MODEL.onnx|MODEL.quant --target T --out model.dpu",
		Short: "Compile a model into a DPU program: quantise, partition, generate instructions, time them",
		Long: `Reads an ONNX model and quantises it on the --calib samples as argus quantize
does, or reads a model already quantised (.quant). The layers the target's
DPU can run (by kernel, stride, padding, weight-bank and channel limits) go
to the DPU, the others to the CPU, with the reason; consecutive layers on one
side form a subgraph. Every DPU subgraph becomes an instruction stream of row
tiles over the target's banks. The program is written to --out (a .dpu file)
and timed on the cycle model: cycles, seconds, TOPs/s and frames per second
of one image on one core, the utilisation of that core, the share of the
operations on the DPU, the CPU layers and the fused groups.

Fusion (compiler/fuse) matches templates on the layer graph and chooses the
best set of non-conflicting groups: a convolution or sum with its bias and
activation (absorbed by the quantiser), a convolution whose whole output
fits one bank group followed by the pooling or sum that reads it (the
tensor stays in the banks), and a layer saving straight into its channels
of a concatenation. --no-fusion turns the last two off.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			start := time.Now()
			if err := notAnInput("out", out, args[0]); err != nil {
				return err
			}
			if err := notAnInput("quant-out", quantOut, args[0]); err != nil {
				return err
			}
			if err := notAnInput("report", report, args[0]); err != nil {
				return err
			}
			for _, o := range []struct{ flag, path string }{{"out", out}, {"quant-out", quantOut}, {"report", report}} {
				if err := outFolder(o.flag, o.path); err != nil {
					return err
				}
			}
			t, err := target.Lookup(tname)
			if err != nil {
				return err
			}
			var m *quant.Model
			if strings.EqualFold(filepath.Ext(args[0]), ".quant") {
				if m, err = quant.Read(args[0]); err != nil {
					return err
				}
			} else {
				if calib.dir == "" {
					return fmt.Errorf("%s needs calibration samples: give --calib DIR, or compile a quantised .quant model", args[0])
				}
				g, _, err := model.load(args[0])
				if err != nil {
					return err
				}
				shape, err := inputShape(g, args[0])
				if err != nil {
					return err
				}
				src, err := calib.source(args[0], shape)
				if err != nil {
					return err
				}
				bar := progress.New(cmd.ErrOrStderr(), "calibrate", "img", src.Len())
				bar.Start(0)
				m, _, err = quant.Quantize(g, src, quant.Options{BatchSize: calib.batch, Progress: samplesDone(bar)})
				if err != nil {
					bar.Abort()
					return fmt.Errorf("%s: %w", args[0], err)
				}
				bar.Finish()
			}
			plan := partition.Split(m, t)
			p, err := dpu.Compile(m, t, plan, dpu.Options{NoFusion: noFusion, NoSchedule: noSchedule})
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			sum, err := p.Summarize()
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			if out != "" {
				if err := dpu.Write(out, p); err != nil {
					return err
				}
			}
			if quantOut != "" {
				if err := quant.Write(quantOut, m); err != nil {
					return err
				}
			}
			if report != "" {
				if err := atomicfile.Write(report, func(w io.Writer) error { return sum.WriteHTML(w, filepath.Base(args[0])) }); err != nil {
					return fmt.Errorf("write the report: %w", err)
				}
			}
			res := compileResult{Model: filepath.Base(args[0]), Out: out, Summary: sum, CompileSeconds: time.Since(start).Seconds()}
			if asJSON {
				return printJSON(cmd, res)
			}
			printCompile(cmd.OutOrStdout(), res)
			return nil
		},
	}
	f := cmd.Flags()
	calib.register(f)
	f.StringVar(&tname, "target", "zu9", "DPU target (argus dpu targets lists them)")
	f.StringVar(&out, "out", "", "write the compiled program to this .dpu file")
	f.StringVar(&report, "report", "", "write an HTML report to this file: which layers went to the DPU or the CPU and why, the fused groups, per-layer cycles")
	f.StringVar(&quantOut, "quant-out", "", "write the quantised model to this .quant file too (compile it again for another target without calibrating)")
	f.BoolVar(&noFusion, "no-fusion", false, "generate every layer on its own: no layer reads its input from the banks or saves into a concatenation (activations stay absorbed)")
	f.BoolVar(&noSchedule, "no-schedule", false, "skip the strategy search: every layer tiles into whole bank groups with its load, compute and save engines one after another")
	f.BoolVar(&asJSON, "json", false, "print one JSON object")
	model.register(cmd)
	return cmd
}

// outFolder checks, before any work, that the folder an output file goes
// into exists.
func outFolder(flag, path string) error {
	if path == "" {
		return nil
	}
	dir := filepath.Dir(path)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fmt.Errorf("--%s %s: folder %s does not exist", flag, path, dir)
	}
	return nil
}

// printCompile writes the report as text.
func printCompile(w io.Writer, r compileResult) {
	s := r.Summary
	fmt.Fprintf(w, "%s for %s: %d layers in %d subgraphs, %d instructions\n", r.Model, s.Target, s.Layers, s.Subgraphs, s.Instructions)
	fmt.Fprintf(w, "%.3g ops, %.1f%% on the DPU; %d CPU layers", float64(s.Ops), 100*s.DPUOpsShare, len(s.CPUOps))
	for _, c := range s.CPUOps {
		fmt.Fprintf(w, "\n  %s (%s): %s", c.Name, c.Op, c.Reason)
	}
	kinds := map[string]int{}
	for _, g := range s.FusedGroups {
		kinds[g.Template]++
	}
	templates := make([]string, 0, len(kinds))
	for k := range kinds {
		templates = append(templates, k)
	}
	sort.Strings(templates)
	names := make([]string, len(templates))
	for i, k := range templates {
		names[i] = fmt.Sprintf("%d %s", kinds[k], k)
	}
	fmt.Fprintf(w, "\n%d fused groups", len(s.FusedGroups))
	if len(names) > 0 {
		fmt.Fprintf(w, ": %s", strings.Join(names, ", "))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "one image on one core: %d cycles, %.3f ms, %.1f fps, %.3f TOPs/s, utilisation %.1f%%\n",
		s.Cycles, 1e3*s.Seconds, s.FPS, s.TOPs, 100*s.Utilization)
	if s.Cores > 1 {
		fmt.Fprintf(w, "one image on each of the %d cores: %d cycles, %.1f fps, %.3f TOPs/s, utilisation %.1f%%\n",
			s.Cores, s.CoresCycles, s.CoresFPS, s.CoresTOPs, 100*s.CoresUtilization)
	}
	fmt.Fprintf(w, "compiled in %.1f s\n", r.CompileSeconds)
	if r.Out != "" {
		fmt.Fprintf(w, "wrote %s\n", r.Out)
	}
}
