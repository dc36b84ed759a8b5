package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"argus/compiler/executor"
	"argus/compiler/onnx"
	"argus/compiler/xgraph"
)

func init() {
	var dot string
	var optimize, asJSON bool
	cmd := &cobra.Command{
		Use:   "inspect MODEL",
		Short: "Show an ONNX model as an XGraph: a readable listing, or a DOT/SVG drawing",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			g, err := onnx.Load(args[0])
			if err != nil {
				return err
			}
			var stats map[string]int
			if optimize {
				if stats, err = executor.Optimize(g); err != nil {
					return err
				}
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
	cmd.Flags().StringVar(&dot, "dot", "", "also draw the graph: .svg writes an image, .dot or .gv Graphviz source")
	cmd.Flags().BoolVar(&optimize, "optimize", false, "run the standard passes (constant folding, identity/dropout removal, batch-norm folding, dead-node removal) first")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object with the graph's summary")
	rootCmd.AddCommand(cmd)
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
// through a temporary file so that a failure leaves nothing half-written.
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
	return onnxWriteFile(path, buf.Bytes())
}

func onnxWriteFile(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
