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
		Args:  cobra.NoArgs,
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
				return printJSON(cmd, rep)
			}
			out := cmd.OutOrStdout()
			for _, c := range rep.Cases {
				if c.Status != conformance.Passed {
					fmt.Fprintf(out, "%-11s %-50s %s\n", c.Status, c.Name, c.Error)
				}
			}
			fmt.Fprintf(out, "passed %d, failed %d, unsupported %d of %d\n", rep.Passed, rep.Failed, rep.Unsupported, len(rep.Cases))
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "data", "", "folder of test cases")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	aliasFlags(cmd, map[string]string{"dir": "data"})
	cmd.MarkFlagRequired("data")
	return cmd
}
