package main

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"argus/compiler/executor"
	"argus/compiler/onnx"
	"argus/compiler/xgraph"
)

// modelFormats are the model file formats argus run and argus inspect read,
// by extension; a file with any other extension is read as ONNX, which has
// no magic number to tell it by.
var modelFormats = map[string]func(path string) (*xgraph.Graph, error){
	".onnx": onnx.Load,
}

// modelOptions are the flags argus run and argus inspect share, so that both
// see a model file the same way.
type modelOptions struct {
	noOptimize bool
	// maxBytes bounds each tensor constant folding computes (0: the
	// executor's default).
	maxBytes int64
}

// register adds --no-optimize, and the older --optimize of inspect as a
// deprecated flag that sets the same option (--optimize=false turns the
// passes off).
func (o *modelOptions) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.BoolVar(&o.noOptimize, "no-optimize", false, "use the graph as imported, without the standard passes (constant folding, identity/dropout removal, batch-norm folding, dead-node removal)")
	f.Var((*invertedBool)(&o.noOptimize), "optimize", "run the standard passes (the default)")
	f.Lookup("optimize").NoOptDefVal = "true"
	f.MarkDeprecated("optimize", "the standard passes run by default; --no-optimize turns them off")
}

// load reads the model file at path in any format argus reads and, unless
// --no-optimize is given, runs the standard passes over it. stats counts
// what each pass changed (nil when none ran).
func (o *modelOptions) load(path string) (g *xgraph.Graph, stats map[string]int, err error) {
	ext := strings.ToLower(filepath.Ext(path))
	read, ok := modelFormats[ext]
	if !ok {
		read = onnx.Load
	}
	if g, err = read(path); err != nil {
		return nil, nil, err
	}
	if o.noOptimize {
		return g, nil, nil
	}
	if stats, err = executor.OptimizeWith(g, executor.Options{MaxTensorBytes: o.maxBytes}); err != nil {
		return nil, nil, fmt.Errorf("optimize %s: %w", path, err)
	}
	return g, stats, nil
}

// invertedBool is a boolean flag that stores its negation, so that an
// --x flag can set the variable of a --no-x flag.
type invertedBool bool

func (b *invertedBool) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	*b = invertedBool(!v)
	return nil
}

func (b *invertedBool) String() string   { return strconv.FormatBool(!bool(*b)) }
func (b *invertedBool) Type() string     { return "bool" }
func (b *invertedBool) IsBoolFlag() bool { return true }
