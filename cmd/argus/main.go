// Command argus trains, evaluates and deploys vision models: see `argus help`.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

var rootCmd = &cobra.Command{
	Use:           "argus",
	Short:         "Computer vision in Go, from training to an accelerator",
	SilenceUsage:  true,
	SilenceErrors: true,
}

// evalCmd groups the evaluation protocols; each task adds its subcommand.
var evalCmd = &cobra.Command{
	Use:   "eval",
	Short: "Evaluate models and predictions with the field's protocols",
}

// benchCmd groups the speed benchmarks; each subsystem adds its subcommand.
var benchCmd = &cobra.Command{
	Use:   "bench",
	Short: "Measure the speed of kernels, training and inference",
}

// trainCmd groups the training jobs; each task adds its subcommand.
var trainCmd = &cobra.Command{
	Use:   "train",
	Short: "Train models",
}

func init() {
	rootCmd.AddCommand(evalCmd, benchCmd, trainCmd)
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line and returns the exit status. Errors are
// printed as one line; a panic is reported the same way instead of as a stack
// trace, because users meet the CLI with their own files.
func run(args []string, stdout, stderr io.Writer) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "argus: internal error: %v\n", r)
			code = 2
		}
	}()
	rootCmd.SetArgs(args)
	rootCmd.SetOut(stdout)
	rootCmd.SetErr(stderr)
	defer resetAllFlags(rootCmd)
	if err := rootCmd.Execute(); err != nil {
		fmt.Fprintf(stderr, "argus: %v\n", err)
		return exitCode(err)
	}
	return 0
}

// resetAllFlags returns every flag of cmd and its subcommands to its default,
// because cobra keeps parsed values in package-level commands and tests call
// run several times in one process.
func resetAllFlags(cmd *cobra.Command) {
	reset := func(f *pflag.Flag) {
		if !f.Changed {
			return
		}
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			var def []string
			if d := strings.Trim(f.DefValue, "[]"); d != "" {
				def = strings.Split(d, ",")
			}
			_ = sv.Replace(def)
		} else {
			_ = f.Value.Set(f.DefValue)
		}
		f.Changed = false
	}
	cmd.Flags().VisitAll(reset)
	cmd.PersistentFlags().VisitAll(reset)
	for _, c := range cmd.Commands() {
		resetAllFlags(c)
	}
}

// printJSON writes v to the command's stdout as one JSON object on one line.
func printJSON(cmd *cobra.Command, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	_, err = fmt.Fprintln(cmd.OutOrStdout(), string(b))
	return err
}
