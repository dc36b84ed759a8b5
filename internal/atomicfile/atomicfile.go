// Package atomicfile writes files so that readers, and the file's previous
// contents, never see a partial write: the bytes go to a temporary file in
// the destination's folder, which is synced, renamed over the destination
// and followed by a sync of the folder, so that the rename itself survives a
// crash. Dir does the same for a whole new folder.
//
// New files get the permissions the umask leaves of 0666, as os.Create
// gives them; a replaced file keeps its own. A writer killed with SIGKILL
// cannot remove its temporary file; the next write of the same file removes
// it, knowing it by the dead process's id in its name.
//
// Every writer of a user-visible file in argus goes through this package.
package atomicfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Write calls write with a buffered writer over a temporary file next to
// path and, when it succeeds, replaces path with the result. On any error
// path is left as it was and the temporary file is removed. The error names
// path.
func Write(path string, write func(w io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	tmp, err := createTemp(dir, filepath.Base(path))
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			err = fmt.Errorf("write %s: %w", path, err)
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if err = write(bw); err != nil {
		return err
	}
	if err = bw.Flush(); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	// A replaced file keeps its permissions; a new one gets what the
	// umask leaves of 0666, as os.Create would give it.
	if st, statErr := os.Stat(path); statErr == nil {
		if err = os.Chmod(tmp.Name(), st.Mode().Perm()); err != nil {
			return err
		}
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

// WriteFile replaces path with data atomically, as Write.
func WriteFile(path string, data []byte) error {
	return Write(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// Dir builds the new folder path: fill writes its contents into a fresh
// temporary folder beside path, and only when fill succeeds is that folder
// renamed to path, so a failed or interrupted run leaves nothing at path.
// path must not exist. Files inside should be written with Write or
// WriteFile, whose syncs make them durable before the folder appears.
func Dir(path string, fill func(tmp string) error) (err error) {
	if path == "" {
		return fmt.Errorf("no output folder")
	}
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("output %s already exists", path)
	}
	parent := filepath.Dir(filepath.Clean(path))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp, err := tempName(parent, filepath.Base(path), func(name string) error { return os.Mkdir(name, 0o777) })
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := fill(tmp); err != nil {
		return err
	}
	if err := syncDir(tmp); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("move %s into place: %w", path, err)
	}
	if err := syncDir(parent); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// createTemp creates a new file beside the destination named base. Unlike
// os.CreateTemp, whose files are private (0600) whatever the umask, it
// leaves the mode to the umask.
func createTemp(dir, base string) (*os.File, error) {
	var f *os.File
	_, err := tempName(dir, base, func(name string) error {
		var err error
		f, err = os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		return err
	})
	return f, err
}

// tempName calls create with fresh names ".BASE.tmpPID-N" in dir until one
// does not exist yet, and returns it. The process id in the name tells
// which run a leftover belongs to.
func tempName(dir, base string, create func(name string) error) (string, error) {
	removeStale(dir, base)
	for range 100 {
		name := filepath.Join(dir, fmt.Sprintf(".%s.tmp%d-%d", base, os.Getpid(), rand.Uint32()))
		err := create(name)
		if err == nil {
			return name, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", err
		}
	}
	return "", fmt.Errorf("no free temporary name for %s in %s", base, dir)
}

// removeStale removes the temporary files and folders for base in dir that
// were left by processes no longer running (a run killed with SIGKILL has
// no chance to remove its own). A leftover whose process is alive, or whose
// name does not parse, is left alone: it may be another writer's.
func removeStale(dir, base string) {
	prefix := "." + base + ".tmp"
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok {
			continue
		}
		pidText, _, ok := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil || pid <= 0 || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		os.RemoveAll(filepath.Join(dir, e.Name()))
	}
}

// syncDir makes a rename in dir durable. File systems that cannot sync a
// folder (some network and FUSE file systems) report EINVAL, which is not
// an error of the write.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !isUnsupported(err) {
		return err
	}
	return nil
}
