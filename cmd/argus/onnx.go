package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"argus/compiler/onnx/conformance"
)

// newONNXCmd groups the ONNX tools.
func newONNXCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "onnx",
		Short: "ONNX model tools",
	}
	cmd.AddCommand(newONNXConformanceCmd())
	return cmd
}

// newONNXConformanceCmd builds argus onnx conformance.
func newONNXConformanceCmd() *cobra.Command {
	var dir string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "conformance --data DIR",
		Short: "Run ONNX backend test cases (DIR/<test>/model.onnx, test_data_set_*) on the reference executor",
		Long: `Runs every ONNX backend test case under DIR (a folder holding model.onnx
and test_data_set_*) on the reference executor and compares its outputs.
Prints the cases that did not pass and the counts (--json: the whole
report), and exits non-zero when any case failed; cases whose operators
the executor does not support are counted, not failures.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			errw := cmd.ErrOrStderr()
			rep, err := conformance.Run(dir, func(done, total int, c conformance.Case) {
				if !asJSON || done%50 == 0 || done == total {
					fmt.Fprintf(errw, "[%d/%d] %-60s %s\n", done, total, c.Name, c.Status)
				}
			})
			if err != nil {
				return err
			}
			if asJSON {
				if err := printJSON(cmd, rep); err != nil {
					return err
				}
			} else {
				out := cmd.OutOrStdout()
				for _, c := range rep.Cases {
					if c.Status != conformance.Passed {
						fmt.Fprintf(out, "%-11s %-50s %s\n", c.Status, c.Name, c.Error)
					}
				}
				fmt.Fprintf(out, "passed %d, failed %d, unsupported %d of %d\n", rep.Passed, rep.Failed, rep.Unsupported, len(rep.Cases))
			}
			// The report is printed either way; a failed case fails the
			// command, so that scripts and CI see it. Unsupported
			// operators are the executor's known limits, not failures.
			if rep.Failed > 0 {
				return fmt.Errorf("%d of %d cases failed", rep.Failed, len(rep.Cases))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "data", "", "folder of test cases")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	aliasFlags(cmd, map[string]string{"dir": "data"})
	cmd.MarkFlagRequired("data")
	return cmd
}
