package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"argus/checkpoint"
	"argus/tasks/classify"
	"argus/train"
)

// TestMain runs the CLI when a test re-executes the test binary with
// ARGUS_CLI_ARGS set (a JSON array), so that tests can signal a real
// argus process.
func TestMain(m *testing.M) {
	if a := os.Getenv("ARGUS_CLI_ARGS"); a != "" {
		var args []string
		if err := json.Unmarshal([]byte(a), &args); err != nil {
			panic(err)
		}
		os.Exit(run(args, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func decodeReport(t *testing.T, stdout string) map[string]any {
	t.Helper()
	var rep map[string]any
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || strings.Count(stdout, "\n") != 1 {
		t.Fatalf("stdout is not one JSON object: %q", stdout)
	}
	return rep
}

// lastLine returns the last line of stderr and checks that it is the only
// error line.
func lastLine(t *testing.T, stderr string) string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	if n := strings.Count(stderr, "argus train mnist: "); n != 1 || strings.Contains(stderr, "goroutine") {
		t.Errorf("stderr has %d error lines: %q", n, stderr)
	}
	return lines[len(lines)-1]
}

func TestTrainMNISTConfig(t *testing.T) {
	code, stdout, stderr := runCLI("train", "mnist", "--print-config")
	if code != 0 {
		t.Fatalf("--print-config: exit %d: %s", code, stderr)
	}
	var printed classify.Config
	if err := train.DecodeConfig([]byte(stdout), &printed); err != nil || printed != classify.MNIST() {
		t.Fatalf("--print-config printed %q (%v), not the defaults", stdout, err)
	}
	data, out := fakeMNIST(t), t.TempDir()
	cfgFile := filepath.Join(t.TempDir(), "run.yaml")
	os.WriteFile(cfgFile, []byte("epochs: 1\nbatch: 8\nlr: 0.001\nwarmup: 2\nlog_every: 3\n"), 0o644)
	// The file sets the batch and the rate; the flag overrides the rate.
	code, stdout, stderr = runCLI("train", "mnist", "--data", data, "--config", cfgFile, "--lr", "0.003", "--out", out, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	rep := decodeReport(t, stdout)
	if rep["batch"].(float64) != 8 || rep["lr"].(float64) != 0.003 || rep["epochs"].(float64) != 1 || rep["steps"].(float64) != 12 {
		t.Errorf("report %v does not follow the config file and the flag", rep)
	}
	want := classify.MNIST()
	want.Epochs, want.Batch, want.LR, want.Warmup, want.LogEvery = 1, 8, 0.003, 2, 3
	want.Data, _ = filepath.Abs(data)
	var written classify.Config
	if err := train.ReadConfig(filepath.Join(out, "config.yaml"), &written); err != nil || written != want {
		t.Errorf("config.yaml holds %+v (%v), want %+v", written, err, want)
	}
	f, err := checkpoint.ReadFile(filepath.Join(out, "checkpoint.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	var stored classify.Config
	if err := train.StoredConfig(f, &stored); err != nil || stored != want {
		t.Errorf("checkpoint stores %+v (%v), want %+v", stored, err, want)
	}
	ckpt := filepath.Join(out, "checkpoint.safetensors")
	code, _, stderr = runCLI("train", "mnist", "--data", data, "--resume", ckpt, "--lr", "0.1", "--batch", "4")
	if code == 0 || !strings.Contains(lastLine(t, stderr), "cannot change batch (8 in the checkpoint, 4 now), lr (0.003 in the checkpoint, 0.1 now)") {
		t.Errorf("resume with another rate and batch: exit %d, %q", code, stderr)
	}
	code, stdout, stderr = runCLI("train", "mnist", "--data", data, "--resume", ckpt, "--json")
	if code == 0 || stdout != "" || !strings.Contains(lastLine(t, stderr), "nothing to do (raise epochs)") {
		t.Errorf("resume of a finished run: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, stdout, stderr = runCLI("train", "mnist", "--data", data, "--resume", ckpt, "--print-config", "--epochs", "3")
	want.Epochs = 3
	if err := train.DecodeConfig([]byte(stdout), &printed); code != 0 || err != nil || printed != want {
		t.Errorf("--print-config when resuming printed %q (%v, %s)", stdout, err, stderr)
	}
}

// TestTrainMNISTNonFinite: a learning rate that grows without bound in the
// second epoch makes the loss NaN; the run stops with one error line naming
// the step and the loss term, the JSON report still comes out (null for
// non-finite numbers), the first epoch's checkpoint is kept and resuming it
// repeats the run to the same failure.
func TestTrainMNISTNonFinite(t *testing.T) {
	data, out := fakeMNIST(t), t.TempDir()
	args := []string{"train", "mnist", "--data", data, "--epochs", "2", "--schedule", "step", "--gamma", "1e300", "--lr", "0.001", "--warmup", "0", "--out", out, "--json"}
	code, stdout, stderr := runCLI(args...)
	if code == 0 {
		t.Fatalf("exit 0: %s", stdout)
	}
	rep := decodeReport(t, stdout)
	if rep["train_loss"] != nil || rep["stopped"] != "non-finite" || rep["epochs"].(float64) != 1 {
		t.Errorf("report %v", rep)
	}
	ckpt := filepath.Join(out, "checkpoint.safetensors")
	line := lastLine(t, stderr)
	wantLine := "argus train mnist: step 8 (epoch 2): loss term cross_entropy is NaN; the last good checkpoint " + ckpt + " is kept"
	if line != wantLine {
		t.Errorf("error line %q, want %q", line, wantLine)
	}
	before, err := os.ReadFile(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := checkpoint.ReadFile(ckpt)
	if f.Metadata[checkpoint.MetaEpoch] != "1" || f.Metadata[checkpoint.MetaStep] != "6" {
		t.Errorf("checkpoint at epoch %s step %s, want the end of epoch 1", f.Metadata[checkpoint.MetaEpoch], f.Metadata[checkpoint.MetaStep])
	}
	code, _, stderr = runCLI("train", "mnist", "--data", data, "--resume", ckpt, "--json")
	if code == 0 || lastLine(t, stderr) != wantLine {
		t.Errorf("resumed run: exit %d, %q; want the same failure", code, stderr)
	}
	if after, _ := os.ReadFile(ckpt); !bytes.Equal(after, before) {
		t.Error("the failing resumed run changed the checkpoint")
	}
	code, _, stderr = runCLI("eval", "mnist", "--checkpoint", ckpt, "--data", data)
	if code != 0 {
		t.Errorf("the kept checkpoint does not evaluate: %s", stderr)
	}

	fresh := t.TempDir()
	code, stdout, stderr = runCLI("train", "mnist", "--data", data, "--lr", "1e308", "--out", fresh, "--json")
	if code == 0 {
		t.Fatal("exit 0")
	}
	rep = decodeReport(t, stdout)
	if rep["train_loss"] != nil || rep["test_accuracy"] != nil || rep["steps"].(float64) != 1 {
		t.Errorf("report %v", rep)
	}
	if line := lastLine(t, stderr); line != "argus train mnist: step 2 (epoch 1): loss term cross_entropy is NaN; no checkpoint was written" {
		t.Errorf("error line %q", line)
	}
}

func TestTrainMNISTMaxMinutes(t *testing.T) {
	data, out := fakeMNIST(t), t.TempDir()
	code, stdout, stderr := runCLI("train", "mnist", "--data", data, "--epochs", "1", "--max-minutes", "1e-9", "--out", out, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	rep := decodeReport(t, stdout)
	ckpt := filepath.Join(out, "checkpoint.safetensors")
	if rep["stopped"] != "max-minutes" || rep["steps"].(float64) != 1 || rep["checkpoint"] != ckpt {
		t.Errorf("report %v", rep)
	}
	if !strings.Contains(stderr, "stopped by --max-minutes after step 1; continue with --resume "+ckpt) {
		t.Errorf("stderr %q", stderr)
	}
	code, stdout, stderr = runCLI("train", "mnist", "--data", data, "--resume", ckpt, "--max-minutes", "0", "--json")
	if code != 0 {
		t.Fatalf("resume: exit %d: %s", code, stderr)
	}
	if rep = decodeReport(t, stdout); rep["steps"].(float64) != 6 || rep["stopped"] != nil {
		t.Errorf("resumed report %v", rep)
	}
}

// interruptAfter runs the CLI with args in a child process, sends it SIGINT
// once the file wait exists (the first checkpoint), and returns its output
// after checking that it exited 130. It fails rather than hangs when the
// file does not appear within two minutes.
func interruptAfter(t *testing.T, wait string, args ...string) (stdout, stderr *bytes.Buffer) {
	t.Helper()
	a, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "ARGUS_CLI_ARGS="+string(a))
	stdout, stderr = &bytes.Buffer{}, &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(wait); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("%s did not appear: %s", wait, stderr)
		}
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Fatalf("exit %d, want 130: %s", code, stderr)
	}
	return stdout, stderr
}

// TestTrainMNISTInterrupt sends SIGINT to a training process once its
// first checkpoint exists: it saves a checkpoint, prints its report and
// one error line, exits 130, and the checkpoint resumes.
func TestTrainMNISTInterrupt(t *testing.T) {
	data, out := fakeMNIST(t), t.TempDir()
	ckpt := filepath.Join(out, "checkpoint.safetensors")
	stdout, stderr := interruptAfter(t, ckpt, "train", "mnist", "--data", data, "--epochs", "100", "--out", out, "--json")
	rep := decodeReport(t, stdout.String())
	if rep["stopped"] != "interrupt" {
		t.Errorf("report %v", rep)
	}
	line := lastLine(t, stderr.String())
	if !strings.HasPrefix(line, "argus train mnist: interrupted after step ") || !strings.HasSuffix(line, "; continue with --resume "+ckpt) {
		t.Errorf("error line %q", line)
	}
	f, err := checkpoint.ReadFile(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	said := strings.TrimSuffix(strings.Fields(strings.TrimPrefix(line, "argus train mnist: interrupted after step "))[0], ";")
	if got := f.Metadata[checkpoint.MetaStep]; got != said {
		t.Errorf("checkpoint at step %s, error line says %s", got, said)
	}
	epochs := int(rep["epochs"].(float64)) + 1
	code, resumed, errs := runCLI("train", "mnist", "--data", data, "--resume", ckpt, "--epochs", strconv.Itoa(epochs), "--json")
	if code != 0 {
		t.Fatalf("resume: exit %d: %s", code, errs)
	}
	if rep := decodeReport(t, resumed); int(rep["epochs"].(float64)) != epochs || rep["stopped"] != nil {
		t.Errorf("resumed report %v", rep)
	}
}

func readMetrics(t *testing.T, path string) []train.Record {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var recs []train.Record
	for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var r train.Record
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		r.Seconds = 0 // time, which differs between runs
		recs = append(recs, r)
	}
	return recs
}

// TestTrainMNISTKillResume kills `argus train mnist` with SIGKILL after its
// first checkpoint, resumes it, and compares every step's loss (logged
// every step) and the final weights with an uninterrupted run's.
func TestTrainMNISTKillResume(t *testing.T) {
	data := fakeMNIST(t)
	args := []string{"train", "mnist", "--data", data, "--epochs", "3", "--log-every", "1", "--ema", "0.9", "--json"}
	ref := t.TempDir()
	code, stdout, stderr := runCLI(append(args, "--out", ref)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	// Training evaluated the moving average; so does eval --ema.
	trained := decodeReport(t, stdout)
	code, stdout, stderr = runCLI("eval", "mnist", "--checkpoint", filepath.Join(ref, "checkpoint.safetensors"), "--data", data, "--ema", "--json")
	if code != 0 {
		t.Fatalf("eval --ema: exit %d: %s", code, stderr)
	}
	if ev := decodeReport(t, stdout); ev["test_loss"] != trained["test_loss"] {
		t.Errorf("eval --ema: test loss %v, training's evaluation %v", ev["test_loss"], trained["test_loss"])
	}
	out := t.TempDir()
	a, _ := json.Marshal(append(args, "--out", out))
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "ARGUS_CLI_ARGS="+string(a))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ckpt := filepath.Join(out, "checkpoint.safetensors")
	for {
		if _, err := os.Stat(ckpt); err == nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	f, err := checkpoint.ReadFile(ckpt)
	if err != nil {
		t.Fatalf("the checkpoint left by the killed run: %v", err)
	}
	t.Logf("killed with the checkpoint of epoch %s written", f.Metadata[checkpoint.MetaEpoch])
	if code, _, stderr := runCLI("train", "mnist", "--data", data, "--resume", ckpt, "--json"); code != 0 {
		t.Fatalf("resume: exit %d: %s", code, stderr)
	}
	want, got := readMetrics(t, filepath.Join(ref, "metrics.jsonl")), readMetrics(t, filepath.Join(out, "metrics.jsonl"))
	if len(got) != len(want) || len(want) != 3*(6+1) {
		t.Fatalf("%d records, uninterrupted run %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Kind != w.Kind || g.Step != w.Step || g.Loss != w.Loss || g.LR != w.LR || g.Metrics["test_loss"] != w.Metrics["test_loss"] {
			t.Fatalf("record %d: %+v, uninterrupted %+v", i, g, w)
		}
	}
	fa, _ := checkpoint.ReadFile(filepath.Join(ref, "checkpoint.safetensors"))
	fb, _ := checkpoint.ReadFile(ckpt)
	for _, name := range fa.Names {
		if !bytes.Equal(fa.Tensors[name].Data, fb.Tensors[name].Data) {
			t.Fatalf("%s differs from the uninterrupted run's", name)
		}
	}
}
