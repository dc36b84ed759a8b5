package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"argus/dpu/asm"
	"argus/dpu/isa"
	"argus/dpu/sim"
	"argus/dpu/target"
	"argus/internal/atomicfile"
)

// newDPUCmd groups the DPU tools: assembler, disassembler, simulator,
// targets.
func newDPUCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dpu",
		Short: "Assemble, disassemble and simulate DPU programs",
	}
	cmd.AddCommand(newDPUAsmCmd(), newDPUDisasmCmd(), newDPUSimCmd(), newDPUTargetsCmd())
	return cmd
}

// newDPUAsmCmd builds argus dpu asm.
func newDPUAsmCmd() *cobra.Command {
	var out string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "asm F.s --out F.bin",
		Short: "Assemble a DPU program from text to its binary stream",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				out = strings.TrimSuffix(args[0], filepath.Ext(args[0])) + ".bin"
			}
			if err := checkNotInput(namedPath{"--out", out}, namedPath{"the program", args[0]}); err != nil {
				return err
			}
			src, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			words, err := asm.Assemble(string(src))
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			if err := atomicfile.WriteFile(out, isa.Bytes(words)); err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd, map[string]any{"out": out, "words": len(words)})
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s: %d words\n", out, len(words))
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "write the binary stream here (default: the input with .bin)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	aliasFlags(cmd, map[string]string{"output": "out"})
	return cmd
}

// newDPUDisasmCmd builds argus dpu disasm.
func newDPUDisasmCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "disasm F.bin",
		Short: "Print a DPU binary stream as text",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			words, err := isa.Words(b)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			text, err := asm.Disassemble(words)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			if out != "" {
				if err := checkNotInput(namedPath{"--out", out}, namedPath{"the program", args[0]}); err != nil {
					return err
				}
				return atomicfile.WriteFile(out, []byte(text))
			}
			_, err = fmt.Fprint(cmd.OutOrStdout(), text)
			return err
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "write the text here instead of stdout")
	aliasFlags(cmd, map[string]string{"output": "out"})
	return cmd
}

// dpuReadProgram reads a program: a .bin file is a binary stream, anything
// else is text.
func dpuReadProgram(name string) ([]isa.Instr, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	if strings.EqualFold(filepath.Ext(name), ".bin") {
		words, err := isa.Words(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		prog, err := isa.DecodeProgram(words)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return prog, nil
	}
	prog, err := asm.Parse(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return prog, nil
}

// maxDDR bounds the zeroed DDR image the simulator makes when no --ddr is
// given.
const maxDDR = 1 << 30

// maxDDRImage bounds a --ddr image, which is read whole into memory: twice
// the 2 GiB a 31-bit DDR address names, so a larger file is a mistake (a
// disk image, a model), not a DDR image.
const maxDDRImage = 1 << 32

// dpuSimOptions are the flags of argus dpu sim.
type dpuSimOptions struct {
	target, ddrIn, ddrOut, trace string
	maxOps                       float64
	json                         bool
}

// newDPUSimCmd builds argus dpu sim.
func newDPUSimCmd() *cobra.Command {
	var o dpuSimOptions
	cmd := &cobra.Command{
		Use:   "sim F.s|F.bin --target T",
		Short: "Run a DPU program on the functional simulator and cycle model",
		Long: `Run a DPU program (text, or a .bin stream) on a target. The DDR image is
--ddr (raw bytes), or zeros just large enough for the program's transfers.
Prints cycles, seconds, ops, ops/s, utilisation of the peak, DDR bytes and
engine busy fractions; --trace writes a Chrome trace-event timeline.

The program's operations are counted first, without the arithmetic; one
that needs more than --max-ops is refused before it runs.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return dpuSim(cmd, args[0], o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.target, "target", "", "target name (see argus dpu targets)")
	f.StringVar(&o.ddrIn, "ddr", "", "DDR image to run over (raw bytes)")
	f.StringVar(&o.ddrOut, "ddr-out", "", "write the DDR image after the run here (not the --ddr file)")
	f.StringVar(&o.trace, "trace", "", "write the timeline here in Chrome trace-event JSON")
	floatFlag(f, &o.maxOps, "max-ops", 1e11, 1, 1e18, "refuse programs needing more operations than this (as the report counts them)")
	f.BoolVar(&o.json, "json", false, "print one JSON object")
	cmd.MarkFlagRequired("target")
	return cmd
}

// dpuSim runs the program in the file prog as the flags o say.
func dpuSim(cmd *cobra.Command, prog string, o dpuSimOptions) error {
	ddrIn, ddrOut, tracePath, asJSON := o.ddrIn, o.ddrOut, o.trace, o.json
	inputs := []namedPath{{"the program", prog}, {"the --ddr image", ddrIn}}
	for _, out := range []namedPath{{"--ddr-out", ddrOut}, {"--trace", tracePath}} {
		if err := checkNotInput(out, inputs...); err != nil {
			return err
		}
	}
	if ddrOut != "" && sameFile(ddrOut, tracePath) {
		return fmt.Errorf("--ddr-out and --trace are both %s", ddrOut)
	}
	tg, err := target.Lookup(o.target)
	if err != nil {
		return err
	}
	program, err := dpuReadProgram(prog)
	if err != nil {
		return err
	}
	var ddr []byte
	if ddrIn != "" {
		st, err := os.Stat(ddrIn)
		if err != nil {
			return err
		}
		if st.Size() > maxDDRImage {
			return fmt.Errorf("--ddr %s is %d bytes, larger than any DDR image (at most %d)", ddrIn, st.Size(), int64(maxDDRImage))
		}
		if ddr, err = os.ReadFile(ddrIn); err != nil {
			return err
		}
	} else {
		n := sim.DDRExtent(program)
		if n > maxDDR {
			return fmt.Errorf("program reaches %d DDR bytes; give an image with --ddr", n)
		}
		ddr = make([]byte, n)
	}
	// Count the work without doing it: a program too large for any
	// sensible wait is refused at once rather than run for hours.
	plan, err := sim.Run(program, tg, ddr, sim.Options{TimingOnly: true})
	if err != nil {
		return fmt.Errorf("%s: %w", prog, err)
	}
	if float64(plan.Ops) > o.maxOps {
		return fmt.Errorf("%s: the program needs %d operations, more than --max-ops %g; raise --max-ops to run it", prog, plan.Ops, o.maxOps)
	}
	rep, err := sim.Run(program, tg, ddr, sim.Options{Trace: tracePath != ""})
	if err != nil {
		return fmt.Errorf("%s: %w", prog, err)
	}
	if tracePath != "" {
		var buf bytes.Buffer
		if err := sim.WriteTrace(&buf, rep, tg.ClockMHz); err != nil {
			return err
		}
		if err := atomicfile.WriteFile(tracePath, buf.Bytes()); err != nil {
			return err
		}
	}
	if ddrOut != "" {
		if err := atomicfile.WriteFile(ddrOut, ddr); err != nil {
			return err
		}
	}
	if rep.HazardCount > 0 {
		fmt.Fprintf(cmd.ErrOrStderr(), "argus: warning: %d instruction(s) touch bank lines another is still using (a missing wait/signal); first: %s\n",
			rep.HazardCount, rep.Hazards[0])
	}
	if asJSON {
		return printJSON(cmd, rep)
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "target        %s (%s x %d, %.0f MHz)\n", tg.Name, tg.Arch, tg.Cores, tg.ClockMHz)
	fmt.Fprintf(w, "instructions  %d on %d core(s)\n", rep.Instructions, rep.Cores)
	fmt.Fprintf(w, "cycles        %d\n", rep.Cycles)
	fmt.Fprintf(w, "seconds       %.6g\n", rep.Seconds)
	fmt.Fprintf(w, "ops           %d (%.4g ops/s)\n", rep.Ops, rep.OpsPerSecond)
	fmt.Fprintf(w, "utilization   %.2f%% of %d ops/cycle\n", 100*rep.Utilization, rep.PeakOpsPerCycle)
	fmt.Fprintf(w, "ddr bytes     %d (read %d, written %d; %.1f of %.1f bytes/cycle)\n",
		rep.DDRBytes, rep.DDRReadBytes, rep.DDRWriteBytes, rep.DDRBytesPerCycle, rep.DDRPeakPerCycle)
	for _, e := range rep.Engines {
		fmt.Fprintf(w, "core %d %-8s %3d instructions, busy %6.2f%%\n", e.Core, e.Engine, e.Instructions, 100*e.Busy)
	}
	return nil
}

// targetSummary is one row of argus dpu targets --json.
type targetSummary struct {
	*target.Target
	PeakOpsPerCycle  int     `json:"peak_ops_per_cycle"`
	PeakTOPS         float64 `json:"peak_tops"`
	DDRBytesPerCycle float64 `json:"ddr_bytes_per_cycle"`
}

// newDPUTargetsCmd builds argus dpu targets.
func newDPUTargetsCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "targets [NAME]",
		Short: "List the DPU targets, or show one with its assumptions",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return dpuTargets(cmd, args, asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

// dpuTargets lists the targets, or the one named in args.
func dpuTargets(cmd *cobra.Command, args []string, asJSON bool) error {
	ts, err := target.All()
	if err != nil {
		return err
	}
	if len(args) == 1 {
		t, err := target.Lookup(args[0])
		if err != nil {
			return err
		}
		ts = []*target.Target{t}
	}
	var rows []targetSummary
	for _, t := range ts {
		rows = append(rows, targetSummary{t, t.TotalPeakOpsPerCycle(), t.PeakOpsPerSecond() / 1e12, t.DDRBytesPerCycle()})
	}
	if asJSON {
		return printJSON(cmd, map[string]any{"targets": rows})
	}
	w := cmd.OutOrStdout()
	if len(args) == 1 {
		t := rows[0]
		fmt.Fprintf(w, "%s: %s\npeak %d ops/cycle, %.3f TOPS; DDR %.1f bytes/cycle\n\n", t.Name, t.Description,
			t.PeakOpsPerCycle, t.PeakTOPS, t.DDRBytesPerCycle)
		// The values by their JSON names, to print each beside its assumption.
		raw, err := json.Marshal(t.Target)
		if err != nil {
			return err
		}
		var vals map[string]any
		if err := json.Unmarshal(raw, &vals); err != nil {
			return err
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, k := range slices.Sorted(maps.Keys(t.Assumptions)) {
			fmt.Fprintf(tw, "%s\t%v\t%s\n", k, vals[k], t.Assumptions[k])
		}
		return tw.Flush()
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tARCH\tCORES\tMHZ\tOPS/CYCLE\tPEAK TOPS\tDDR GB/S\tDESCRIPTION")
	for _, t := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%g\t%d\t%.3f\t%g\t%s\n", t.Name, t.Arch, t.Cores, t.ClockMHz,
			t.PeakOpsPerCycle, t.PeakTOPS, t.DDRGBPerSecond, t.Description)
	}
	return tw.Flush()
}
