package main

import (
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // image decoders for --input
	_ "image/png"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"argus/compiler/executor"
	"argus/compiler/onnx"
	"argus/compiler/xgraph"
	"argus/train"
)

// numel returns the number of elements of shape.
func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// newRunCmd builds argus run.
func newRunCmd() *cobra.Command {
	var inputs pathList
	var asJSON bool
	var model modelOptions
	var top, maxMiB int
	var mean, std []float32
	var engine, output, tname string
	cmd := &cobra.Command{
		Use:   "run MODEL|PROGRAM.dpu --input x.pb|image.png",
		Short: "Run a model on the reference executor and print its outputs (top-5 for a classifier)",
		Long: `Reads a model file (ONNX), runs the standard passes over it as argus inspect
does (--no-optimize runs the graph as imported), feeds it the --input tensors
or images and prints its outputs: the top classes of a classifier's scores,
the values of anything else.

No tensor a node makes may take more than --max-memory MiB (4096 by
default): a node asking for more (a ConstantOfShape, Expand, Tile or Resize
to a huge shape, say) fails with an error naming it and the shape, before
anything is allocated.

A compiled program (.dpu, from argus compile) runs with --engine sim (the
functional simulator on its instructions, with the cycle model's time) or
--engine quant-ref (its quantised graph on the int8 reference layers);
--out (or --output) writes its first output as a .pb tensor, and --target refuses a
program compiled for another target.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(mean) != 3 || len(std) != 3 {
				return fmt.Errorf("--mean and --std need 3 values each, got %d and %d", len(mean), len(std))
			}
			for i := range 3 {
				if m, s := float64(mean[i]), float64(std[i]); math.IsNaN(m) || math.IsInf(m, 0) || !(s > 0) || math.IsInf(s, 0) {
					return fmt.Errorf("--mean values must be finite and --std values positive and finite, got %v and %v", mean, std)
				}
			}
			if isProgram(args[0]) {
				return runProgram(cmd, args[0], inputs, mean, std, engine, output, tname, top, asJSON)
			}
			for _, name := range []string{"engine", "out", "target"} {
				if cmd.Flags().Changed(name) {
					return fmt.Errorf("--%s applies to a compiled .dpu program, not %s", name, args[0])
				}
			}
			model.maxBytes = int64(maxMiB) << 20
			g, _, err := model.load(args[0])
			if err != nil {
				return err
			}
			exec, err := executor.NewWith(g, executor.Options{MaxTensorBytes: int64(maxMiB) << 20})
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			if len(inputs) != len(g.Inputs) {
				return fmt.Errorf("the model has %d inputs, %d given with --input", len(g.Inputs), len(inputs))
			}
			feed := make(map[string]*xgraph.Tensor)
			for i, spec := range inputs {
				v := g.Inputs[i]
				path := spec
				if name, p, ok := strings.Cut(spec, "="); ok {
					path = p
					v = nil
					for _, in := range g.Inputs {
						if in.Name == name {
							v = in
						}
					}
					if v == nil {
						return fmt.Errorf("the model has no input %q", name)
					}
				}
				t, err := readInput(path, v, mean, std)
				if err != nil {
					return err
				}
				feed[v.Name] = t
			}
			start := time.Now()
			outs, err := exec.Run(feed)
			var tl *executor.TooLargeError
			if errors.As(err, &tl) && tl.Bytes >= 0 {
				return fmt.Errorf("%w (--max-memory %d)", err, maxMiB)
			}
			if err != nil {
				return err
			}
			elapsed := time.Since(start)
			res := runResult{Model: filepath.Base(args[0]), LatencyMS: float64(elapsed.Microseconds()) / 1000}
			for i, t := range outs {
				res.Outputs = append(res.Outputs, describeOutput(g.Outputs[i].Name, t, top))
			}
			// Non-finite outputs still print (null in JSON), then fail the
			// command.
			var bad error
			for _, o := range res.Outputs {
				if o.NonFinite > 0 {
					bad = fmt.Errorf("output %s holds %d NaN or infinite values of %d", o.Name, o.NonFinite, numel(o.Shape))
					break
				}
			}
			if asJSON {
				if err := printJSON(cmd, res); err != nil {
					return err
				}
				return bad
			}
			w := cmd.OutOrStdout()
			for _, o := range res.Outputs {
				fmt.Fprintf(w, "%s: %s%v\n", o.Name, o.DType, o.Shape)
				for b, hits := range o.Top {
					fmt.Fprintf(w, "  item %d:\n", b)
					for _, c := range hits {
						fmt.Fprintf(w, "    class %4d  score %9.4f  p %.4f\n", c.Class, c.Score, c.Prob)
					}
				}
				if o.Top == nil && o.Values != nil {
					fmt.Fprintf(w, "  %v\n", o.Values)
				}
			}
			fmt.Fprintf(w, "latency %.2f ms\n", res.LatencyMS)
			return bad
		},
	}
	f := cmd.Flags()
	f.Var(&inputs, "input", "input tensor (.pb TensorProto) or image (.png, .jpg), in the model's input order or as NAME=PATH; repeat for several inputs")
	f.BoolVar(&asJSON, "json", false, "print one JSON object")
	intFlag(f, &maxMiB, "max-memory", int(executor.DefaultMaxTensorBytes>>20), 1, 1<<30, "largest tensor a node may make, in MiB")
	intFlag(f, &top, "top", 5, 0, noLimit, "classes to list for a classifier output (N×K scores; 0: list values)")
	f.Float32SliceVar(&mean, "mean", []float32{0.485, 0.456, 0.406}, "per-channel mean subtracted from images scaled to [0,1]")
	f.Float32SliceVar(&std, "std", []float32{0.229, 0.224, 0.225}, "per-channel standard deviation images are divided by")
	f.StringVar(&engine, "engine", "sim", "engine for a .dpu program: sim (the simulator on its instructions) or quant-ref (its quantised graph)")
	f.StringVar(&output, "out", "", "write a .dpu program's first output to this .pb tensor")
	f.StringVar(&tname, "target", "", "refuse a .dpu program compiled for another target than this one")
	model.register(cmd)
	aliasFlags(cmd, map[string]string{"output": "out"})
	return cmd
}

// pathList is a repeatable flag collecting paths (commas are part of a
// path, unlike in pflag's string slices).
type pathList []string

// String lists the paths; it is empty for no paths, so that the help shows
// no default.
func (p *pathList) String() string     { return strings.Join(*p, ",") }
func (p *pathList) Set(s string) error { *p = append(*p, s); return nil }
func (p *pathList) Type() string       { return "path" }

type runResult struct {
	Model     string      `json:"model"`
	Outputs   []runOutput `json:"outputs"`
	LatencyMS float64     `json:"latency_ms"`
}

type runOutput struct {
	Name  string       `json:"name"`
	DType string       `json:"dtype"`
	Shape []int        `json:"shape"`
	Top   [][]classHit `json:"top,omitempty"` // per batch item
	// Values and the scores print non-finite numbers as null.
	Values []train.Float `json:"values,omitempty"`
	// NonFinite counts the output's NaN and infinite values.
	NonFinite int `json:"non_finite,omitempty"`
}

type classHit struct {
	Class int         `json:"class"`
	Score train.Float `json:"score"`
	Prob  train.Float `json:"prob"`
}

// maxPrinted bounds the values listed for an output that is not a
// classifier's scores.
const maxPrinted = 64

func describeOutput(name string, t *xgraph.Tensor, top int) runOutput {
	o := runOutput{Name: name, DType: t.DType.String(), Shape: t.Shape}
	for _, v := range t.F {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			o.NonFinite++
		}
	}
	if o.Shape == nil {
		o.Shape = []int{}
	}
	// A classifier's scores: N×K, or K for one item.
	batch, k := 1, 0
	switch len(t.Shape) {
	case 1:
		k = t.Shape[0]
	case 2:
		batch, k = t.Shape[0], t.Shape[1]
	}
	if t.DType.IsFloat() && k > 1 && top > 0 {
		for b := 0; b < batch; b++ {
			o.Top = append(o.Top, topK(t.F[b*k:(b+1)*k], top))
		}
		return o
	}
	for i := 0; i < min(t.Len(), maxPrinted); i++ {
		o.Values = append(o.Values, train.Float(t.Float(i)))
	}
	return o
}

// topK ranks scores and gives softmax probabilities beside them.
func topK(scores []float32, top int) []classHit {
	idx := make([]int, len(scores))
	m := math.Inf(-1)
	for i, v := range scores {
		idx[i] = i
		m = math.Max(m, float64(v))
	}
	var sum float64
	for _, v := range scores {
		sum += math.Exp(float64(v) - m)
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] > scores[idx[b]] })
	hits := make([]classHit, 0, top)
	for _, i := range idx[:min(top, len(scores))] {
		v := float64(scores[i])
		hits = append(hits, classHit{Class: i, Score: train.Float(v), Prob: train.Float(math.Exp(v-m) / sum)})
	}
	return hits
}

// maxImageSide bounds the sides of an image given to --input, and of the
// size a model resizes it to: 16384 pixels.
const maxImageSide = 1 << 14

// readInput reads a TensorProto file or decodes an image into a 1×3×H×W
// tensor, resized to the input's static height and width when the model
// fixes them and normalised with mean and std.
func readInput(path string, v *xgraph.Value, mean, std []float32) (*xgraph.Tensor, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".pb":
		t, _, err := onnx.ReadTensor(path)
		return t, err
	case ".png", ".jpg", ".jpeg":
	default:
		return nil, fmt.Errorf("input %s: want a .pb tensor or a .png/.jpg image", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("input: %w", err)
	}
	defer f.Close()
	// The header's size is checked before the pixels are decoded.
	ic, _, err := image.DecodeConfig(f)
	if err != nil {
		return nil, fmt.Errorf("input %s: %w", path, err)
	}
	if ic.Width < 1 || ic.Height < 1 || ic.Width > maxImageSide || ic.Height > maxImageSide {
		return nil, fmt.Errorf("input %s: image of %d×%d pixels, want 1 to %d a side", path, ic.Width, ic.Height, maxImageSide)
	}
	if _, err := f.Seek(0, 0); err != nil {
		return nil, fmt.Errorf("input %s: %w", path, err)
	}
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("input %s: %w", path, err)
	}
	b := img.Bounds()
	h, w := b.Dy(), b.Dx()
	if v.Ranked && len(v.Shape) == 4 {
		if v.Shape[1] >= 0 && v.Shape[1] != 3 {
			return nil, fmt.Errorf("input %s: model input %q takes %d channels, images give 3", path, v.Name, v.Shape[1])
		}
		if v.Shape[2] > 0 && v.Shape[3] > 0 {
			h, w = v.Shape[2], v.Shape[3]
		}
		if h > maxImageSide || w > maxImageSide {
			return nil, fmt.Errorf("input %s: model input %q asks for %d×%d images, more than %d a side", path, v.Name, h, w, maxImageSide)
		}
	}
	t := xgraph.Zero(xgraph.Float32, 1, 3, h, w)
	// Bilinear sampling with half-pixel centres.
	sy, sx := float64(b.Dy())/float64(h), float64(b.Dx())/float64(w)
	px := func(x, y int) [3]float64 {
		r, g, bl, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
		return [3]float64{float64(r) / 65535, float64(g) / 65535, float64(bl) / 65535}
	}
	for y := 0; y < h; y++ {
		fy := math.Max((float64(y)+0.5)*sy-0.5, 0)
		y0 := min(int(fy), b.Dy()-1)
		y1 := min(y0+1, b.Dy()-1)
		ty := fy - float64(y0)
		for x := 0; x < w; x++ {
			fx := math.Max((float64(x)+0.5)*sx-0.5, 0)
			x0 := min(int(fx), b.Dx()-1)
			x1 := min(x0+1, b.Dx()-1)
			tx := fx - float64(x0)
			p00, p01, p10, p11 := px(x0, y0), px(x1, y0), px(x0, y1), px(x1, y1)
			for c := 0; c < 3; c++ {
				top := p00[c]*(1-tx) + p01[c]*tx
				bot := p10[c]*(1-tx) + p11[c]*tx
				val := top*(1-ty) + bot*ty
				t.F[(c*h+y)*w+x] = float32((val - float64(mean[c])) / float64(std[c]))
			}
		}
	}
	return t, nil
}
