package train

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"argus/checkpoint"
)

// TestPrepareOut: a run folder is checked before the first step: it must
// be writable, its file names free for files, and it must not hold another
// run unless that run is resumed or force replaces it.
func TestPrepareOut(t *testing.T) {
	run := func(t *testing.T, dir string) string {
		out := filepath.Join(dir, "run")
		os.MkdirAll(out, 0o755)
		for _, n := range runFiles {
			os.WriteFile(filepath.Join(out, n), []byte("old "+n), 0o644)
		}
		return out
	}
	for _, c := range []struct {
		name    string
		setup   func(t *testing.T, dir string) (out, resumed string)
		force   bool
		want    string // error substring, "" for none
		removed bool   // the old run's files are gone
	}{
		{"new folder", func(t *testing.T, dir string) (string, string) { return filepath.Join(dir, "a", "b"), "" }, false, "", false},
		{"empty folder", func(t *testing.T, dir string) (string, string) { return dir, "" }, false, "", false},
		{"existing run", func(t *testing.T, dir string) (string, string) { return run(t, dir), "" }, false, "holds a run already (checkpoint.safetensors)", false},
		{"existing run forced", func(t *testing.T, dir string) (string, string) { return run(t, dir), "" }, true, "", true},
		{"resumed run", func(t *testing.T, dir string) (string, string) {
			out := run(t, dir)
			return out, filepath.Join(out, CheckpointName)
		}, false, "", false},
		{"resumed into another run", func(t *testing.T, dir string) (string, string) {
			out := run(t, dir)
			other := filepath.Join(dir, "other.safetensors")
			os.WriteFile(other, []byte("x"), 0o644)
			return out, other
		}, false, "holds a run already", false},
		{"metrics only", func(t *testing.T, dir string) (string, string) {
			os.WriteFile(filepath.Join(dir, MetricsName), nil, 0o644)
			return dir, ""
		}, false, "holds a run already (metrics.jsonl)", false},
		{"out is a file", func(t *testing.T, dir string) (string, string) {
			p := filepath.Join(dir, "file")
			os.WriteFile(p, []byte("x"), 0o644)
			return p, ""
		}, false, "not a directory", false},
		{"checkpoint is a folder", func(t *testing.T, dir string) (string, string) {
			os.MkdirAll(filepath.Join(dir, CheckpointName), 0o755)
			return dir, ""
		}, true, "checkpoint.safetensors is not a regular file", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, resumed := c.setup(t, t.TempDir())
			err := PrepareOut(out, resumed, c.force)
			if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
			var re *RunExistsError
			if strings.Contains(c.want, "holds a run") && !errors.As(err, &re) {
				t.Errorf("error %T is not a *RunExistsError", err)
			}
			if c.removed {
				for _, n := range runFiles {
					if _, err := os.Stat(filepath.Join(out, n)); err == nil {
						t.Errorf("%s of the replaced run is still there", n)
					}
				}
			}
			if entries, _ := os.ReadDir(out); c.want == "" {
				for _, e := range entries {
					if strings.HasPrefix(e.Name(), ".argus-write-check") {
						t.Errorf("left %s behind", e.Name())
					}
				}
			}
		})
	}
}

// TestRestoreRefusesBrokenCheckpoints: a checkpoint whose optimiser state
// is missing, or whose position no run reaches, is refused by name rather
// than resumed into a run that differs from the uninterrupted one.
func TestRestoreRefusesBrokenCheckpoints(t *testing.T) {
	cfg := testConfig()
	cfg.Epochs = 1
	tr, err := New(cfg, newTestTask(cfg, testN, testBatch, buildTiny))
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if _, err := tr.Run(context.Background(), Options{Out: out}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(out, CheckpointName)
	setPos := func(key string, v any) func(f *checkpoint.File) {
		return func(f *checkpoint.File) {
			m := map[string]any{}
			json.Unmarshal([]byte(f.Metadata[MetaPosition]), &m)
			m[key] = v
			b, _ := json.Marshal(m)
			f.Metadata[MetaPosition] = string(b)
		}
	}
	for _, c := range []struct {
		name string
		mod  func(f *checkpoint.File)
		want string
	}{
		{"intact", func(*checkpoint.File) {}, ""},
		{"no optimiser state", func(f *checkpoint.File) {
			var names []string
			for _, n := range f.Names {
				if strings.HasPrefix(n, "optim/") {
					delete(f.Tensors, n)
				} else {
					names = append(names, n)
				}
			}
			f.Names = names
		}, "no optimiser state for"},
		{"negative epoch", setPos("epoch", -1), "none may be negative"},
		{"negative batch", setPos("batch", -3), "none may be negative"},
		{"negative step", setPos("step", -1), "none may be negative"},
		{"epoch disagrees", setPos("epoch", 0), `checkpoint metadata epoch "1" disagrees`},
		{"negative seconds", setPos("seconds", -5), "-5 seconds"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := checkpoint.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			c.mod(f)
			next, err := New(cfg, newTestTask(cfg, testN, testBatch, buildTiny))
			if err != nil {
				t.Fatal(err)
			}
			err = next.Restore(f)
			if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
}
