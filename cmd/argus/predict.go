package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"

	"github.com/spf13/cobra"

	"argus/autograd"
	"argus/checkpoint"
	"argus/data/dataset"
	"argus/data/loader"
	"argus/dcal"
	"argus/models"
	"argus/nn"
	"argus/tasks/classify"
	"argus/tasks/finegrained"
	"argus/tensor"
	"argus/train"
)

// classScore is one class of a prediction.
type classScore struct {
	Class string  `json:"class"`
	Label int     `json:"label"`
	Score float64 `json:"score"`
}

// imagePrediction is one image's top classes.
type imagePrediction struct {
	Image   string       `json:"image"`
	Classes []classScore `json:"classes"`
}

// predictReport is the JSON printed by `argus predict classify --json`
// with --checkpoint.
type predictReport struct {
	Checkpoint  string            `json:"checkpoint"`
	Model       string            `json:"model"`
	DCAL        string            `json:"dcal"`
	Predictions []imagePrediction `json:"predictions"`
}

// predictTensorsReport is the JSON printed with --weights.
type predictTensorsReport struct {
	Weights string `json:"weights"`
	Out     string `json:"out"`
	Images  int    `json:"images"`
	Classes int    `json:"classes"`
	Patch   int    `json:"patch"`
	Width   int    `json:"width"`
	Depth   int    `json:"depth"`
	Heads   int    `json:"heads"`
	GridH   int    `json:"grid_h"`
	GridW   int    `json:"grid_w"`
}

func newPredictClassifyCmd() *cobra.Command {
	var ckpt, weights, input, out string
	var top, heads, workers int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "classify --checkpoint C [--top 5] IMAGE... | --weights W.safetensors --input x.safetensors --out y.safetensors",
		Short: "Classify images with a trained checkpoint, or run a timm ViT state dict on a tensor",
		Long: `With --checkpoint, classifies each IMAGE with a checkpoint of argus train
finegrained or argus train classify at its training size (the shorter side
resized to size/crop_fraction, the centre crop) and prints the --top
classes by the model's probability (for DCAL with GLCA, the mean of the SA
and GLCA probabilities).

With --weights, builds a ViT from a bare timm state dict (patch, width,
depth, MLP width, classes and grid read from the tensor shapes; heads from
--heads, default width/64), reads the tensor "input" (N×3×H×W, already
normalised; another grid than the state dict's resamples the position
embedding) from --input and writes --out with "logits" (N×classes),
"pre_logits" (N×width: the class token after the final norm) and "rollout"
(N×patches: the class row of the attention rollout, patch columns).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case ckpt != "" && weights != "":
				return fmt.Errorf("give --checkpoint or --weights, not both")
			case weights != "":
				if len(args) > 0 {
					return fmt.Errorf("--weights reads --input, not images (%d given)", len(args))
				}
				if input == "" || out == "" {
					return fmt.Errorf("--weights needs --input and --out")
				}
				if err := notAnInput("out", out, weights, input); err != nil {
					return err
				}
				rep, err := predictTensors(weights, input, out, heads)
				if err != nil {
					return err
				}
				if asJSON {
					return printJSON(cmd, rep)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%d images through a ViT of width %d, depth %d, %d classes; wrote %s\n", rep.Images, rep.Width, rep.Depth, rep.Classes, rep.Out)
				return nil
			case ckpt == "":
				return fmt.Errorf("give --checkpoint C with images, or --weights W with --input and --out")
			}
			if len(args) == 0 {
				return fmt.Errorf("no images to classify")
			}
			if input != "" || out != "" {
				return fmt.Errorf("--input and --out go with --weights")
			}
			f, err := checkpoint.ReadFile(ckpt)
			if err != nil {
				return err
			}
			set := &dataset.Set{}
			for _, a := range args {
				set.Items = append(set.Items, dataset.Item{Path: a})
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			var rep predictReport
			if _, ok := f.Metadata[finegrained.MetaDCAL]; ok {
				rep, err = predictFinegrained(ctx, ckpt, f, set, top, workers)
			} else {
				rep, err = predictClassifier(ctx, ckpt, f, set, top, workers)
			}
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd, rep)
			}
			w := cmd.OutOrStdout()
			for _, p := range rep.Predictions {
				fmt.Fprintf(w, "%s:", p.Image)
				for _, c := range p.Classes {
					fmt.Fprintf(w, " %s %.3f", c.Class, c.Score)
				}
				fmt.Fprintln(w)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&ckpt, "checkpoint", "", "checkpoint of argus train finegrained or argus train classify")
	intFlag(f, &top, "top", 5, 1, 1<<20, "classes shown per image")
	intFlag(f, &workers, "workers", 0, 0, 1<<10, "goroutines decoding images (0: one per CPU)")
	f.StringVar(&weights, "weights", "", "bare timm ViT state dict (safetensors) to run on --input")
	f.StringVar(&input, "input", "", "safetensors file holding the tensor input (N×3×H×W, normalised), with --weights")
	f.StringVar(&out, "out", "", "write logits, pre_logits and rollout to this safetensors file, with --weights")
	intFlag(f, &heads, "heads", 0, 0, 1<<12, "attention heads of the --weights ViT (0: width/64)")
	f.BoolVar(&asJSON, "json", false, "print one JSON object with the results")
	return cmd
}

// predictFinegrained classifies the images of set with the checkpoint f
// of argus train finegrained.
func predictFinegrained(ctx context.Context, ckpt string, f *checkpoint.File, set *dataset.Set, top, workers int) (predictReport, error) {
	m, cfg, _, err := finegrainedModel(ckpt, f)
	if err != nil {
		return predictReport{}, err
	}
	names, err := classNames(ckpt, f.Metadata[finegrained.MetaClassNames], m.ViT.Config.Classes)
	if err != nil {
		return predictReport{}, err
	}
	set.Transform = cfg.EvalTransform()
	rep := predictReport{Checkpoint: ckpt, Model: cfg.Model, DCAL: m.Options.String()}
	nn.Train(m, false)
	err = finegrained.Predict(ctx, m, set, 16, workers, false, func(b *loader.Images, p finegrained.Prediction) error {
		for i, path := range b.Paths {
			rep.Predictions = append(rep.Predictions, imagePrediction{Image: path, Classes: topClasses(p.P[i*p.Classes:(i+1)*p.Classes], names, top)})
		}
		return nil
	})
	return rep, err
}

// predictClassifier classifies the images of set with the checkpoint f
// of argus train classify, at its evaluation view.
func predictClassifier(ctx context.Context, ckpt string, f *checkpoint.File, set *dataset.Set, top, workers int) (predictReport, error) {
	spec, err := models.FromMetadata(f.Metadata)
	if err != nil {
		return predictReport{}, fmt.Errorf("%s: %w", ckpt, err)
	}
	cfg := classify.ImageNet()
	if err := train.StoredConfig(f, &cfg); err != nil {
		return predictReport{}, fmt.Errorf("%s: %w", ckpt, err)
	}
	names, err := classNames(ckpt, f.Metadata[classify.MetaClassNames], spec.Classes)
	if err != nil {
		return predictReport{}, err
	}
	m, err := spec.New(tensor.NewRNG(0))
	if err != nil {
		return predictReport{}, err
	}
	if err := models.LoadWeights(f, m); err != nil {
		return predictReport{}, fmt.Errorf("load %s: %w", ckpt, err)
	}
	set.Transform = cfg.EvalTransform(cfg.Size)
	nn.Train(m, false)
	p, err := classify.Probabilities(ctx, set, 16, workers, false, func(x *tensor.Tensor) ([]float32, error) {
		var out []float32
		nn.NoGrad(m, func() { out = m.Forward(autograd.Const(x)).Value().Data() })
		return out, nil
	})
	if err != nil {
		return predictReport{}, err
	}
	rep := predictReport{Checkpoint: ckpt, Model: spec.Name, DCAL: "none"}
	for i, it := range set.Items {
		rep.Predictions = append(rep.Predictions, imagePrediction{Image: it.Path, Classes: topClasses(p.P[i*p.Classes:(i+1)*p.Classes], names, top)})
	}
	return rep, nil
}

// classNames decodes a checkpoint's class names (a JSON array) and checks
// that it names classes classes.
func classNames(path, meta string, classes int) ([]string, error) {
	var names []string
	if err := json.Unmarshal([]byte(meta), &names); err != nil || len(names) != classes {
		return nil, fmt.Errorf("%s: its class names do not match its %d classes", path, classes)
	}
	return names, nil
}

// topClasses returns the n most probable classes of p, ties to the lower
// label.
func topClasses(p []float64, names []string, n int) []classScore {
	idx := make([]int, len(p))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case p[a] > p[b]:
			return -1
		case p[a] < p[b]:
			return 1
		}
		return 0
	})
	out := make([]classScore, 0, min(n, len(p)))
	for _, i := range idx[:min(n, len(p))] {
		out = append(out, classScore{Class: names[i], Label: i, Score: p[i]})
	}
	return out
}

// predictTensors runs the ViT of a timm state dict on the tensor input of
// a safetensors file and writes its logits, pre-logits and rollout.
func predictTensors(weights, input, out string, heads int) (predictTensorsReport, error) {
	rep := predictTensorsReport{Weights: weights, Out: out}
	wf, err := checkpoint.ReadFile(weights)
	if err != nil {
		return rep, err
	}
	c, err := models.ViTConfigFromState(wf, heads)
	if err != nil {
		return rep, fmt.Errorf("%s: %w", weights, err)
	}
	inf, err := checkpoint.ReadFile(input)
	if err != nil {
		return rep, err
	}
	e, ok := inf.Tensors["input"]
	if !ok {
		return rep, fmt.Errorf("%s holds no tensor named input", input)
	}
	x, err := e.Float32()
	if err != nil {
		return rep, fmt.Errorf("%s: input: %w", input, err)
	}
	s := x.Shape()
	if len(s) != 4 || s[0] < 1 || s[1] != c.Channels || s[2] < c.Patch || s[3] < c.Patch {
		return rep, fmt.Errorf("%s: input is %v, want N×%d×H×W with H and W at least the patch of %d", input, s, c.Channels, c.Patch)
	}
	for _, v := range x.Data() {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return rep, fmt.Errorf("%s: input holds non-finite values", input)
		}
	}
	c.GridH, c.GridW = s[2]/c.Patch, s[3]/c.Patch
	v, err := models.NewViT(tensor.NewRNG(0), c)
	if err != nil {
		return rep, fmt.Errorf("%s: %w", weights, err)
	}
	if err := models.LoadWeights(wf, v); err != nil {
		return rep, fmt.Errorf("load %s: %w", weights, err)
	}
	nn.Train(v, false)
	var logits, pre *autograd.Var
	var attn []*tensor.Tensor
	nn.NoGrad(v, func() {
		var tokens *autograd.Var
		tokens, attn = v.Features(autograd.Const(x))
		pre = models.PreLogits(tokens)
		logits = v.Head.Forward(pre)
	})
	of := checkpoint.NewFile()
	for _, t := range []struct {
		name string
		v    *tensor.Tensor
	}{{"logits", logits.Value()}, {"pre_logits", pre.Value()}, {"rollout", dcal.Rollout(attn)}} {
		if err := of.Add(t.name, checkpoint.Float32Entry(t.v)); err != nil {
			return rep, err
		}
	}
	if err := checkpoint.WriteFile(out, of); err != nil {
		return rep, err
	}
	rep.Images, rep.Classes, rep.Patch, rep.Width, rep.Depth, rep.Heads, rep.GridH, rep.GridW =
		s[0], c.Classes, c.Patch, c.Dim, c.Depth, c.Heads, c.GridH, c.GridW
	return rep, nil
}
