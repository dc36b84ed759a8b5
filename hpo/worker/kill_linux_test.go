package worker

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"argus/hpo"
)

// TestHelperWorker is the worker process of TestKilledWorkerStopsCommand;
// it does nothing in a normal test run.
func TestHelperWorker(t *testing.T) {
	pidFile := os.Getenv("ARGUS_TEST_WORKER_PIDFILE")
	if pidFile == "" {
		t.Skip("helper process only")
	}
	s := memStudy(t, hpo.PrunerConfig{}, "0.5")
	// The command replaces the shell with a long sleep, so the pid it
	// writes is the worker's direct child.
	Run(context.Background(), s, Options{Command: []string{"sh", "-c", `echo $$ > "$0.tmp" && mv "$0.tmp" "$0" && exec sleep 600`, pidFile}})
}

// alive reports whether pid runs (a zombie waiting for its reaper does
// not count).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || (s[i+2] != 'Z' && s[i+2] != 'X')
}

// TestKilledWorkerStopsCommand: a worker killed with SIGKILL, which cannot
// cancel anything, still takes its trial's command with it.
func TestKilledWorkerStopsCommand(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	w := exec.Command(os.Args[0], "-test.run=^TestHelperWorker$")
	w.Env = append(os.Environ(), "ARGUS_TEST_WORKER_PIDFILE="+pidFile)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Process.Kill()
	deadline := time.Now().Add(60 * time.Second)
	var pid int
	for {
		b, err := os.ReadFile(pidFile)
		if err == nil {
			if pid, err = strconv.Atoi(strings.TrimSpace(string(b))); err != nil {
				t.Fatal(err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the helper worker never started its command")
		}
		time.Sleep(20 * time.Millisecond)
	}
	defer syscall.Kill(pid, syscall.SIGKILL)
	w.Process.Kill()
	w.Wait()
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("the command (pid %d) still runs after its worker was killed", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
