package main

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"argus/compiler/executor"
	"argus/compiler/xgraph"
	"argus/internal/atomicfile"
)

// newInspectCmd builds argus inspect.
func newInspectCmd() *cobra.Command {
	var dot string
	var asJSON bool
	var model modelOptions
	cmd := &cobra.Command{
		Use:   "inspect MODEL|PROGRAM.dpu",
		Short: "Show a model as an XGraph: a readable listing, or a DOT/SVG drawing",
		Long: `Reads a model file (ONNX), runs the standard passes over it as argus run
does (--no-optimize shows the graph as imported), and prints the graph as a
listing, or with --json a summary that says how argus run would execute it.
For a compiled program (.dpu) it lists the subgraphs, every layer with its
device, fused activation, operations and cycles, and the totals.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if isProgram(args[0]) {
				if dot != "" {
					return fmt.Errorf("--dot draws a model graph, not a compiled program")
				}
				return inspectProgram(cmd, args[0], asJSON)
			}
			if err := notAnInput("dot", dot, args[0]); err != nil {
				return err
			}
			g, stats, err := model.load(args[0])
			if err != nil {
				return err
			}
			if dot != "" {
				if err := writeDrawing(g, dot); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s\n", dot)
			}
			if asJSON {
				res := inspectResult(g, stats, dot)
				// How argus run would execute the graph as it stands now.
				switch exec, err := executor.New(g); {
				case err != nil:
					res["execution"], res["execution_note"] = "unsupported", err.Error()
				case exec.Compiled() != nil:
					res["execution"], res["execution_note"] = "nodes", exec.Compiled().Error()
				default:
					res["execution"] = "compiled"
				}
				return printJSON(cmd, res)
			}
			return g.Dump(cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&dot, "dot", "", "write a drawing of the graph here: .svg an image, .dot or .gv Graphviz source")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object with the graph's summary")
	model.register(cmd)
	return cmd
}

type valueInfo struct {
	Name  string `json:"name"`
	DType string `json:"dtype"`
	Shape []int  `json:"shape"`
}

func valueInfos(vs []*xgraph.Value) []valueInfo {
	out := make([]valueInfo, len(vs))
	for i, v := range vs {
		out[i] = valueInfo{Name: v.Name, DType: v.DType.String(), Shape: v.Shape}
		if out[i].Shape == nil {
			out[i].Shape = []int{}
		}
	}
	return out
}

func inspectResult(g *xgraph.Graph, passes map[string]int, drawing string) map[string]any {
	s := g.Summarize()
	res := map[string]any{
		"name": g.Name, "opset": g.Opset,
		"inputs": valueInfos(g.Inputs), "outputs": valueInfos(g.Outputs),
		"nodes": s.Nodes, "ops": s.Ops, "constants": s.Constants, "parameters": s.Parameters,
	}
	if passes != nil {
		res["passes"] = passes
	}
	if drawing != "" {
		res["drawing"] = drawing
	}
	return res
}

// writeDrawing writes the graph as SVG or DOT by the file's extension,
// atomically.
func writeDrawing(g *xgraph.Graph, path string) error {
	var buf bytes.Buffer
	switch strings.ToLower(filepath.Ext(path)) {
	case ".svg":
		if err := g.SVG(&buf); err != nil {
			return err
		}
	case ".dot", ".gv":
		if err := g.DOT(&buf); err != nil {
			return err
		}
	default:
		return fmt.Errorf("--dot %s: the file name must end in .svg, .dot or .gv", path)
	}
	return atomicfile.WriteFile(path, buf.Bytes())
}
