package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"argus/checkpoint"
)

// TestTrainMNISTOut: a run folder that holds a run is not overwritten
// unless the run is resumed or --force is given, an --out that cannot hold
// a run is refused before any step, and a run never writes over its own
// --config file.
func TestTrainMNISTOut(t *testing.T) {
	data, dir := fakeMNIST(t), t.TempDir()
	out := filepath.Join(dir, "run")
	ckpt := filepath.Join(out, "checkpoint.safetensors")
	base := []string{"train", "mnist", "--data", data, "--epochs", "1", "--limit", "24", "--batch", "8"}
	if code, _, stderr := runCLI(append(base, "--out", out)...); code != 0 {
		t.Fatalf("first run: exit %d: %s", code, stderr)
	}
	before, err := os.ReadFile(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("not a folder"), 0o644)
	folderCkpt := filepath.Join(dir, "odd")
	os.MkdirAll(filepath.Join(folderCkpt, "checkpoint.safetensors"), 0o755)
	cfgInOut := filepath.Join(out, "config.yaml")
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"existing run", []string{"--out", out}, "--out " + out + " holds a run already: continue it with --resume " + ckpt + ", or replace it with --force"},
		{"existing run, other seed", []string{"--out", out, "--seed", "3"}, "holds a run already"},
		{"out is a file", []string{"--out", file}, "not a directory"},
		{"checkpoint is a folder", []string{"--out", folderCkpt}, "checkpoint.safetensors is not a regular file"},
		{"config in out", []string{"--out", out, "--config", cfgInOut, "--force"}, "is also the input " + cfgInOut},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(append(base, c.args...)...)
			if code == 0 || stdout != "" || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("exit %d, stdout %q, stderr %q; want one line with %q", code, stdout, stderr, c.want)
			}
			if strings.Contains(stderr, "epoch 1/") {
				t.Errorf("an epoch ran before the refusal: %q", stderr)
			}
			if after, _ := os.ReadFile(ckpt); !bytes.Equal(after, before) {
				t.Error("the existing run's checkpoint changed")
			}
		})
	}
	// --force replaces the run: its checkpoint now holds the new seed's.
	if code, _, stderr := runCLI(append(base, "--out", out, "--seed", "5", "--force")...); code != 0 {
		t.Fatalf("--force: exit %d: %s", code, stderr)
	}
	if after, _ := os.ReadFile(ckpt); bytes.Equal(after, before) {
		t.Error("--force left the old checkpoint")
	}
}

// TestTrainMNISTResumeRefuses: resuming refuses a checkpoint that cannot
// continue the run exactly, and a change of the data it trains on, naming
// the setting.
func TestTrainMNISTResumeRefuses(t *testing.T) {
	data, dir := fakeMNIST(t), t.TempDir()
	out := filepath.Join(dir, "run")
	ckpt := filepath.Join(out, "checkpoint.safetensors")
	if code, _, stderr := runCLI("train", "mnist", "--data", data, "--epochs", "1", "--limit", "24", "--batch", "8", "--out", out); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	f, err := checkpoint.ReadFile(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	noOptim := checkpoint.NewFile()
	noOptim.Metadata = f.Metadata
	for _, n := range f.Names {
		if !strings.HasPrefix(n, "optim/") {
			noOptim.Add(n, f.Tensors[n])
		}
	}
	stripped := filepath.Join(dir, "stripped.safetensors")
	if err := checkpoint.WriteFile(stripped, noOptim); err != nil {
		t.Fatal(err)
	}
	negative := checkpoint.NewFile()
	negative.Metadata = map[string]string{}
	for k, v := range f.Metadata {
		negative.Metadata[k] = v
	}
	negative.Metadata["train"] = strings.Replace(f.Metadata["train"], `"epoch":1`, `"epoch":-1`, 1)
	negative.Metadata["epoch"] = "-1"
	for _, n := range f.Names {
		negative.Add(n, f.Tensors[n])
	}
	neg := filepath.Join(dir, "negative.safetensors")
	if err := checkpoint.WriteFile(neg, negative); err != nil {
		t.Fatal(err)
	}
	other := fakeMNIST(t)
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"limit", []string{"--resume", ckpt, "--epochs", "2", "--limit", "16"}, "cannot change limit (24 in the checkpoint, 16 now)"},
		{"data", []string{"--resume", ckpt, "--epochs", "2", "--data", other}, "cannot change data (" + data},
		{"no optimiser state", []string{"--resume", stripped, "--epochs", "2", "--out", filepath.Join(dir, "s")}, "no optimiser state for conv1.weight"},
		{"negative epoch", []string{"--resume", neg, "--epochs", "2", "--out", filepath.Join(dir, "n")}, "none may be negative"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(append([]string{"train", "mnist"}, c.args...)...)
			if code == 0 || stdout != "" || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("exit %d, stdout %q, stderr %q; want one line with %q", code, stdout, stderr, c.want)
			}
		})
	}
	// The stored data folder is used when --data is not given again.
	if code, _, stderr := runCLI("train", "mnist", "--resume", ckpt, "--epochs", "2"); code != 0 {
		t.Errorf("resume without --data: exit %d: %s", code, stderr)
	}
}

// TestTrainMNISTConfigValues: a config file's values meet the checks of
// the flags: a NaN or out-of-range setting is refused by name before any
// step, so no NaN checkpoint is ever written.
func TestTrainMNISTConfigValues(t *testing.T) {
	data, dir := fakeMNIST(t), t.TempDir()
	for _, c := range []struct{ yaml, want string }{
		{"weight_decay: .nan\n", "weight decay must not be negative, got NaN"},
		{"momentum: .nan\n", "momentum must be in [0, 1), got NaN"},
		{"ema: .nan\n", "ema decay must be in [0, 1), got NaN"},
		{"gamma: -1\n", "gamma must be positive, got -1"},
		{"lr: .inf\n", "learning rate must be positive, got +Inf"},
		{"label_smoothing: .nan\n", "label smoothing must be in [0, 1), got NaN"},
		{"batch: 4000000000\n", "batch must be 1 to 65536, got 4000000000"},
		{"limit: -5\n", "limit must not be negative, got -5"},
		{"warmup: -5\n", "warmup must not be negative, got -5"},
	} {
		cfg := filepath.Join(dir, "run.yaml")
		os.WriteFile(cfg, []byte(c.yaml), 0o644)
		out := filepath.Join(dir, "run")
		code, stdout, stderr := runCLI("train", "mnist", "--data", data, "--config", cfg, "--out", out, "--json")
		if code == 0 || stdout != "" || stderr != "argus train mnist: "+c.want+"\n" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want %q", c.yaml, code, stdout, stderr, c.want)
		}
		if _, err := os.Stat(filepath.Join(out, "checkpoint.safetensors")); err == nil {
			t.Errorf("%q: a checkpoint was written", c.yaml)
		}
	}
}
