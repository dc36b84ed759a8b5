package main

import (
	"fmt"
	"path/filepath"
	"runtime"

	"github.com/spf13/cobra"

	"argus/compiler/executor"
	"argus/compiler/xgraph"
	"argus/tensor"
)

// benchONNX times an ONNX classifier's file for argus bench infer --onnx:
// the file read and passed as argus run reads it, on the executor's
// compiled path (folded batch norm, fused channels-last convolutions) where
// the graph compiles and node by node otherwise, so that Argus and another
// runtime time the very same export. The input is the model's single image
// input, --batch × C × --size × --size.
func benchONNX(cmd *cobra.Command, path string, inf *modelFlags) error {
	if cmd.Flags().Changed("model") {
		return fmt.Errorf("--onnx and --model name two networks: give one")
	}
	g, _, err := (&modelOptions{}).load(path)
	if err != nil {
		return err
	}
	if len(g.Inputs) != 1 {
		return fmt.Errorf("%s has %d inputs: the benchmark feeds one image batch", path, len(g.Inputs))
	}
	in := g.Inputs[0]
	shape := in.Shape
	if len(shape) != 4 || shape[1] < 1 {
		return fmt.Errorf("%s: input %q of shape %v is not batch × channels × height × width", path, in.Name, shape)
	}
	for i, want := range []int{inf.batch, shape[1], inf.size, inf.size} {
		if i != 1 && shape[i] > 0 && shape[i] != want {
			return fmt.Errorf("%s: input %q of shape %v does not take %d×%d×%d×%d (--batch, --size)",
				path, in.Name, shape, inf.batch, shape[1], inf.size, inf.size)
		}
	}
	e, err := executor.New(g)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	engine := "compiled"
	if err := e.Compiled(); err != nil {
		engine = "graph"
		if inf.engine == "compiled" {
			return fmt.Errorf("%s does not compile: %w", path, err)
		}
	} else if inf.engine == "autograd" {
		return fmt.Errorf("--engine autograd needs a --model: an ONNX file runs compiled or as a graph")
	}
	x := tensor.NewRNG(inf.seed+1).Uniform(0, 1, inf.batch, shape[1], inf.size, inf.size)
	feed := map[string]*xgraph.Tensor{in.Name: xgraph.FromDense(x)}
	classes := 0
	if _, err := e.Run(feed); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	best, mean, cpu, err := timeLoop(inf.warmup, inf.iters, inf, func() {
		outs, err := e.Run(feed)
		if err != nil {
			panic(err) // the same feed ran once above
		}
		for _, o := range outs {
			if len(o.Shape) == 2 {
				classes = o.Shape[1]
			}
			break
		}
	})
	if err != nil {
		return err
	}
	rep := inferReport{
		MsPerBatch: best * 1e3, MeanMsPerBatch: mean * 1e3, CPUMsPerBatch: cpu * 1e3, ImagesPerSecond: float64(inf.batch) / best,
		Model: filepath.Base(path), Batch: inf.batch, Size: inf.size, Classes: classes, Iters: inf.iters, Warmup: inf.warmup,
		Threads: runtime.GOMAXPROCS(0), Engine: engine,
	}
	return printInferReport(cmd, rep, inf.asJSON)
}
