package train

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"argus/checkpoint"
	"argus/nn"
)

// trainChild is a training child process (see child) and its step lines.
type trainChild struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines *bufio.Scanner
	err   bytes.Buffer
}

func startChild(t *testing.T, out string, resume, lockstep bool) *trainChild {
	t.Helper()
	c := &trainChild{cmd: exec.Command(os.Args[0], "-test.run=^$")}
	c.cmd.Env = append(os.Environ(), "ARGUS_TRAIN_CHILD=1", "ARGUS_TRAIN_OUT="+out)
	if resume {
		c.cmd.Env = append(c.cmd.Env, "ARGUS_TRAIN_RESUME=1")
	}
	if lockstep {
		c.cmd.Env = append(c.cmd.Env, "ARGUS_TRAIN_LOCKSTEP=1")
	}
	c.cmd.Stderr = &c.err
	var err error
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.lines = bufio.NewScanner(stdout)
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return c
}

// next reads the next step line: its step number and loss; ok is false at
// the end of the output.
func (c *trainChild) next(t *testing.T) (step int, loss float64, ok bool) {
	t.Helper()
	if !c.lines.Scan() {
		return 0, 0, false
	}
	f := strings.Fields(c.lines.Text())
	if len(f) != 3 || f[0] != "step" {
		t.Fatalf("child printed %q", c.lines.Text())
	}
	step, err1 := strconv.Atoi(f[1])
	loss, err2 := strconv.ParseFloat(f[2], 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("child printed %q", c.lines.Text())
	}
	return step, loss, true
}

// wait returns the child's exit code, -1 when a signal ended it.
func (c *trainChild) wait(t *testing.T) int {
	t.Helper()
	c.stdin.Close()
	err := c.cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return c.cmd.ProcessState.ExitCode()
}

// expectLosses reads the child's remaining step lines and checks them
// against the uninterrupted run's, from step first.
func expectLosses(t *testing.T, c *trainChild, ref []float64, first int) {
	t.Helper()
	want := first
	for {
		step, loss, ok := c.next(t)
		if !ok {
			break
		}
		if step != want {
			t.Fatalf("resumed run took step %d, want %d", step, want)
		}
		if loss != ref[step-1] {
			t.Fatalf("step %d: resumed loss %v, uninterrupted %v", step, loss, ref[step-1])
		}
		want++
	}
	if want != len(ref)+1 {
		t.Fatalf("resumed run stopped before step %d of %d: %s", want, len(ref), c.err.String())
	}
}

func checkpointStep(t *testing.T, path string) (epoch, step int) {
	t.Helper()
	f, err := checkpoint.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	epoch, _ = strconv.Atoi(f.Metadata[checkpoint.MetaEpoch])
	step, _ = strconv.Atoi(f.Metadata[checkpoint.MetaStep])
	return epoch, step
}

func finalState(t *testing.T, out string) []nn.State {
	t.Helper()
	cfg := testConfig()
	tr, err := New(cfg, newTestTask(cfg, testN, testBatch, buildTiny))
	if err != nil {
		t.Fatal(err)
	}
	if err := restoreFrom(tr, filepath.Join(out, CheckpointName)); err != nil {
		t.Fatal(err)
	}
	return nn.StateDict(tr.Task.Module)
}

// TestKillMidEpochThenResume kills a training process with SIGKILL in the
// middle of its second epoch; resuming from the checkpoint of the first
// repeats the uninterrupted run's losses bit for bit, the killed steps
// included, and ends with the same weights.
func TestKillMidEpochThenResume(t *testing.T) {
	ref, refState := uninterrupted(t)
	out := t.TempDir()
	c := startChild(t, out, false, true)
	killAt := testSteps + 3
	for {
		step, loss, ok := c.next(t)
		if !ok {
			t.Fatalf("child ended early: %s", c.err.String())
		}
		if loss != ref[step-1] {
			t.Fatalf("step %d: loss %v, in-process run %v", step, loss, ref[step-1])
		}
		if step == killAt {
			break // the child waits for stdin: it is in epoch 2, after step killAt
		}
		io.WriteString(c.stdin, "go\n")
	}
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if code := c.wait(t); code != -1 {
		t.Fatalf("killed child exited %d", code)
	}
	if epoch, step := checkpointStep(t, filepath.Join(out, CheckpointName)); epoch != 1 || step != testSteps {
		t.Fatalf("checkpoint after the kill is at epoch %d step %d, want the end of epoch 1 (step %d)", epoch, step, testSteps)
	}
	r := startChild(t, out, true, false)
	expectLosses(t, r, ref, testSteps+1)
	if code := r.wait(t); code != 0 {
		t.Fatalf("resumed child exited %d: %s", code, r.err.String())
	}
	sameState(t, finalState(t, out), refState)
	raw, err := os.ReadFile(filepath.Join(out, MetricsName))
	if err != nil {
		t.Fatal(err)
	}
	// 3 records a epoch for 12 steps logged every 4, and the eval record.
	if n := strings.Count(string(raw), "\n"); n != 3*4 {
		t.Errorf("metrics.jsonl has %d lines, want 12:\n%s", n, raw)
	}
}

// TestInterruptSavesAndResumes sends SIGINT in the middle of an epoch: the
// process finishes its step, saves a checkpoint there and exits 130; a
// resumed run continues with the next step exactly.
func TestInterruptSavesAndResumes(t *testing.T) {
	ref, refState := uninterrupted(t)
	out := t.TempDir()
	c := startChild(t, out, false, true)
	sigAt := testSteps + 5
	for {
		step, _, ok := c.next(t)
		if !ok {
			t.Fatalf("child ended before step %d: %s", sigAt, c.err.String())
		}
		if step == sigAt {
			break
		}
		io.WriteString(c.stdin, "go\n")
	}
	// The child waits in step sigAt's hook; once it has the signal, let it
	// finish the step: it must stop right after it.
	if err := c.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if !c.lines.Scan() || c.lines.Text() != "signalled" {
		t.Fatalf("child printed %q, want the signal's announcement", c.lines.Text())
	}
	io.WriteString(c.stdin, "go\n")
	if step, _, ok := c.next(t); ok {
		t.Fatalf("child went on to step %d after the signal", step)
	}
	if code := c.wait(t); code != 130 {
		t.Fatalf("interrupted child exited %d, want 130: %s", code, c.err.String())
	}
	if epoch, step := checkpointStep(t, filepath.Join(out, CheckpointName)); epoch != 1 || step != sigAt {
		t.Fatalf("checkpoint at epoch %d step %d, want the step the child finished (%d)", epoch, step, sigAt)
	}
	r := startChild(t, out, true, false)
	expectLosses(t, r, ref, sigAt+1)
	if code := r.wait(t); code != 0 {
		t.Fatalf("resumed child exited %d: %s", code, r.err.String())
	}
	sameState(t, finalState(t, out), refState)
}

// TestTimeBudgetStopsResumably gives a session a budget that ends after
// its first step: it stops cleanly with a mid-epoch checkpoint, and the
// next session repeats the uninterrupted run.
func TestTimeBudgetStopsResumably(t *testing.T) {
	ref, refState := uninterrupted(t)
	out := t.TempDir()
	cfg := testConfig()
	cfg.MaxMinutes = 1e-12
	tr, err := New(cfg, newTestTask(cfg, testN, testBatch, buildTiny))
	if err != nil {
		t.Fatal(err)
	}
	var first losses
	res, err := tr.Run(context.Background(), Options{Out: out, OnStep: first.hook})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stopped != "max-minutes" || res.Step != 1 || len(first.steps) != 1 || first.steps[0] != ref[0] {
		t.Fatalf("budgeted session: %+v, losses %v", res, first.steps)
	}
	if res.Checkpoint != filepath.Join(out, CheckpointName) {
		t.Errorf("result names checkpoint %q", res.Checkpoint)
	}
	cfg.MaxMinutes = 0
	next, err := New(cfg, newTestTask(cfg, testN, testBatch, buildTiny))
	if err != nil {
		t.Fatal(err)
	}
	if err := restoreFrom(next, res.Checkpoint); err != nil {
		t.Fatal(err)
	}
	var rest losses
	if _, err := next.Run(context.Background(), Options{Out: out, OnStep: rest.hook}); err != nil {
		t.Fatal(err)
	}
	got := append(first.steps, rest.steps...)
	if len(got) != len(ref) {
		t.Fatalf("%d steps, want %d", len(got), len(ref))
	}
	for i := range ref {
		if got[i] != ref[i] {
			t.Fatalf("step %d: loss %v, uninterrupted %v", i+1, got[i], ref[i])
		}
	}
	sameState(t, nn.StateDict(next.Task.Module), refState)
}
