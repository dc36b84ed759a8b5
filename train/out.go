package train

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// RunExistsError is PrepareOut's error for a run folder that already
// holds another run.
type RunExistsError struct {
	// Out is the folder, File the first of the run's files found in it.
	Out, File string
}

func (e *RunExistsError) Error() string {
	return fmt.Sprintf("run folder %s holds a run already (%s)", e.Out, e.File)
}

// runFiles are the files a run writes into its folder.
var runFiles = []string{CheckpointName, ConfigName, MetricsName, PlotName}

// PrepareOut makes sure, before a session trains a single step, that out
// can hold its run: the folder exists or is created, a file can be written
// in it, and none of the run's file names in it is taken by something that
// is not a regular file. A folder already holding a run's files is refused
// with a *RunExistsError, unless it holds the run being
// resumed (resumed is the path of its checkpoint, empty for a new run) or
// force is set; with force, a new run first removes the old run's files,
// so that the folder never mixes two runs.
func PrepareOut(out, resumed string, force bool) error {
	if out == "" {
		return nil
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("run folder %s: %w", out, err)
	}
	var found []string
	for _, name := range runFiles {
		p := filepath.Join(out, name)
		fi, err := os.Lstat(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("run folder %s: %w", out, err)
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("run folder %s: %s is not a regular file, so the run could not write it", out, name)
		}
		found = append(found, name)
	}
	// The folder must take new files: the checkpoint is written beside
	// itself and renamed into place.
	f, err := os.CreateTemp(out, ".argus-write-check-*")
	if err != nil {
		return fmt.Errorf("run folder %s is not writable: %w", out, err)
	}
	f.Close()
	os.Remove(f.Name())
	if len(found) == 0 {
		return nil
	}
	ckpt := filepath.Join(out, CheckpointName)
	if resumed != "" {
		a, errA := os.Stat(ckpt)
		b, errB := os.Stat(resumed)
		if errA == nil && errB == nil && os.SameFile(a, b) {
			return nil
		}
	}
	if !force {
		return &RunExistsError{Out: out, File: found[0]}
	}
	for _, name := range found {
		if err := os.Remove(filepath.Join(out, name)); err != nil {
			return fmt.Errorf("replace the run in %s: %w", out, err)
		}
	}
	return nil
}
