package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"argus/checkpoint"
	"argus/compiler/executor"
	"argus/compiler/onnx"
	"argus/compiler/trace"
	"argus/compiler/xgraph"
	"argus/internal/atomicfile"
	"argus/models"
	"argus/nn"
	"argus/tasks/detect"
	"argus/tasks/finegrained"
	"argus/tasks/segment"
	"argus/tensor"
	"argus/train"
)

// exportReport is the JSON printed by `argus export --json`.
type exportReport struct {
	Model      string         `json:"model"`
	Weights    string         `json:"weights"` // the checkpoint or --init file, or "random (seed S)"
	Out        string         `json:"out"`
	Bytes      int64          `json:"bytes"`
	IRVersion  int            `json:"ir_version"`
	Opset      int            `json:"opset"`
	Input      valueInfo      `json:"input"`
	Output     valueInfo      `json:"output"`
	Nodes      int            `json:"nodes"`
	Ops        map[string]int `json:"ops"`
	Parameters int            `json:"parameters"`
	// MaxAbsDiff is the largest difference between the written model,
	// read back and run by the executor, and the Argus model on the
	// traced input.
	MaxAbsDiff float64 `json:"max_abs_diff"`
	// MaxAbsOutput is the largest magnitude of the model's outputs there,
	// the scale of MaxAbsDiff.
	MaxAbsOutput float64 `json:"max_abs_output"`
	// Execution is how `argus run` executes the file: "compiled" or
	// "nodes".
	Execution string `json:"execution"`
	// Dataset is the dataset of a segmentation checkpoint whose network
	// was written (its batch norms and classifier), empty otherwise.
	Dataset string `json:"dataset,omitempty"`
	// FLOPs counts the convolutions' multiply-adds twice, per image, in
	// the written graph (batch norms folded).
	FLOPs int64 `json:"flops"`
}

// exportTolerance bounds MaxAbsDiff relative to the output's largest
// magnitude (at least 1); a larger difference fails the export.
const exportTolerance = 1e-5

func newExportCmd() *cobra.Command {
	var ckpt, model, initPath, out, size, dataset string
	var batch int
	var seed uint64
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "export (--checkpoint C | --model NAME [--init W.safetensors]) --out model.onnx",
		Short: "Write a model as an ONNX file, traced from its forward pass in evaluation mode",
		Long: `Export traces the model's forward pass in evaluation mode and writes it as
an ONNX model (IR 8, operator set 13) whose initialisers carry the
state-dict names. The model comes from a checkpoint, whose metadata names
it, or from --model with weights from --init or seeded random ones.
The written file is read back and run on the traced input; the export
fails unless it gives the Argus model's outputs.

A checkpoint of argus train segment holds a network for each of its
datasets: --dataset picks one, whose shared convolutions, own batch norms
(folded into the convolutions in the file) and classifier are written;
flops in the JSON shows that each costs what a single-dataset network does.
The pyramid's bins must divide the feature map: sides that are multiples
of 48 for bins 1, 2, 3, 6.

Models: ` + strings.Join(models.Names(), ", ") + `.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep, err := runExport(ckpt, model, initPath, out, size, dataset, batch, seed)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd, rep)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (%.1f MB): %s, input %s %s, output %s %s, %d nodes, %d parameters\n",
				rep.Out, float64(rep.Bytes)/1e6, rep.Model, rep.Input.Name, dims(rep.Input.Shape), rep.Output.Name, dims(rep.Output.Shape),
				rep.Nodes, rep.Parameters)
			fmt.Fprintf(cmd.OutOrStdout(), "read back and run (%s): max abs difference from the Argus model %.3g (outputs up to %.3g)\n",
				rep.Execution, rep.MaxAbsDiff, rep.MaxAbsOutput)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&ckpt, "checkpoint", "", "checkpoint (safetensors) whose metadata names the model")
	f.StringVar(&model, "model", "", "model name, for weights without a name (--init) or seeded random ones")
	f.StringVar(&initPath, "init", "", "weights (safetensors state dict) for --model")
	f.StringVar(&out, "out", "", "ONNX file to write")
	f.StringVar(&size, "size", "", "input height and width, H or H,W (default: the model's)")
	intFlag(f, &batch, "batch", 0, 0, 65536, "fixed batch size (0: a symbolic batch dimension N)")
	f.Uint64Var(&seed, "seed", 1, "seed of random weights and of the traced input")
	f.StringVar(&dataset, "dataset", "", "the dataset of a segmentation checkpoint whose network to write (its batch norms and classifier)")
	f.BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

// dims writes a shape with its unknown dimensions as N.
func dims(s []int) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = strconv.Itoa(d)
		if d < 0 {
			parts[i] = onnx.BatchParam
		}
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func runExport(ckpt, model, initPath, out, size, dataset string, batch int, seed uint64) (*exportReport, error) {
	if out == "" {
		return nil, fmt.Errorf("--out is required")
	}
	var weights *checkpoint.File
	var source string
	switch {
	case ckpt != "" && initPath != "":
		return nil, fmt.Errorf("give --checkpoint or --init, not both")
	case ckpt != "":
		f, err := checkpoint.ReadFile(ckpt)
		if err != nil {
			return nil, err
		}
		name := f.Metadata[checkpoint.MetaModel]
		switch {
		case name == "" && model == "":
			return nil, fmt.Errorf("%s names no model in its metadata; give --model", ckpt)
		case name != "" && model != "" && name != model:
			return nil, fmt.Errorf("%s holds model %q, not %q", ckpt, name, model)
		case name != "":
			model = name
		}
		weights, source = f, ckpt
	case model == "":
		return nil, fmt.Errorf("give --checkpoint, or --model (with --init for trained weights)")
	case initPath != "":
		f, err := checkpoint.ReadFile(initPath)
		if err != nil {
			return nil, err
		}
		if name := f.Metadata[checkpoint.MetaModel]; name != "" && name != model {
			return nil, fmt.Errorf("%s holds model %q, not %q", initPath, name, model)
		}
		weights, source = f, initPath
	default:
		source = fmt.Sprintf("random (seed %d)", seed)
	}
	for _, in := range []string{ckpt, initPath} {
		if in != "" && samePath(in, out) {
			return nil, fmt.Errorf("--out %s is the input %s; it is never overwritten", out, in)
		}
	}
	if weights != nil && weights.Metadata[finegrained.MetaDCAL] != "" {
		return exportTraced(func(rng *tensor.RNG) (nn.Layer, int, int, int, error) {
			return finegrainedExportModel(weights, source, size)
		}, model, source, out, "", batch, seed)
	}
	if weights != nil && weights.Metadata[detect.MetaCategoryIDs] != "" {
		return nil, fmt.Errorf("%s: a detector of argus train detect (%s) cannot be exported yet: its multi-level RoIAlign, dynamic convolutions and top-k have no ONNX lowering in argus; use argus predict detect or argus eval detect on the checkpoint", source, model)
	}
	spec, err := models.Lookup(model)
	if err != nil {
		return nil, err
	}
	if weights != nil {
		if c, ok := weights.Metadata[checkpoint.MetaClasses]; ok {
			// A classifier trained on its dataset's classes.
			if spec, err = models.FromMetadata(map[string]string{checkpoint.MetaModel: model, checkpoint.MetaClasses: c}); err != nil {
				return nil, fmt.Errorf("%s: %w", source, err)
			}
		}
	}
	h, w := spec.Height, spec.Width
	if size != "" {
		if h, w, err = parseSize(size); err != nil {
			return nil, err
		}
	}
	if err := spec.CheckSize(h, w); err != nil {
		return nil, err
	}
	segmenter := false
	if weights != nil {
		_, segmenter = weights.Metadata[segment.MetaLabels]
	}
	if dataset != "" && !segmenter {
		return nil, fmt.Errorf("--dataset is for checkpoints of argus train segment")
	}
	return exportTraced(func(rng *tensor.RNG) (nn.Layer, int, int, int, error) {
		if segmenter {
			m, err := segmentNetwork(weights, source, dataset)
			return m, spec.Channels, h, w, err
		}
		m, err := spec.New(rng)
		if err != nil {
			return nil, 0, 0, 0, err
		}
		if weights != nil {
			if err := models.LoadWeights(weights, m); err != nil {
				return nil, 0, 0, 0, fmt.Errorf("load %s: %w", source, err)
			}
		}
		return m, spec.Channels, h, w, nil
	}, model, source, out, dataset, batch, seed)
}

// finegrainedExportModel returns the inference network of a checkpoint of
// argus train finegrained: its ViT at the training size, PWCA dropped (it
// never runs at inference and has no weights of its own). GLCA's
// rollout-driven selection of its queries has no traced form yet, so a
// checkpoint with GLCA is refused.
func finegrainedExportModel(f *checkpoint.File, source, size string) (nn.Layer, int, int, int, error) {
	cfg := finegrained.Default()
	if err := train.StoredConfig(f, &cfg); err != nil {
		return nil, 0, 0, 0, fmt.Errorf("%s: %w", source, err)
	}
	if cfg.Options().GLCA {
		return nil, 0, 0, 0, fmt.Errorf("%s was trained with --dcal %s: GLCA's rollout-driven query selection cannot be exported yet (checkpoints of --dcal none or pwca export)", source, cfg.DCAL)
	}
	if size != "" && size != strconv.Itoa(cfg.Size) && size != fmt.Sprintf("%d,%d", cfg.Size, cfg.Size) {
		return nil, 0, 0, 0, fmt.Errorf("--size %s: %s was trained at %d×%d, the size its position embedding holds", size, source, cfg.Size, cfg.Size)
	}
	spec, err := models.FromMetadata(f.Metadata)
	if err != nil {
		return nil, 0, 0, 0, fmt.Errorf("%s: %w", source, err)
	}
	m, err := cfg.NewModel(tensor.NewRNG(0), spec.Classes)
	if err != nil {
		return nil, 0, 0, 0, fmt.Errorf("%s: %w", source, err)
	}
	if err := checkpoint.LoadModel(f, m); err != nil {
		return nil, 0, 0, 0, fmt.Errorf("load %s: %w", source, err)
	}
	return m.ViT, 3, cfg.Size, cfg.Size, nil
}

// exportTraced builds the model with build (which returns it, its input
// channels, height and width), traces it on a seeded input, checks the
// file read back against it and writes it. A dataset names the one
// dataset of a segmentation checkpoint that build returned; its batch
// norms are folded into the written graph.
func exportTraced(build func(*tensor.RNG) (nn.Layer, int, int, int, error), model, source, out, dataset string, batch int, seed uint64) (*exportReport, error) {
	rng := tensor.NewRNG(seed)
	m, channels, h, w, err := build(rng)
	if err != nil {
		return nil, err
	}
	// A symbolic batch is traced on two images (see trace.Options).
	n := batch
	if n == 0 {
		n = 2
	}
	x := rng.Uniform(-1, 1, n, channels, h, w)
	res, err := trace.Model(m, x, trace.Options{Name: model, DynamicBatch: batch == 0})
	if err != nil {
		return nil, err
	}
	if dataset != "" {
		// A dataset's network is written with its batch norms folded into
		// the convolutions: nothing of the other datasets remains, and it
		// costs what a single-dataset network costs.
		if _, err := executor.Optimize(res.Graph); err != nil {
			return nil, fmt.Errorf("fold the batch norms: %w", err)
		}
	}
	// The bytes are checked as `argus run` will read them before they are
	// written, so that a failed export leaves no file behind.
	data, err := onnx.Encode(res.Graph)
	if err != nil {
		return nil, err
	}
	rep := &exportReport{Model: model, Weights: source, Out: out, Bytes: int64(len(data)), IRVersion: onnx.IRVersion,
		Opset: res.Graph.Opset, Parameters: nn.NumParams(m)}
	g, err := onnx.Read(data)
	if err != nil {
		return nil, fmt.Errorf("read back: %w", err)
	}
	s := g.Summarize()
	rep.Nodes, rep.Ops = s.Nodes, s.Ops
	rep.Input = valueInfos(g.Inputs)[0]
	rep.Output = valueInfos(g.Outputs)[0]
	if _, err := executor.Optimize(g); err != nil {
		return nil, fmt.Errorf("read back: %w", err)
	}
	e, err := executor.New(g)
	if err != nil {
		return nil, fmt.Errorf("read back: %w", err)
	}
	rep.Dataset, rep.FLOPs = dataset, convFLOPs(g)
	rep.Execution = "compiled"
	if e.Compiled() != nil {
		rep.Execution = "nodes"
	}
	got, err := e.Run(map[string]*xgraph.Tensor{g.Inputs[0].Name: xgraph.FromDense(x)})
	if err != nil {
		return nil, fmt.Errorf("run the exported graph: %w", err)
	}
	want := res.Output.Data()
	if len(got[0].F) != len(want) {
		return nil, fmt.Errorf("the exported graph computes shape %v, the model %v", got[0].Shape, res.Output.Shape())
	}
	for i, v := range want {
		rep.MaxAbsOutput = math.Max(rep.MaxAbsOutput, math.Abs(float64(v)))
		rep.MaxAbsDiff = math.Max(rep.MaxAbsDiff, math.Abs(float64(got[0].F[i]-v)))
	}
	scale := math.Max(rep.MaxAbsOutput, 1)
	if !(rep.MaxAbsDiff <= exportTolerance*scale) {
		return nil, fmt.Errorf("the exported graph differs from the model by up to %.3g (outputs up to %.3g); %s not written", rep.MaxAbsDiff, scale, out)
	}
	if err := atomicfile.WriteFile(out, data); err != nil {
		return nil, err
	}
	return rep, nil
}

// parseSize reads "H" or "H,W".
func parseSize(s string) (h, w int, err error) {
	hs, ws, two := strings.Cut(s, ",")
	h, err = strconv.Atoi(strings.TrimSpace(hs))
	w = h
	if err == nil && two {
		w, err = strconv.Atoi(strings.TrimSpace(ws))
	}
	if err != nil || h <= 0 || w <= 0 {
		return 0, 0, fmt.Errorf("--size %q: want H or H,W in pixels", s)
	}
	return h, w, nil
}

// samePath reports whether a and b name the same file (or would).
func samePath(a, b string) bool {
	if sa, err := os.Stat(a); err == nil {
		if sb, err := os.Stat(b); err == nil {
			return os.SameFile(sa, sb)
		}
	}
	pa, err1 := filepath.Abs(a)
	pb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && pa == pb
}

// segmentNetwork returns the network of one dataset of a checkpoint of
// argus train segment: its shared convolutions with that dataset's batch
// norms and classifiers (models.PSPNet.ForDataset).
func segmentNetwork(f *checkpoint.File, source, dataset string) (nn.Layer, error) {
	l, err := segment.ParseLabels(f.Metadata)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	if dataset == "" {
		names := make([]string, len(l.Datasets))
		for i, d := range l.Datasets {
			names[i] = d.Name
		}
		return nil, fmt.Errorf("%s is a segmentation network: give --dataset (one of %s)", source, strings.Join(names, ", "))
	}
	d, err := l.Dataset(dataset)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	pm, err := segment.NewModel(tensor.NewRNG(0), l)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	if err := checkpoint.LoadModel(f, pm); err != nil {
		return nil, fmt.Errorf("load %s: %w", source, err)
	}
	return pm.ForDataset(d)
}

// convFLOPs returns twice the multiply-adds of g's convolutions for one
// image: output channels × output positions × input channels per group ×
// kernel taps, from the shapes inferred.
func convFLOPs(g *xgraph.Graph) int64 {
	var n int64
	for _, nd := range g.Nodes {
		if nd.Op != "Conv" || len(nd.Outputs) == 0 || len(nd.Inputs) < 2 || nd.Inputs[1] == nil {
			continue
		}
		out, w := nd.Outputs[0].Shape, nd.Inputs[1].Shape
		if len(out) < 3 || len(w) < 3 {
			continue
		}
		per := int64(1)
		for _, d := range out[1:] {
			per *= int64(d)
		}
		for _, d := range w[1:] {
			per *= int64(d)
		}
		n += 2 * per
	}
	return n
}
