// Package worker runs a study's trials as commands: each trial's
// parameters go to the command as flags and environment variables, its
// stdout is read for intermediate values and the objective, a heartbeat
// keeps the trial alive in the storage, and a pruned, crashed or silent
// command ends its trial in the right state.
package worker

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"argus/hpo"
)

// Options controls Run.
type Options struct {
	// Command is the program and its arguments; the trial's parameters are
	// appended as --name=value.
	Command []string
	// Heartbeat is the interval between heartbeats (default 5s).
	Heartbeat time.Duration
	// Timeout, when positive, fails a trial whose command runs longer.
	Timeout time.Duration
	// Log receives progress lines and the commands' stderr; nil discards.
	Log io.Writer
}

// outputGrace is how long the worker still reads a command's stdout after
// the command has exited, for output that a process it left behind holds.
const outputGrace = 5 * time.Second

// MaxLine is the longest line a trial's command may print on stdout; a
// longer one fails the trial and stops the command.
const MaxLine = 16 << 20

// Summary counts the trials one Run ended, by state.
type Summary struct {
	Complete int `json:"complete"`
	Pruned   int `json:"pruned"`
	Failed   int `json:"failed"`
}

// Env returns the environment variables that give a trial's parameters:
// ARGUS_STUDY, ARGUS_TRIAL and ARGUS_PARAM_<NAME> (upper case, with
// characters other than letters and digits as '_').
func Env(study string, space *hpo.Space, t hpo.Trial) []string {
	env := []string{"ARGUS_STUDY=" + study, fmt.Sprintf("ARGUS_TRIAL=%d", t.Number)}
	for i := range space.Params {
		p := &space.Params[i]
		v, ok := t.Params[p.Name]
		if !ok {
			continue
		}
		env = append(env, "ARGUS_PARAM_"+envName(p.Name)+"="+p.Format(v))
	}
	return env
}

func envName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		}
		return '_'
	}, s)
}

// Flags returns the parameters as --name=value flags in space order.
func Flags(space *hpo.Space, t hpo.Trial) []string {
	var out []string
	for i := range space.Params {
		p := &space.Params[i]
		if v, ok := t.Params[p.Name]; ok {
			out = append(out, "--"+p.Name+"="+p.Format(v))
		}
	}
	return out
}

// Run runs trials until the study's MaxTrials is reached or ctx ends.
// Trial failures are recorded in the study and do not stop the run;
// storage errors do.
func Run(ctx context.Context, s *hpo.Study, opt Options) (Summary, error) {
	var sum Summary
	if len(opt.Command) == 0 {
		return sum, errors.New("no command to run")
	}
	if s.MaxTrials <= 0 {
		return sum, errors.New("the number of trials must be positive")
	}
	if opt.Heartbeat <= 0 {
		opt.Heartbeat = 5 * time.Second
	}
	log := opt.Log
	if log == nil {
		log = io.Discard
	}
	start := time.Now()
	for ctx.Err() == nil {
		t, err := s.Ask(ctx)
		if errors.Is(err, hpo.ErrBudget) {
			// Trials other workers still run may go stale and come back
			// as retries; wait for them when staleness is watched.
			if s.StaleAfter <= 0 {
				return sum, nil
			}
			busy, err := othersRunning(ctx, s)
			if err != nil {
				return sum, err
			}
			if !busy {
				return sum, nil
			}
			select {
			case <-ctx.Done():
			case <-time.After(opt.Heartbeat):
			}
			continue
		}
		if err != nil {
			return sum, err
		}
		state, err := runTrial(ctx, s, t, opt, log)
		switch state {
		case hpo.Complete:
			sum.Complete++
		case hpo.Pruned:
			sum.Pruned++
		case hpo.Failed:
			sum.Failed++
		}
		if err != nil {
			return sum, err
		}
		progress(ctx, s, log, start, sum)
	}
	return sum, ctx.Err()
}

// runTrial runs one trial's command and ends the trial; the error is for
// storage problems only.
func runTrial(ctx context.Context, s *hpo.Study, t hpo.Trial, opt Options, log io.Writer) (hpo.State, error) {
	space := &s.Info.Space
	args := append(append([]string(nil), opt.Command[1:]...), Flags(space, t)...)
	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if opt.Timeout > 0 {
		tctx, cancel = context.WithTimeout(tctx, opt.Timeout)
		defer cancel()
	}
	cmd := exec.CommandContext(tctx, opt.Command[0], args...)
	cmd.Env = append(os.Environ(), Env(s.Info.Name, space, t)...)
	setGroup(cmd)
	cmd.WaitDelay = 5 * time.Second
	stderr := &tail{w: log}
	cmd.Stderr = stderr
	// Stdout is a pipe of our own rather than StdoutPipe, so that Wait can
	// run beside the reading: a background process the command leaves
	// holding stdout must not keep the trial open once the command ends.
	out, pw, err := os.Pipe()
	if err != nil {
		return fail(ctx, s, t, "start: "+err.Error(), log)
	}
	defer out.Close()
	cmd.Stdout = pw
	fmt.Fprintf(log, "trial %d: %s\n", t.Number, strings.Join(Flags(space, t), " "))
	err = cmd.Start()
	pw.Close()
	if err != nil {
		return fail(ctx, s, t, "start: "+err.Error(), log)
	}
	var waitErr error
	exited := make(chan struct{})
	go func() {
		// What the trial's command left running ends with it, and the
		// rest of its output is read for at most outputGrace.
		exitSeen := awaitExit(cmd)
		if exitSeen {
			endGroup(cmd)
			out.SetReadDeadline(time.Now().Add(outputGrace))
		}
		waitErr = cmd.Wait()
		if errors.Is(waitErr, exec.ErrWaitDelay) {
			// The command succeeded; a process that escaped its
			// group still holds its stderr.
			waitErr = nil
		}
		if !exitSeen {
			out.SetReadDeadline(time.Now().Add(outputGrace))
		}
		close(exited)
	}()

	// The heartbeat stops the command when the trial was taken away.
	var lost atomic.Bool
	go func() {
		tick := time.NewTicker(opt.Heartbeat)
		defer tick.Stop()
		for {
			select {
			case <-tctx.Done():
				return
			case <-tick.C:
				if err := s.Storage.Beat(tctx, t.ID); errors.Is(err, hpo.ErrNotRunning) {
					lost.Store(true)
					cancel()
					return
				}
			}
		}
	}()

	var last *Line
	var lastBad error
	pruned := false
	var storeErr error
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64*1024), MaxLine)
	for sc.Scan() {
		l, err := ParseLine(sc.Bytes())
		if errors.Is(err, ErrNotJSON) {
			fmt.Fprintf(log, "%s\n", sc.Bytes())
			continue
		}
		if err != nil {
			last, lastBad = nil, err
			continue
		}
		last, lastBad = &l, nil
		if l.Step >= 0 && !pruned && storeErr == nil {
			prune, err := s.Report(ctx, &t, l.Step, l.Intermediate)
			if err != nil {
				storeErr = err
				cancel()
				continue
			}
			if prune {
				pruned = true
				cancel()
			}
		}
	}
	readErr := sc.Err()
	if errors.Is(readErr, os.ErrDeadlineExceeded) {
		// The command ended; something it started still held stdout.
		readErr = nil
	}
	if readErr != nil {
		// Nothing reads the command's stdout any more: stop it, or it
		// blocks on its next write and never ends.
		cancel()
	}
	<-exited
	cancel()
	switch {
	case storeErr != nil:
		if errors.Is(storeErr, hpo.ErrNotRunning) {
			return hpo.Failed, nil
		}
		return hpo.Failed, storeErr
	case lost.Load():
		fmt.Fprintf(log, "trial %d: no longer running in the storage; result dropped\n", t.Number)
		return hpo.Failed, nil
	case pruned:
		if err := s.Prune(ctx, t, fmt.Sprintf("pruned at step %d", t.LastStep())); err != nil {
			return hpo.Failed, notRunningOK(err)
		}
		fmt.Fprintf(log, "trial %d: PRUNED at step %d\n", t.Number, t.LastStep())
		return hpo.Pruned, nil
	case ctx.Err() != nil:
		return fail(context.WithoutCancel(ctx), s, t, "interrupted", log)
	case errors.Is(readErr, bufio.ErrTooLong):
		return fail(ctx, s, t, fmt.Sprintf("the command printed a line longer than %d MiB on stdout; stopped it", MaxLine>>20), log)
	case readErr != nil:
		return fail(ctx, s, t, "read output: "+readErr.Error(), log)
	case waitErr != nil:
		reason := "command failed: " + waitErr.Error()
		if tctx.Err() == context.DeadlineExceeded {
			reason = fmt.Sprintf("command ran longer than %v", opt.Timeout)
		}
		if msg := stderr.last(); msg != "" {
			reason += ": " + msg
		}
		return fail(ctx, s, t, reason, log)
	case lastBad != nil:
		return fail(ctx, s, t, "last JSON line: "+lastBad.Error(), log)
	case last == nil || !last.HasObjective:
		return fail(ctx, s, t, `no objective: the last JSON line on stdout must hold "objective"`, log)
	}
	for step, v := range last.Values {
		if _, ok := t.Intermediate[step]; ok {
			continue
		}
		if err := s.Storage.Report(ctx, t.ID, step, v); err != nil {
			return hpo.Failed, notRunningOK(err)
		}
	}
	if err := s.Tell(ctx, t, last.Objective, last.Constraints); err != nil {
		return hpo.Failed, notRunningOK(err)
	}
	fmt.Fprintf(log, "trial %d: COMPLETE objective %s\n", t.Number, fmtFloat(last.Objective))
	return hpo.Complete, nil
}

func fmtFloat(v float64) string {
	if math.Abs(v) < 1e-4 && v != 0 || math.Abs(v) >= 1e6 {
		return fmt.Sprintf("%.6g", v)
	}
	return fmt.Sprintf("%.6f", v)
}

// notRunningOK drops ErrNotRunning: a trial taken away meanwhile (failed
// as stale) is the study's business, not the worker's.
func notRunningOK(err error) error {
	if errors.Is(err, hpo.ErrNotRunning) {
		return nil
	}
	return err
}

func fail(ctx context.Context, s *hpo.Study, t hpo.Trial, reason string, log io.Writer) (hpo.State, error) {
	fmt.Fprintf(log, "trial %d: FAILED: %s\n", t.Number, reason)
	return hpo.Failed, notRunningOK(s.Fail(ctx, t, reason))
}

// tail passes a command's stderr on and remembers its last line.
type tail struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.w.Write(p)
	t.buf = append(t.buf, p...)
	if len(t.buf) > 4096 {
		t.buf = t.buf[len(t.buf)-4096:]
	}
	return len(p), nil
}

func (t *tail) last() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := strings.Split(strings.TrimSpace(string(t.buf)), "\n")
	s := strings.TrimSpace(lines[len(lines)-1])
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

func othersRunning(ctx context.Context, s *hpo.Study) (bool, error) {
	trials, err := s.Trials(ctx)
	if err != nil {
		return false, err
	}
	for _, t := range trials {
		if t.State == hpo.Running || t.State == hpo.Waiting {
			return true, nil
		}
	}
	return false, nil
}

// progress prints the study's state after a trial: trials held, the best
// value, this worker's rate and the time left at that rate.
func progress(ctx context.Context, s *hpo.Study, log io.Writer, start time.Time, sum Summary) {
	trials, err := s.Trials(ctx)
	if err != nil {
		return
	}
	n := 0
	for _, t := range trials {
		if !t.Stale && t.State.Finished() {
			n++
		}
	}
	best := "none"
	if b, ok := hpo.Best(s.Info.Direction, trials); ok {
		best = fmtFloat(*b.Value) + fmt.Sprintf(" (trial %d)", b.Number)
	}
	mine := sum.Complete + sum.Pruned + sum.Failed
	per := time.Since(start) / time.Duration(mine)
	left := time.Duration(max(s.MaxTrials-n, 0)) * per
	fmt.Fprintf(log, "[%d/%d trials done, best %s, %.1fs/trial here, about %v left at this rate]\n",
		n, s.MaxTrials, best, per.Seconds(), left.Round(time.Second))
}
