//go:build unix

package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestNewFilesFollowTheUmask checks that new files and folders get the
// permissions os.Create and os.Mkdir would give them, not private ones.
func TestNewFilesFollowTheUmask(t *testing.T) {
	for _, umask := range []int{0o022, 0o077, 0o002} {
		old := syscall.Umask(umask)
		dir := t.TempDir()
		file := filepath.Join(dir, "f")
		err := WriteFile(file, []byte("x"))
		folder := filepath.Join(dir, "d")
		derr := Dir(folder, func(string) error { return nil })
		syscall.Umask(old)
		if err != nil || derr != nil {
			t.Fatal(err, derr)
		}
		if st, _ := os.Stat(file); st.Mode().Perm() != os.FileMode(0o666&^umask) {
			t.Errorf("umask %03o: file mode %v, want %v", umask, st.Mode().Perm(), os.FileMode(0o666&^umask))
		}
		if st, _ := os.Stat(folder); st.Mode().Perm() != os.FileMode(0o777&^umask) {
			t.Errorf("umask %03o: folder mode %v, want %v", umask, st.Mode().Perm(), os.FileMode(0o777&^umask))
		}
	}
}

// TestStaleTemporariesGo checks that a temporary file left by a process
// that is gone (a writer killed with SIGKILL) is removed by the next write
// of the same file, and that those of live processes stay.
func TestStaleTemporariesGo(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.json")
	// A child that has exited gives the id of a process that is gone.
	p, err := os.StartProcess("/bin/true", []string{"true"}, &os.ProcAttr{})
	if err != nil {
		t.Skip("cannot start /bin/true:", err)
	}
	st, _ := p.Wait()
	gone := st.Pid()
	stale := filepath.Join(dir, fmt.Sprintf(".out.json.tmp%d-7", gone))
	staleDir := filepath.Join(dir, fmt.Sprintf(".out.json.tmp%d-8", gone))
	live := filepath.Join(dir, fmt.Sprintf(".out.json.tmp%d-9", os.Getppid()))
	other := filepath.Join(dir, ".other.json.tmp1-1")
	odd := filepath.Join(dir, ".out.json.tmpxyz")
	for _, f := range []string{stale, live, other, odd} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(staleDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("x")); err != nil {
		t.Fatal(err)
	}
	for f, want := range map[string]bool{stale: false, staleDir: false, live: true, other: true, odd: true, path: true} {
		if _, err := os.Lstat(f); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", filepath.Base(f), err == nil, want)
		}
	}
}
