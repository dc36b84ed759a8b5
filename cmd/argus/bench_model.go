package main

import (
	"argus/internal/cputime"
	"bytes"
	"fmt"
	"maps"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"argus/autograd"
	"argus/compiler/trace"
	"argus/compiler/xgraph"
	"argus/internal/atomicfile"
	"argus/models"
	"argus/nn"
	"argus/optim"
	"argus/tensor"
)

// trainStepReport is the JSON printed by `argus bench train-step --json`.
type trainStepReport struct {
	SecondsPerStep     float64 `json:"seconds_per_step"`
	ImagesPerSecond    float64 `json:"images_per_second"`
	MeanSecondsPerStep float64 `json:"mean_seconds_per_step"`
	// CPUSecondsPerStep is the process's CPU time per timed step (zero
	// where unavailable): about what a step costs on one otherwise idle
	// core, whatever else shares the machine.
	CPUSecondsPerStep float64 `json:"cpu_seconds_per_step"`
	Model             string  `json:"model"`
	Classes           int     `json:"classes"`
	Batch             int     `json:"batch"`
	Size              int     `json:"size"`
	// Width is the image width of --size HxW (absent: square images).
	Width   int `json:"width,omitempty"`
	Iters   int `json:"iters"`
	Warmup  int `json:"warmup"`
	Threads int `json:"threads"`
}

// inferReport is the JSON printed by `argus bench infer --json`.
type inferReport struct {
	MsPerBatch     float64 `json:"ms_per_batch"`
	MeanMsPerBatch float64 `json:"mean_ms_per_batch"`
	// CPUMsPerBatch is the process's CPU time per timed batch (zero where
	// unavailable).
	CPUMsPerBatch   float64 `json:"cpu_ms_per_batch"`
	ImagesPerSecond float64 `json:"images_per_second"`
	Model           string  `json:"model"`
	Batch           int     `json:"batch"`
	Size            int     `json:"size"`
	Classes         int     `json:"classes"`
	Iters           int     `json:"iters"`
	Warmup          int     `json:"warmup"`
	Threads         int     `json:"threads"`
	// Engine is "compiled" (infer.Net: folded batch norm, fused NHWC
	// convolutions) or "autograd" (the training graph under nn.NoGrad).
	Engine string `json:"engine"`
}

// benchModel is a network under measurement: its module, its input
// channels and its number of classes.
type benchModel struct {
	mod      nn.Module
	forward  func(*autograd.Var) *autograd.Var
	channels int
	classes  int
	// compile builds the model's inference for h×w images and returns
	// the function that runs it on a batch.
	compile func(h, w int) (func(x *tensor.Tensor) error, error)
}

// newBenchModel builds the named model of the registry for images of the
// given size, with the given number of classes (0: the model's).
func newBenchModel(name string, size, classes int, seed uint64) (benchModel, error) {
	spec, err := models.Lookup(name)
	if err != nil {
		return benchModel{}, err
	}
	if classes != 0 {
		if spec, err = spec.WithClasses(classes); err != nil {
			return benchModel{}, fmt.Errorf("--classes: %w", err)
		}
	}
	if err := spec.CheckSize(size, size); err != nil {
		return benchModel{}, err
	}
	if classes == 0 {
		classes = spec.Classes
	}
	m, err := spec.New(tensor.NewRNG(seed))
	if err != nil {
		return benchModel{}, err
	}
	bm := benchModel{mod: m, forward: m.Forward, channels: spec.Channels, classes: classes}
	if mn, ok := m.(*models.MNISTNet); ok {
		// A hand-written translation, until the executor's compiled path
		// takes this network's export (see MNISTNet.Inference).
		bm.compile = func(int, int) (func(*tensor.Tensor) error, error) {
			net, err := mn.Inference()
			if err != nil {
				return nil, err
			}
			return func(x *tensor.Tensor) error { _, err := net.Run(x); return err }, nil
		}
		return bm, nil
	}
	// The traced graph on the executor's compiled path: folded batch norm,
	// fused channels-last convolutions.
	bm.compile = func(h, w int) (func(*tensor.Tensor) error, error) {
		e, err := trace.Compile(m, []int{1, spec.Channels, h, w})
		if err != nil {
			return nil, err
		}
		if err := e.Compiled(); err != nil {
			return nil, err
		}
		return func(x *tensor.Tensor) error {
			_, err := e.Run(map[string]*xgraph.Tensor{"input": xgraph.FromDense(x)})
			return err
		}, nil
	}
	return bm, nil
}

// Bounds of the benchmarks' batch and image size.
const (
	maxBenchBatch = 1 << 16
	maxBenchSize  = 1 << 14
)

// modelFlags are the flags shared by train-step and infer.
type modelFlags struct {
	model                               string
	batch, size, iters, warmup, classes int
	// width is the image width of --size HxW, 0 for a square --size.
	width      int
	seed       uint64
	asJSON     bool
	cpuProfile string
	engine     string
}

func (f *modelFlags) register(fs *pflag.FlagSet, batch, iters int) {
	fs.StringVar(&f.model, "model", "resnet18", "network: "+strings.Join(models.Names(), ", "))
	intFlag(fs, &f.batch, "batch", batch, 1, maxBenchBatch, "images per step")
	fs.Var(&sizeValue{h: &f.size, w: &f.width, max: maxBenchSize}, "size", "image height and width, or HxW for the re-ID steps (0: 28 for mnist-cnn, 224 for the ViTs, 64 for resnet training, 224 for resnet inference; "+intRangeText(0, maxBenchSize)+")")
	intFlag(fs, &f.classes, "classes", 0, 0, 1<<20, "outputs of the model's head (0: the model's, 1000 for the ResNets and ViTs)")
	intFlag(fs, &f.iters, "iters", iters, 1, noLimit, "timed iterations")
	intFlag(fs, &f.warmup, "warmup", 2, 0, noLimit, "untimed iterations first")
	fs.Uint64Var(&f.seed, "seed", 1, "seed of the weights, images and labels")
	fs.BoolVar(&f.asJSON, "json", false, "print one JSON object")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a pprof CPU profile of the timed iterations to this file")
}

// profile starts a CPU profile of the timed iterations when one was asked
// for, and returns the function that stops it and writes the profile. The
// profile is gathered in memory so that the file is written whole, once.
func (f *modelFlags) profile() (stop func() error, err error) {
	if f.cpuProfile == "" {
		return func() error { return nil }, nil
	}
	var buf bytes.Buffer
	if err := pprof.StartCPUProfile(&buf); err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		return atomicfile.WriteFile(f.cpuProfile, buf.Bytes())
	}, nil
}

// check validates the flags and fills in the default size.
func (f *modelFlags) check(defSize int) error {
	if f.size == 0 {
		f.size = defSize
		// Models of one input size (the MNIST CNN, the ViTs' position
		// embedding) run at it.
		if spec, err := models.Lookup(f.model); err == nil && spec.FixedSize {
			f.size = spec.Height
		}
	}
	if _, ok := benchSteps[f.model]; !ok && f.width != 0 && f.width != f.size {
		return fmt.Errorf("--size %dx%d: model %s takes a square --size", f.size, f.width, f.model)
	}
	// The flags bound each factor, so the product cannot overflow.
	if f.batch*f.size*max(f.width, f.size) > 1<<28 {
		return fmt.Errorf("--batch %d of %d×%d images is too large (at most 2^28 pixels a channel)", f.batch, f.size, f.size)
	}
	return nil
}

// sizeValue is the --size flag: one side in pixels, or HxW (the re-ID
// steps' 256x128), each side bounded as intFlag bounds it; a single side
// leaves the width 0.
type sizeValue struct {
	h, w *int
	max  int
}

func (v *sizeValue) String() string {
	if v.h == nil {
		return "0"
	}
	if *v.w == 0 {
		return strconv.Itoa(*v.h)
	}
	return fmt.Sprintf("%dx%d", *v.h, *v.w)
}

func (v *sizeValue) Set(s string) error {
	hs, ws, ok := strings.Cut(strings.ToLower(s), "x")
	var h, w int
	if err := (&intRange{p: &h, min: 0, max: v.max}).Set(hs); err != nil {
		return err
	}
	if ok {
		if err := (&intRange{p: &w, min: 1, max: v.max}).Set(ws); err != nil {
			return fmt.Errorf("width: %w", err)
		}
	}
	*v.h, *v.w = h, w
	return nil
}

func (v *sizeValue) Type() string { return "size" }

// inputs returns seeded images in [0, 1) and labels for one batch.
func (f *modelFlags) inputs(m benchModel) (*tensor.Tensor, []int) {
	rng := tensor.NewRNG(f.seed + 1)
	x := rng.Uniform(0, 1, f.batch, m.channels, f.size, f.size)
	y := make([]int, f.batch)
	for i := range y {
		y[i] = rng.Rand().IntN(m.classes)
	}
	return x, y
}

// timeLoop runs fn warmup times, then iters timed times, and returns the
// fastest and the mean duration and the mean CPU time, in seconds.
func timeLoop(warmup, iters int, f *modelFlags, fn func()) (best, mean, cpu float64, err error) {
	for range warmup {
		fn()
	}
	stop, err := f.profile()
	if err != nil {
		return 0, 0, 0, err
	}
	cpu0, cpuOK := cputime.Seconds(), cputime.Known
	ts := make([]float64, iters)
	var total float64
	for i := range ts {
		start := time.Now()
		fn()
		ts[i] = time.Since(start).Seconds()
		total += ts[i]
	}
	if cpu1 := cputime.Seconds(); cpuOK {
		cpu = (cpu1 - cpu0) / float64(iters)
	}
	if err := stop(); err != nil {
		return 0, 0, 0, err
	}
	return slices.Min(ts), total / float64(iters), cpu, nil
}

// newBenchTrainStepCmd builds argus bench train-step.
func newBenchTrainStepCmd() *cobra.Command {
	var tf modelFlags
	cmd := &cobra.Command{
		Use:   "train-step --model resnet18|mnist-cnn|deit-tiny --batch B --size S [--classes K]",
		Short: "Time one training step (forward, loss, backward, SGD update)",
		Long: `Times full training steps of a network on one seeded batch of random images
and labels: zero the gradients, forward, cross-entropy, backward, and an SGD
step (lr 0.01, momentum 0.9): the step of argus train classify and argus
train mnist, without data loading (--classes sizes the classifier as
train classify does for a dataset). After --warmup untimed steps, --iters steps are
timed one by one; seconds_per_step is the fastest, since other work on the
machine only ever slows a step down, and mean_seconds_per_step the mean.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := tf.check(64); err != nil {
				return err
			}
			var step func()
			classes := 0
			if sb, ok := benchSteps[tf.model]; ok {
				st, err := sb.build(cmd.Flags(), &tf)
				if err != nil {
					return err
				}
				step, classes = st.step, st.classes
			} else {
				m, err := newBenchModel(tf.model, tf.size, tf.classes, tf.seed)
				if err != nil {
					return err
				}
				x, y := tf.inputs(m)
				in := autograd.Const(x)
				opt := optim.NewSGD(0.9, 0, false, optim.NewGroup(0.01, 0, nn.Parameters(m.mod)...))
				nn.Train(m.mod, true)
				classes = m.classes
				step = func() {
					optim.ZeroGrad(opt)
					loss := autograd.CrossEntropy(m.forward(in), y, autograd.CrossEntropyOptions{})
					loss.Backward()
					opt.Step()
				}
			}
			best, mean, cpu, err := timeLoop(tf.warmup, tf.iters, &tf, step)
			if err != nil {
				return err
			}
			rep := trainStepReport{
				SecondsPerStep: best, ImagesPerSecond: float64(tf.batch) / best, MeanSecondsPerStep: mean, CPUSecondsPerStep: cpu,
				Model: tf.model, Batch: tf.batch, Size: tf.size, Width: tf.width, Classes: classes, Iters: tf.iters, Warmup: tf.warmup,
				Threads: runtime.GOMAXPROCS(0),
			}
			if tf.asJSON {
				return printJSON(cmd, rep)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s train step, batch %d of %d×%d: %.4f s best, %.4f s mean, %.1f img/s (%d threads)\n",
				rep.Model, rep.Batch, rep.Size, rep.Size, rep.SecondsPerStep, rep.MeanSecondsPerStep, rep.ImagesPerSecond, rep.Threads)
			return nil
		},
	}
	tf.register(cmd.Flags(), 32, 10)
	for _, name := range slices.Sorted(maps.Keys(benchSteps)) {
		if f := benchSteps[name].flags; f != nil {
			f(cmd.Flags())
		}
	}
	return cmd
}

// A benchStep is the training step of one system (a detector, a
// segmentation or re-ID network) that argus bench train-step times in
// place of the classification step: its own loss, targets and optimiser.
type benchStep struct {
	// flags registers the step's own flags on the train-step command (nil:
	// none). A flag name is shared by every step that registers it, so a
	// step that reuses another's flag must give it the same meaning.
	flags func(fs *pflag.FlagSet)
	// build returns the step for the parsed flags.
	build func(fs *pflag.FlagSet, tf *modelFlags) (builtStep, error)
}

// builtStep is one system's training step on a seeded batch.
type builtStep struct {
	// step runs one full training step: zero gradients, forward, loss,
	// backward, optimiser update.
	step func()
	// classes is the number of classes the step's head predicts.
	classes int
}

// benchSteps are the training steps by model name. Each system's file
// adds its models in an init function; names not here take the
// classification step on the models registry.
var benchSteps = map[string]benchStep{}

// benchInfers are the inference benchmarks by model name that do not go
// through the models registry (detectors); each times and reports itself.
var benchInfers = map[string]func(cmd *cobra.Command, fs *pflag.FlagSet, inf *modelFlags) error{}

// newBenchInferCmd builds argus bench infer.
func newBenchInferCmd() *cobra.Command {
	var inf modelFlags
	var onnxPath string
	cmd := &cobra.Command{
		Use:   "infer --model resnet18 --batch 1 --size 224",
		Short: "Time inference (forward in evaluation mode, no gradients)",
		Long: `Times the forward pass of a network in evaluation mode without recording
gradients, on one seeded batch of random images. After --warmup untimed
passes, --iters passes are timed one by one; ms_per_batch is the fastest and
mean_ms_per_batch the mean.

--onnx F times an ONNX classifier's file instead, read and optimised as argus
run reads it and run on the executor (engine "compiled" where the graph
compiles, "graph" otherwise), so that another runtime can time the same
export.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := inf.check(224); err != nil {
				return err
			}
			if onnxPath != "" {
				return benchONNX(cmd, onnxPath, &inf)
			}
			if run, ok := benchInfers[inf.model]; ok {
				return run(cmd, cmd.Flags(), &inf)
			}
			m, err := newBenchModel(inf.model, inf.size, inf.classes, inf.seed)
			if err != nil {
				return err
			}
			x, _ := inf.inputs(m)
			nn.Train(m.mod, false)
			engine := inf.engine
			var run func(*tensor.Tensor) error
			if engine == "auto" {
				// The compiled path where the executor compiles the
				// model's export (convolutional networks), else the
				// autograd forward (the ViTs).
				engine = "autograd"
				if r, err := m.compile(inf.size, inf.size); err == nil {
					run, engine = r, "compiled"
				}
			}
			var pass func()
			switch engine {
			case "autograd":
				in := autograd.Const(x)
				pass = func() { nn.NoGrad(m.mod, func() { m.forward(in) }) }
			case "compiled":
				if run == nil {
					if run, err = m.compile(inf.size, inf.size); err != nil {
						return err
					}
				}
				pass = func() {
					if err := run(x); err != nil {
						panic(err) // the network was built for exactly this input
					}
				}
			default:
				return fmt.Errorf("unknown --engine %q (have auto, compiled, autograd)", engine)
			}
			best, mean, cpu, err := timeLoop(inf.warmup, inf.iters, &inf, pass)
			if err != nil {
				return err
			}
			rep := inferReport{
				MsPerBatch: best * 1e3, MeanMsPerBatch: mean * 1e3, CPUMsPerBatch: cpu * 1e3, ImagesPerSecond: float64(inf.batch) / best,
				Model: inf.model, Batch: inf.batch, Size: inf.size, Classes: m.classes, Iters: inf.iters, Warmup: inf.warmup,
				Threads: runtime.GOMAXPROCS(0), Engine: engine,
			}
			return printInferReport(cmd, rep, inf.asJSON)
		},
	}
	inf.register(cmd.Flags(), 1, 20)
	cmd.Flags().StringVar(&inf.engine, "engine", "auto", "compiled (folded batch norm, fused NHWC convolutions), autograd, or auto: compiled where the model compiles")
	cmd.Flags().StringVar(&onnxPath, "onnx", "", "time this ONNX classifier's file instead of a --model (as argus run reads it)")
	return cmd
}

// printInferReport prints bench infer's report, as JSON or one line.
func printInferReport(cmd *cobra.Command, rep inferReport, asJSON bool) error {
	if asJSON {
		return printJSON(cmd, rep)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s inference (%s), batch %d of %d×%d: %.2f ms best, %.2f ms mean (%d threads)\n",
		rep.Model, rep.Engine, rep.Batch, rep.Size, rep.Size, rep.MsPerBatch, rep.MeanMsPerBatch, rep.Threads)
	return nil
}
