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

	"argus/internal/atomicfile"
	"argus/internal/kernels"
)

// newRootCmd builds the whole command tree. Every call makes a fresh tree
// whose flag variables live in the constructors' closures, so nothing a run
// parses survives into the next one (tests call run many times in one
// process).
//
// Conventions for adding a command:
//   - Write func newXxxCmd() *cobra.Command in the command's own file, with
//     its flag variables local to it, and add it to the list below or to its
//     group's constructor (newTrainCmd, newEvalCmd, newBenchCmd, newDataCmd,
//     newDPUCmd, newHPOCmd, newONNXCmd, newPredictCmd, newReproCmd). No init(), no package-level
//     commands or flag variables.
//   - Every command has a Short line; Use starts with the command's name.
//   - Flag names: --out for the command's output path (file or folder),
//     --data for a dataset root, --config for a configuration file, --seed
//     for the seed, --json to print exactly one JSON object on stdout.
//     Secondary artefacts are named by what they hold (--plot, --dot,
//     --trace, --cpuprofile). The usage of a flag that takes an output path
//     starts with "write". An old spelling stays as an alias (aliasFlags).
//   - Usage strings hold no back-quotes: pflag would take the quoted word as
//     the value's placeholder in the help.
//   - Required flags are marked with cmd.MarkFlagRequired, nothing else.
//   - Errors do not name the command: run prefixes every error line with
//     the command's path ("argus eval coco: ..."). Errors about a file name
//     the file.
//   - Files are written with argus/internal/atomicfile.
func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "argus",
		Short:         "Computer vision in Go, from training to an accelerator",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newTrainCmd(),
		newEvalCmd(),
		newRunCmd(),
		newExplainCmd(),
		newExportCmd(),
		newInspectCmd(),
		newClusterCmd(),
		newExtractCmd(),
		newPredictCmd(),
		newDataCmd(),
		newDPUCmd(),
		newONNXCmd(),
		newQuantizeCmd(),
		newCompileCmd(),
		newValidateCmd(),
		newHPOCmd(),
		newHPSCmd(),
		newBenchCmd(),
		newReproCmd(),
	)
	return root
}

// newPredictCmd groups the commands that run a trained model on images
// and write or print its predictions.
func newPredictCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "predict",
		Short: "Run trained models on images and write or print their predictions",
	}
	cmd.AddCommand(newPredictClassifyCmd(), newPredictSegmentCmd(), newPredictReidCmd(), newPredictDetectCmd())
	return cmd
}

// newTrainCmd groups the training jobs.
func newTrainCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Train models",
	}
	cmd.AddCommand(newTrainMNISTCmd(), newTrainClassifyCmd(), newTrainFinegrainedCmd(), newTrainSegmentCmd(), newTrainReidCmd(), newTrainDetectCmd())
	return cmd
}

// newEvalCmd groups the evaluation protocols.
func newEvalCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Evaluate models and predictions with the field's protocols",
	}
	cmd.AddCommand(newEvalCOCOCmd(), newEvalReidCmd(), newEvalSegmentCmd(), newEvalMNISTCmd(), newEvalClassifyCmd(), newEvalFinegrainedCmd(), newEvalDetectCmd())
	return cmd
}

// newBenchCmd groups the speed benchmarks.
func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure the speed of kernels, training and inference",
	}
	cmd.AddCommand(newBenchGemmCmd(), newBenchTuneCmd(), newBenchTrainStepCmd(), newBenchInferCmd(), newBenchCOCOCmd(), newBenchAllreduceCmd(), newBenchClusterCmd())
	return cmd
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line on a fresh command tree and returns the exit
// status. Errors are printed as one line that starts with the command's path;
// a panic is reported the same way instead of as a stack trace, because users
// meet the CLI with their own files.
func run(args []string, stdout, stderr io.Writer) (code int) {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	// cmd is the command being run, for the panic line.
	cmd := root
	root.PersistentPreRun = func(c *cobra.Command, _ []string) { cmd = c }
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "%s: internal error: %v\n", cmd.CommandPath(), r)
			code = 2
		}
	}()
	if _, _, err := kernels.GemmChoice(); err != nil {
		// A kernel forced through the environment that this CPU lacks.
		fmt.Fprintf(stderr, "argus: %v\n", err)
		return 1
	}
	var err error
	if cmd, err = root.ExecuteC(); err != nil {
		if cmd == nil {
			cmd = root
		}
		// The command's error stream: under mpirun every rank but 0
		// discards it (rank 0 says a failure of the run's once).
		fmt.Fprintln(cmd.ErrOrStderr(), errorLine(cmd, err))
		return exitCode(err)
	}
	return 0
}

// errorLine is the one line run prints for err: the command's path, then the
// message. A message that already starts with the path below argus is not
// given it twice.
func errorLine(cmd *cobra.Command, err error) string {
	path := cmd.CommandPath()
	msg := err.Error()
	if sub, ok := strings.CutPrefix(path, cmd.Root().Name()+" "); ok && strings.HasPrefix(msg, sub+": ") {
		return cmd.Root().Name() + " " + msg
	}
	return path + ": " + msg
}

// aliasFlags makes each old flag name in aliases (old name to new name) a
// silent alias of the new one, so that scripts using an older spelling keep
// working while the help shows only the new name.
func aliasFlags(cmd *cobra.Command, aliases map[string]string) {
	cmd.Flags().SetNormalizeFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		if n, ok := aliases[name]; ok {
			name = n
		}
		return pflag.NormalizedName(name)
	})
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

// writeJSON writes v to path as one line of JSON, atomically.
func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return atomicfile.WriteFile(path, append(b, '\n'))
}
