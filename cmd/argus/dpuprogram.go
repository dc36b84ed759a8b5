package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"argus/compiler/dpu"
	"argus/compiler/fuse"
	"argus/compiler/onnx"
	"argus/compiler/quant"
	"argus/compiler/xgraph"
	"argus/dpu/target"
)

// isProgram reports whether path names a compiled .dpu program, which
// argus run and argus inspect read instead of a model.
func isProgram(path string) bool { return strings.EqualFold(filepath.Ext(path), ".dpu") }

// programRun is what argus run reports for a .dpu program.
type programRun struct {
	Program string      `json:"program"`
	Target  string      `json:"target"`
	Engine  string      `json:"engine"`
	Outputs []runOutput `json:"outputs"`
	// Cycles and Seconds are the cycle model's, for the first image (sim
	// engine only); LatencyMS is the wall time of the whole run here.
	Cycles    int64   `json:"cycles,omitempty"`
	Seconds   float64 `json:"seconds,omitempty"`
	LatencyMS float64 `json:"latency_ms"`
}

// runProgram runs a .dpu program on one input with the simulator or the
// quant-ref engine.
func runProgram(cmd *cobra.Command, path string, inputs pathList, mean, std []float32, engine, output, tname string, top int, asJSON bool) error {
	if engine != "sim" && engine != "quant-ref" {
		return fmt.Errorf("--engine %q: want sim or quant-ref", engine)
	}
	if err := notAnInput("out", output, path); err != nil {
		return err
	}
	p, err := dpu.Read(path)
	if err != nil {
		return err
	}
	if tname != "" {
		t, err := target.Lookup(tname)
		if err != nil {
			return err
		}
		if err := p.CheckTarget(t); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	if len(inputs) != 1 {
		return fmt.Errorf("a compiled program has one input, %d given with --input", len(inputs))
	}
	in := p.Model.Tensor(p.Model.Input)
	v := &xgraph.Value{Name: p.Model.Input, Ranked: true, Shape: []int{1, in.Shape[0], in.Shape[1], in.Shape[2]}}
	x, err := readInput(inputs[0], v, mean, std)
	if err != nil {
		return err
	}
	start := time.Now()
	res := programRun{Program: filepath.Base(path), Target: p.Target.Name, Engine: engine}
	var outs []quant.Result
	if engine == "sim" {
		var st *dpu.Stats
		if outs, st, err = p.Run(x); err == nil {
			res.Cycles, res.Seconds = st.Cycles, p.Seconds(st)
		}
	} else {
		outs, err = p.Model.Run(x)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	res.LatencyMS = float64(time.Since(start).Microseconds()) / 1000
	var first *xgraph.Tensor
	for _, o := range outs {
		shape := []int{o.Shape[0], o.Shape[1], o.Shape[2], o.Shape[3]}
		if o.Shape[2] == 1 && o.Shape[3] == 1 {
			shape = shape[:2]
		}
		t := xgraph.NewFloat(o.Float(), shape...)
		if first == nil {
			first = t
		}
		res.Outputs = append(res.Outputs, describeOutput(o.Name, t, top))
	}
	if output != "" {
		if err := onnx.WriteTensor(output, first, outs[0].Name); err != nil {
			return err
		}
	}
	if asJSON {
		return printJSON(cmd, res)
	}
	w := cmd.OutOrStdout()
	for _, o := range res.Outputs {
		fmt.Fprintf(w, "%s: %v\n", o.Name, o.Shape)
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
	if engine == "sim" {
		fmt.Fprintf(w, "%s on %s: %d cycles, %.3f ms of DPU time\n", engine, res.Target, res.Cycles, 1e3*res.Seconds)
	}
	fmt.Fprintf(w, "latency %.2f ms\n", res.LatencyMS)
	if output != "" {
		fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s\n", output)
	}
	return nil
}

// programInspect is what argus inspect reports for a .dpu program.
type programInspect struct {
	Program   string            `json:"program"`
	Version   int               `json:"version"`
	DDRSize   int               `json:"ddr_size"`
	Subgraphs []programSubgraph `json:"subgraphs"`
	Summary   *dpu.Summary      `json:"summary"`
}

type programSubgraph struct {
	Device       string `json:"device"`
	First        int    `json:"first"`
	End          int    `json:"end"`
	Instructions int    `json:"instructions"`
}

// inspectProgram lists a .dpu program's subgraphs, fused groups and
// per-layer cycles.
func inspectProgram(cmd *cobra.Command, path string, asJSON bool) error {
	p, err := dpu.Read(path)
	if err != nil {
		return err
	}
	s, err := p.Summarize()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	res := programInspect{Program: filepath.Base(path), Version: dpu.Version, DDRSize: p.DDRSize, Summary: s}
	for _, sg := range p.Subgraphs {
		res.Subgraphs = append(res.Subgraphs, programSubgraph{string(sg.Device), sg.First, sg.End, len(sg.Code)})
	}
	if asJSON {
		return printJSON(cmd, res)
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "%s: .dpu version %d for %s (fingerprint %s), DDR image %d bytes\n", res.Program, res.Version, s.Target, s.Fingerprint, p.DDRSize)
	for i, sg := range res.Subgraphs {
		fmt.Fprintf(w, "subgraph %d: %s, layers %d-%d", i, sg.Device, sg.First, sg.End-1)
		if sg.Instructions > 0 {
			fmt.Fprintf(w, ", %d instructions", sg.Instructions)
		}
		fmt.Fprintln(w)
	}
	width := len("layer")
	for _, r := range s.Rows {
		width = max(width, len(r.Name))
	}
	fmt.Fprintf(w, "%4s  %-*s %-10s %-6s %-4s %12s %10s\n", "#", width, "layer", "op", "act", "on", "ops", "cycles")
	for _, r := range s.Rows {
		fmt.Fprintf(w, "%4d  %-*s %-10s %-6s %-4s %12d %10d", r.Index, width, r.Name, r.Op, r.Act, r.Device, r.Ops, r.Cycles)
		if r.Reason != "" {
			fmt.Fprintf(w, "  (%s)", r.Reason)
		}
		fmt.Fprintln(w)
	}
	for _, g := range s.FusedGroups {
		if g.Kind != fuse.Absorbed {
			fmt.Fprintf(w, "fused %s (%s): %s, %d DDR bytes saved\n", g.Template, g.Kind, strings.Join(g.Layers, " + "), g.GainBytes)
		}
	}
	fmt.Fprintf(w, "%d cycles, %.3f ms, %.1f fps, %.3f TOPs/s, utilisation %.1f%% of one core; %.1f%% of the ops on the DPU\n",
		s.Cycles, 1e3*s.Seconds, s.FPS, s.TOPs, 100*s.Utilization, 100*s.DPUOpsShare)
	return nil
}
