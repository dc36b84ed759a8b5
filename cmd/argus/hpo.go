package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"argus/hpo"
	"argus/hpo/bench"
	"argus/hpo/plot"
	"argus/hpo/sampler"
	"argus/hpo/storage"
	"argus/hpo/worker"
	"argus/internal/atomicfile"
	"argus/internal/progress"
	"argus/train"
)

// hpoLong is the help of argus hpo.
const hpoLong = `Search hyper-parameters: create a study with its search space, run trials
with any command (from any number of workers sharing the storage), and
inspect, export and plot the results.

Search space, at create: repeat --param NAME=KIND:SPEC, or give --space FILE
(JSON {"params": [{"name", "kind", "low", "high", "log", "step", "choices",
"if": {"parent", "values"}}]}):
  lr=float:1e-5:1e-1:log       float in [1e-5, 0.1] on a log scale
  drop=float:0:0.5             float on a linear scale
  k=int:1:20   width=int:16:256:16   batch=int:8:512:log
  opt=cat:sgd,adam             categorical
  momentum=float:0:0.99@opt=sgd   active only when opt is sgd (parents
                               are earlier categorical parameters)

Storage URLs: sqlite:PATH, sqlite:///ABS/PATH, postgres://user:pass@host/db.
Only create --create makes a new SQLite database (and says so); without
--create, and in the other commands, a path where none exists is refused,
so that a typo is not an empty study.`

// hpoOptions holds the flags of the hpo subcommands; one run uses one
// subcommand, so they share it.
type hpoOptions struct {
	study, storage string
	json           bool
	// create
	createDB  bool
	params    []string
	spaceFile string
	direction string
	sampler   string
	seed      uint64
	startup   int
	pruner    string
	// run
	trials     int
	heartbeat  time.Duration
	staleAfter time.Duration
	timeout    time.Duration
	workerName string
	// export, plot
	format, exportOut, plotOut string
	// enqueue
	set []string
	// bench
	function     string
	benchSampler string
	benchTrials  int
	seeds        int
}

// newHPOCmd groups the hyper-parameter search commands.
func newHPOCmd() *cobra.Command {
	f := &hpoOptions{}
	common := func(c *cobra.Command) {
		c.Flags().StringVar(&f.study, "study", "", "study name")
		c.Flags().StringVar(&f.storage, "storage", "sqlite:hpo.db", "storage URL: sqlite:PATH or postgres://...")
		c.Flags().BoolVar(&f.json, "json", false, "print one JSON object on stdout")
		c.MarkFlagRequired("study")
	}
	create := &cobra.Command{Use: "create", Short: "Create a study with its search space", Args: cobra.NoArgs, RunE: f.create}
	common(create)
	create.Flags().StringArrayVar(&f.params, "param", nil, "parameter NAME=KIND:SPEC (repeatable; see argus hpo --help)")
	create.Flags().StringVar(&f.spaceFile, "space", "", "JSON file with the search space")
	create.Flags().StringVar(&f.direction, "direction", "minimize", "minimize or maximize")
	create.Flags().StringVar(&f.sampler, "sampler", "gp", "sampler: gp (Gaussian-process surrogate), tpe, tpe-exact or random")
	create.Flags().Uint64Var(&f.seed, "seed", 0, "sampler seed")
	intFlag(create.Flags(), &f.startup, "startup", 0, 0, 100000, "random/space-filling trials before the model (0: sampler default)")
	create.Flags().StringVar(&f.pruner, "pruner", "none", "pruner: none, median or asha")
	create.Flags().BoolVar(&f.createDB, "create", false, "make the SQLite database if it does not exist (without it, a missing file is taken for a typo)")

	run := &cobra.Command{
		Use:   "run --study S --storage URL --trials N -- CMD [ARGS...]",
		Short: "Run trials of a study with a command until the study holds N trials",
		Long: `Run trials with a command until the study holds N trials (trials failed by a
stale heartbeat do not count; their parameters are run again). Any number of
workers may run the same study at once.

The command gets the parameters as flags --NAME=VALUE appended to its
arguments and as environment variables ARGUS_PARAM_<NAME> (upper case, other
characters as '_'), with ARGUS_STUDY and ARGUS_TRIAL. On stdout it may print
intermediate values as JSON lines {"step": 3, "intermediate": 0.42} (the
pruner may stop it then), and its last JSON line gives the result:
{"objective": 0.17, "constraints": [-0.1], "intermediate": [0.9, 0.5]}
("constraints" and "intermediate" optional; feasible when all constraints
are <= 0). A command that exits non-zero or prints no objective fails its
trial with the reason; the search goes on.`,
		RunE: f.run,
	}
	common(run)
	intFlag(run.Flags(), &f.trials, "trials", 0, 1, maxHPOTrials, "number of trials the study should hold")
	run.MarkFlagRequired("trials")
	durationFlag(run.Flags(), &f.heartbeat, "heartbeat", 5*time.Second, 10*time.Millisecond, time.Hour, "heartbeat interval")
	durationFlag(run.Flags(), &f.staleAfter, "stale-after", time.Minute, 20*time.Millisecond, 24*time.Hour,
		"fail RUNNING trials whose heartbeat is older, and rerun them (more than --heartbeat)")
	durationFlag(run.Flags(), &f.timeout, "timeout", 0, 0, 30*24*time.Hour, "fail a trial whose command runs longer (0: no limit)")
	run.Flags().StringVar(&f.workerName, "worker", "", "worker name (default host:pid)")

	show := &cobra.Command{Use: "show", Short: "Show a study: best trial and counts by state", Args: cobra.NoArgs, RunE: f.show}
	common(show)

	export := &cobra.Command{Use: "export", Short: "Export a study's trials as CSV or JSON", Args: cobra.NoArgs, RunE: f.export}
	common(export)
	export.Flags().StringVar(&f.format, "format", "csv", "csv or json")
	export.Flags().StringVar(&f.exportOut, "out", "-", "write the trials to this file (- for stdout)")

	enqueue := &cobra.Command{Use: "enqueue", Short: "Add a trial with fixed parameters, run before sampled ones", Args: cobra.NoArgs, RunE: f.enqueue}
	common(enqueue)
	enqueue.Flags().StringArrayVar(&f.set, "set", nil, "parameter value NAME=VALUE (repeatable)")

	pl := &cobra.Command{Use: "plot", Short: "Plot optimisation history and parameter importance as PNG", Args: cobra.NoArgs, RunE: f.plot}
	common(pl)
	pl.Flags().StringVar(&f.plotOut, "out", ".", "write history.png and importance.png into this folder")

	bn := &cobra.Command{Use: "bench", Short: "Run a sampler on a standard test function over seeds; print the regret", Args: cobra.NoArgs, RunE: f.bench}
	bn.Flags().StringVar(&f.function, "function", "branin", "branin, hartmann6 or rosenbrock")
	bn.Flags().StringVar(&f.benchSampler, "sampler", "gp", "gp, tpe, tpe-exact or random")
	intFlag(bn.Flags(), &f.benchTrials, "trials", 50, 1, 1000, "evaluations per run")
	intFlag(bn.Flags(), &f.seeds, "seeds", 20, 1, 100, "runs with seeds 0..K-1")
	bn.Flags().BoolVar(&f.json, "json", false, "print one JSON object on stdout")

	cmd := &cobra.Command{
		Use:   "hpo",
		Short: "Search hyper-parameters with studies stored in SQLite or PostgreSQL",
		Long:  hpoLong,
	}
	cmd.AddCommand(create, run, show, export, enqueue, pl, bn)
	return cmd
}

// maxHPOTrials bounds the trials one study may be asked to hold.
const maxHPOTrials = 1000000

// openStorage opens --storage, which must exist: a SQLite path without a
// file is a typo, not a new empty study database (hpo create makes one).
func (f *hpoOptions) openStorage(ctx context.Context) (*storage.DB, error) {
	st, err := storage.OpenExisting(ctx, f.storage)
	if errors.Is(err, storage.ErrNoDatabase) {
		return nil, fmt.Errorf("%w (check the path; argus hpo create --create makes a new one)", err)
	}
	return st, err
}

// openStudy opens --storage and loads --study from it.
func (f *hpoOptions) openStudy(ctx context.Context) (*hpo.Study, func(), error) {
	st, err := f.openStorage(ctx)
	if err != nil {
		return nil, nil, err
	}
	s, err := hpo.Load(ctx, st, f.study)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return s, func() { st.Close() }, nil
}

func (f *hpoOptions) create(cmd *cobra.Command, _ []string) error {
	var space hpo.Space
	if f.spaceFile != "" {
		b, err := os.ReadFile(f.spaceFile)
		if err != nil {
			return err
		}
		if space, err = hpo.ParseSpace(b); err != nil {
			return fmt.Errorf("%s: %w", f.spaceFile, err)
		}
	}
	for _, s := range f.params {
		p, err := hpo.ParseParam(s)
		if err != nil {
			return err
		}
		space.Params = append(space.Params, p)
	}
	if len(space.Params) == 0 {
		return errors.New("no search space: give --param or --space")
	}
	if err := space.Validate(); err != nil {
		return err
	}
	sc := hpo.SamplerConfig{Name: f.sampler, Seed: f.seed, Startup: f.startup}
	if _, err := sampler.New(sc); err != nil {
		return err
	}
	info := hpo.StudyInfo{Name: f.study, Direction: hpo.Direction(f.direction), Space: space,
		Sampler: sc, Pruner: hpo.PrunerConfig{Name: f.pruner}}
	// Everything is checked before a database is made.
	if err := info.Validate(); err != nil {
		return err
	}
	ctx := cmd.Context()
	// The one command that makes a new database, and says so.
	newDB := ""
	st, err := storage.OpenExisting(ctx, f.storage)
	if errors.Is(err, storage.ErrNoDatabase) {
		if !f.createDB {
			return fmt.Errorf("%w; add --create to make a new database there", err)
		}
		newDB = storage.FilePath(f.storage)
		st, err = storage.Open(ctx, f.storage)
	}
	if err != nil {
		return err
	}
	s, err := hpo.Create(ctx, st, info)
	st.Close()
	if err != nil {
		if newDB != "" {
			// Leave no empty database behind a failed create.
			for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
				os.Remove(newDB + suffix)
			}
		}
		return err
	}
	if f.json {
		return printJSON(cmd, s.Info)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "created study %s (%s, %d parameters, sampler %s, pruner %s)\n",
		s.Info.Name, s.Info.Direction, len(space.Params), sc.Name, f.pruner)
	if newDB != "" {
		fmt.Fprintf(cmd.OutOrStdout(), "in the new database %s\n", newDB)
	}
	return nil
}

func (f *hpoOptions) run(cmd *cobra.Command, args []string) error {
	if cmd.ArgsLenAtDash() < 0 && len(args) > 0 || cmd.ArgsLenAtDash() > 0 {
		return errors.New("give the command after --: argus hpo run --study S --trials N -- CMD ARGS...")
	}
	if len(args) == 0 {
		return errors.New("no command: argus hpo run --study S --trials N -- CMD ARGS...")
	}
	if f.staleAfter <= f.heartbeat {
		return fmt.Errorf("--stale-after %v must exceed --heartbeat %v", f.staleAfter, f.heartbeat)
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, closeFn, err := f.openStudy(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	if s.Sampler, err = sampler.New(s.Info.Sampler); err != nil {
		return err
	}
	s.MaxTrials, s.StaleAfter = f.trials, f.staleAfter
	s.Worker = f.workerName
	if s.Worker == "" {
		host, _ := os.Hostname()
		s.Worker = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
	sum, err := worker.Run(ctx, s, worker.Options{Command: args, Heartbeat: f.heartbeat, Timeout: f.timeout, Log: cmd.ErrOrStderr()})
	if ctx.Err() != nil && cmd.Context().Err() == nil {
		// SIGINT or SIGTERM: the command was stopped (its whole process
		// group) and its trial failed; the study goes on with the next run.
		return fmt.Errorf("%w after %d complete, %d pruned, %d failed trials; the running trial is FAILED, run again to go on",
			train.ErrInterrupted, sum.Complete, sum.Pruned, sum.Failed)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "worker %s: %d complete, %d pruned, %d failed\n", s.Worker, sum.Complete, sum.Pruned, sum.Failed)
	if sum.Failed > 0 && sum.Complete+sum.Pruned == 0 {
		return fmt.Errorf("all %d trials this worker ran failed; see argus hpo show", sum.Failed)
	}
	if f.json {
		return printJSON(cmd, sum)
	}
	return nil
}

// showResult is the JSON of `hpo show`.
type showResult struct {
	Study     string         `json:"study"`
	Direction hpo.Direction  `json:"direction"`
	Sampler   string         `json:"sampler"`
	Trials    int            `json:"trials"`
	Counts    map[string]int `json:"counts"`
	Best      *hpo.TrialJSON `json:"best"`
}

func (f *hpoOptions) show(cmd *cobra.Command, _ []string) error {
	s, closeFn, err := f.openStudy(cmd.Context())
	if err != nil {
		return err
	}
	defer closeFn()
	trials, err := s.Trials(cmd.Context())
	if err != nil {
		return err
	}
	r := showResult{Study: s.Info.Name, Direction: s.Info.Direction, Sampler: s.Info.Sampler.Name, Trials: len(trials), Counts: map[string]int{}}
	for _, st := range []hpo.State{hpo.Waiting, hpo.Running, hpo.Complete, hpo.Pruned, hpo.Failed} {
		r.Counts[string(st)] = 0
	}
	for _, t := range trials {
		r.Counts[string(t.State)]++
	}
	if b, ok := hpo.Best(s.Info.Direction, trials); ok {
		j := s.Info.Space.Export(b)
		r.Best = &j
	}
	if f.json {
		return printJSON(cmd, r)
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "study %s (%s, sampler %s): %d trials\n", r.Study, r.Direction, r.Sampler, r.Trials)
	for _, st := range []string{"COMPLETE", "PRUNED", "FAILED", "RUNNING", "WAITING"} {
		fmt.Fprintf(w, "  %-8s %d\n", st, r.Counts[st])
	}
	if r.Best == nil {
		fmt.Fprintln(w, "no complete feasible trial yet")
		return nil
	}
	names := make([]string, 0, len(r.Best.Params))
	for n := range r.Best.Params {
		names = append(names, n)
	}
	sort.Strings(names)
	var ps []string
	for _, n := range names {
		ps = append(ps, fmt.Sprintf("%s=%v", n, r.Best.Params[n]))
	}
	fmt.Fprintf(w, "best: trial %d, objective %g, %s\n", r.Best.Number, *r.Best.Value, strings.Join(ps, " "))
	return nil
}

func (f *hpoOptions) export(cmd *cobra.Command, _ []string) error {
	if f.format != "csv" && f.format != "json" {
		return fmt.Errorf("--format %q: want csv or json", f.format)
	}
	if f.json && f.exportOut == "-" {
		// stdout holds the trials themselves then.
		return errors.New("--json prints a summary of the file written: give --out FILE")
	}
	if f.exportOut != "-" {
		if err := checkNotInput(namedPath{"--out", f.exportOut}, namedPath{"the --storage database", storage.FilePath(f.storage)}); err != nil {
			return err
		}
	}
	s, closeFn, err := f.openStudy(cmd.Context())
	if err != nil {
		return err
	}
	defer closeFn()
	trials, err := s.Trials(cmd.Context())
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if f.format == "csv" {
		err = hpo.WriteCSV(&buf, s.Info.Space, trials)
	} else {
		err = hpo.WriteJSON(&buf, s.Info, trials)
	}
	if err != nil {
		return err
	}
	if f.exportOut == "-" {
		_, err = cmd.OutOrStdout().Write(buf.Bytes())
		return err
	}
	if err := atomicfile.WriteFile(f.exportOut, buf.Bytes()); err != nil {
		return err
	}
	if f.json {
		return printJSON(cmd, map[string]any{"out": f.exportOut, "format": f.format, "trials": len(trials)})
	}
	fmt.Fprintf(cmd.OutOrStdout(), "wrote %d trials to %s\n", len(trials), f.exportOut)
	return nil
}

func (f *hpoOptions) enqueue(cmd *cobra.Command, _ []string) error {
	vals := map[string]string{}
	for _, kv := range f.set {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("--set %q: want NAME=VALUE", kv)
		}
		vals[k] = v
	}
	s, closeFn, err := f.openStudy(cmd.Context())
	if err != nil {
		return err
	}
	defer closeFn()
	n, err := s.Enqueue(cmd.Context(), vals)
	if err != nil {
		return err
	}
	if f.json {
		return printJSON(cmd, map[string]int{"number": n})
	}
	fmt.Fprintf(cmd.OutOrStdout(), "enqueued trial %d\n", n)
	return nil
}

func (f *hpoOptions) plot(cmd *cobra.Command, _ []string) error {
	s, closeFn, err := f.openStudy(cmd.Context())
	if err != nil {
		return err
	}
	defer closeFn()
	trials, err := s.Trials(cmd.Context())
	if err != nil {
		return err
	}
	dir := f.plotOut
	hist, imp := filepath.Join(dir, "history.png"), filepath.Join(dir, "importance.png")
	for _, out := range []string{hist, imp} {
		if err := checkNotInput(namedPath{"plot", out}, namedPath{"the --storage database", storage.FilePath(f.storage)}); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := plot.History(hist, s.Info, trials); err != nil {
		return err
	}
	if err := plot.Importance(imp, s.Info, trials); err != nil {
		return err
	}
	if f.json {
		return printJSON(cmd, map[string]any{"history": hist, "importance": imp, "importances": hpo.Importance(s.Info.Space, trials)})
	}
	fmt.Fprintf(cmd.OutOrStdout(), "wrote %s and %s\n", hist, imp)
	return nil
}

func (f *hpoOptions) bench(cmd *cobra.Command, _ []string) error {
	// The bar appears with the first seed, so that refusals print nothing
	// but their error line.
	bar := progress.New(cmd.ErrOrStderr(), f.function+" "+f.benchSampler, "seeds", f.seeds)
	bar.Start(0)
	res, err := bench.Compare(f.function, f.benchSampler, f.benchTrials, f.seeds, bar.Set)
	if err != nil {
		bar.Abort()
		return err
	}
	bar.Finish()
	if f.json {
		return printJSON(cmd, res)
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "%s, sampler %s, %d seeds: regret median [q1, q3]\n", res.Function, res.Sampler, res.Seeds)
	for _, a := range res.At {
		fmt.Fprintf(w, "  after %4d trials: %.4g [%.4g, %.4g]\n", a.Trials, a.Median, a.Q1, a.Q3)
	}
	return nil
}
