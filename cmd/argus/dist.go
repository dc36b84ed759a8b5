package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"argus/autograd"
	"argus/dist"
	"argus/nn"
	"argus/tasks/classify"
	"argus/train"
)

// distFlags are the data-parallel flags of every `argus train <task>`:
// under mpirun (with an argus built with -tags mpi) each process is one
// rank and trains on its share of every global batch.
type distFlags struct {
	allreduce           string
	firstBucket, bucket string
}

func (d *distFlags) add(f *pflag.FlagSet) {
	f.StringVar(&d.allreduce, "allreduce", "ring", "gradient all-reduce under mpirun: ring (MPI_Allreduce) or butterfly (reduce-scatter then all-gather, Deep Image's)")
	f.StringVar(&d.firstBucket, "first-bucket", "1M", "size of the first gradient bucket reduced during the backward pass (K, M, G: KiB, MiB, GiB)")
	f.StringVar(&d.bucket, "bucket", "25M", "size of the later gradient buckets (K, M, G: KiB, MiB, GiB)")
}

// parallel is a process's part in a training run: its communicator (of
// one process outside mpirun) and how it reduces gradients.
type parallel struct {
	comm dist.Comm
	opt  dist.ReducerOptions
	red  *dist.Reducer
	// stderr is the command's, kept for finish: every rank but 0 runs
	// with the command's output discarded.
	stderr io.Writer
}

// failGrace is how long a rank other than 0 that failed waits for rank 0
// to report the same failure and end the run, before it says its own.
const failGrace = 5 * time.Second

// open reads the flags and opens the run's communicator; the caller must
// end with finish. On every rank but 0 the command's stdout and stderr are
// discarded from then on, so that one report and one progress bar come
// out.
func (d *distFlags) open(cmd *cobra.Command) (*parallel, error) {
	alg, err := dist.ParseAlgorithm(d.allreduce)
	if err != nil {
		return nil, fmt.Errorf("--allreduce: %w", err)
	}
	first, err := parseBytes(d.firstBucket)
	if err != nil {
		return nil, fmt.Errorf("--first-bucket: %w", err)
	}
	later, err := parseBytes(d.bucket)
	if err != nil {
		return nil, fmt.Errorf("--bucket: %w", err)
	}
	c, err := dist.Open()
	if err != nil {
		return nil, err
	}
	p := &parallel{comm: c, opt: dist.ReducerOptions{Algorithm: alg, FirstBucketBytes: first, BucketBytes: later}, stderr: cmd.ErrOrStderr()}
	if c.Rank() != 0 {
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
	}
	return p, nil
}

// Rank and Size are the process's rank and the number of processes.
func (p *parallel) Rank() int { return p.comm.Rank() }
func (p *parallel) Size() int { return p.comm.Size() }

// place returns a classification run's settings for this process: its
// rank and the number of processes set.
func (p *parallel) place(cfg classify.Config) classify.Config {
	cfg.Rank, cfg.World = p.Rank(), p.Size()
	return cfg
}

// sync returns the train.Sync of m's training under settings (the task's
// resolved config): nil in a run of one process; otherwise, once every
// rank is found to have rank 0's settings (agree), a Reducer of m's
// gradients, after every rank has taken rank 0's weights (they agree
// already when built from one seed or restored from one checkpoint; the
// broadcast makes sure).
func (p *parallel) sync(m nn.Module, settings any) (train.Sync, error) {
	if p.comm.Size() == 1 {
		return nil, nil
	}
	if err := p.agree(settings); err != nil {
		return nil, err
	}
	var vars []*autograd.Var
	for _, q := range nn.Parameters(m) {
		vars = append(vars, q.Var)
	}
	if err := dist.BroadcastParams(p.comm, vars, 0); err != nil {
		return nil, err
	}
	red, err := dist.NewReducer(p.comm, vars, p.opt)
	if err != nil {
		return nil, err
	}
	p.red = red
	return red, nil
}

// errSettings reports ranks started with other settings than rank 0's.
// Every rank returns it; rank 0 alone prints it.
type errSettings struct{ ranks []int }

func (e *errSettings) Error() string {
	return fmt.Sprintf("the settings of rank %v differ from rank 0's: start every rank with the same flags and --config", e.ranks)
}

// agree checks that every rank runs with rank 0's settings (a training
// config, with the all-reduce flags): ranks that differ would take
// different steps, or different collectives, and hang or diverge.
func (p *parallel) agree(settings any) error {
	n := p.comm.Size()
	if n == 1 {
		return nil
	}
	b, err := json.Marshal(struct {
		Settings     any
		Allreduce    string
		First, Later int
	}{settings, p.opt.Algorithm.String(), p.opt.FirstBucketBytes, p.opt.BucketBytes})
	if err != nil {
		return fmt.Errorf("encode settings: %w", err)
	}
	h := fnv.New64a()
	h.Write(b)
	sum := h.Sum64()
	// 16-bit pieces of the hash, exact in float32.
	mine := make([]float32, 4)
	for i := range mine {
		mine[i] = float32(sum >> (16 * i) & 0xffff)
	}
	root := slices.Clone(mine)
	if err := p.comm.Bcast(root, 0); err != nil {
		return fmt.Errorf("compare settings: %w", err)
	}
	differ := make([]float32, n)
	if !slices.Equal(mine, root) {
		differ[p.comm.Rank()] = 1
	}
	if err := p.comm.Allreduce(differ); err != nil {
		return fmt.Errorf("compare settings: %w", err)
	}
	var bad []int
	for r, d := range differ {
		if d != 0 {
			bad = append(bad, r)
		}
	}
	if bad != nil {
		return &errSettings{bad}
	}
	return nil
}

// distReport is the data-parallel part of a training report.
type distReport struct {
	Ranks     int    `json:"ranks"`
	Allreduce string `json:"allreduce"`
	Buckets   int    `json:"buckets"`
	// HiddenBuckets is the fraction of the buckets whose all-reduce ended
	// before the backward pass did; AllreduceSeconds the time in the
	// collectives, WaitSeconds the part of it the backward pass did not
	// hide, both summed over the session's steps on rank 0.
	HiddenBuckets    float64 `json:"hidden_buckets"`
	AllreduceSeconds float64 `json:"allreduce_seconds"`
	WaitSeconds      float64 `json:"wait_seconds"`
}

// report returns the session's data-parallel numbers, nil in a run of one
// process.
func (p *parallel) report() *distReport {
	if p.red == nil {
		return nil
	}
	st := p.red.Stats()
	r := &distReport{Ranks: p.comm.Size(), Allreduce: p.opt.Algorithm.String(), Buckets: len(p.red.Buckets()),
		AllreduceSeconds: st.ReduceSeconds, WaitSeconds: st.WaitSeconds}
	if st.Buckets > 0 {
		r.HiddenBuckets = float64(st.Hidden) / float64(st.Buckets)
	}
	return r
}

// finish ends the process's part in the run. When it fails in a run of
// several processes, the others may be waiting for it in a collective: it
// prints its error line, naming its rank, and aborts the whole run. An
// interruption is not a failure: the ranks agreed on the step to stop
// after (train.Sync), and end as one process does.
func (p *parallel) finish(cmd *cobra.Command, err error) error {
	if p.red != nil {
		p.red.Close()
	}
	var settings *errSettings
	if err != nil && p.comm.Size() > 1 && !errors.Is(err, train.ErrInterrupted) {
		switch {
		case errors.As(err, &settings) && p.comm.Rank() != 0:
			// Rank 0 says it; the abort must wait for its line.
			select {}
		case p.comm.Rank() != 0:
			// Most failures are every rank's (bad flags, data that cannot
			// be read, a resumed run with no epochs left): rank 0 says it
			// and aborts the run. A failure of this rank alone leaves rank
			// 0 waiting in a collective, and this rank says it after a
			// while.
			time.Sleep(failGrace)
		}
		fmt.Fprintf(p.stderr, "%s: rank %d of %d: %v\n", cmd.CommandPath(), p.comm.Rank(), p.comm.Size(), err)
		p.comm.Abort(exitCode(err))
	}
	if cerr := p.comm.Close(); cerr != nil && err == nil {
		return cerr
	}
	return err
}

// parseBytes reads a size in bytes with an optional binary suffix: K (KiB),
// M (MiB) or G (GiB).
func parseBytes(s string) (int, error) {
	mult := 1
	num := strings.TrimSpace(s)
	switch {
	case strings.HasSuffix(num, "K"):
		mult, num = 1<<10, num[:len(num)-1]
	case strings.HasSuffix(num, "M"):
		mult, num = 1<<20, num[:len(num)-1]
	case strings.HasSuffix(num, "G"):
		mult, num = 1<<30, num[:len(num)-1]
	}
	n, err := strconv.Atoi(num)
	if err != nil || n <= 0 || n > (1<<40)/mult {
		return 0, fmt.Errorf("size %q must be a positive number of bytes, with K, M or G for KiB, MiB, GiB", s)
	}
	return n * mult, nil
}
