package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteReplacesOnlyOnSuccess(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.json")
	if err := WriteFile(path, []byte("first")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := Write(path, func(w io.Writer) error {
		if _, err := w.Write([]byte("half")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Write error = %v, want it to wrap the writer's error", err)
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != "first" {
		t.Fatalf("after a failed write the file holds %q (%v), want the old contents", b, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("failed write left %d entries in the folder, want 1", len(entries))
	}
	if err := WriteFile(path, []byte("second")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "second" {
		t.Fatalf("file holds %q, want %q", b, "second")
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("third")); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o640 {
		t.Fatalf("a replaced file has mode %v, want its old 0640", st.Mode().Perm())
	}
}

func TestWriteMissingFolder(t *testing.T) {
	err := WriteFile(filepath.Join(t.TempDir(), "no", "such", "f"), nil)
	if err == nil {
		t.Fatal("write into a missing folder succeeded")
	}
}

func TestDir(t *testing.T) {
	parent := t.TempDir()
	path := filepath.Join(parent, "set")
	boom := errors.New("boom")
	err := Dir(path, func(tmp string) error {
		if err := WriteFile(filepath.Join(tmp, "a.txt"), []byte("a")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Dir error = %v, want the fill's error", err)
	}
	if entries, _ := os.ReadDir(parent); len(entries) != 0 {
		t.Fatalf("failed Dir left %d entries, want none", len(entries))
	}
	if err := Dir(path, func(tmp string) error { return WriteFile(filepath.Join(tmp, "a.txt"), []byte("a")) }); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(path, "a.txt")); err != nil || string(b) != "a" {
		t.Fatalf("a.txt holds %q (%v)", b, err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o755 {
		t.Fatalf("folder mode %v, want 0755", st.Mode().Perm())
	}
	if err := Dir(path, func(string) error { return nil }); err == nil {
		t.Fatal("Dir over an existing folder succeeded")
	}
}
