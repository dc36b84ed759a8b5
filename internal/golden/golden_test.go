package golden

import (
	"os"
	"path/filepath"
	"testing"
)

// fakeT records a Fatalf instead of stopping the test.
type fakeT struct {
	testing.TB
	failed string
}

func (f *fakeT) Helper() {}
func (f *fakeT) Fatalf(format string, args ...any) {
	f.failed = format
	panic(f)
}

// load runs Load on a fakeT and reports whether it failed.
func load(path string, v any) (failed bool) {
	ft := &fakeT{}
	defer func() {
		if r := recover(); r != nil {
			if r != ft {
				panic(r)
			}
			failed = true
		}
	}()
	Load(ft, path, v)
	return false
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(good, []byte(`{"x": [1, 2.5], "name": "conv"}`), 0o644)
	os.WriteFile(bad, []byte(`{"x": [1,`), 0o644)
	var v struct {
		X    []float64
		Name string
	}
	if load(good, &v) || len(v.X) != 2 || v.X[1] != 2.5 || v.Name != "conv" {
		t.Fatalf("good file: %+v", v)
	}
	for _, path := range []string{bad, filepath.Join(dir, "missing.json")} {
		if !load(path, &v) {
			t.Errorf("%s: Load did not fail the test", path)
		}
	}
}
