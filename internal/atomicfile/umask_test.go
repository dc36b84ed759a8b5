//go:build unix

package atomicfile

import (
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
