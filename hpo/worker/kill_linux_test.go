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

// TestOutputHeldAfterExit: a command that exits while a process it
// started still holds its stdout ends its trial with its result, at once
// when that process is in its group (which is then killed), after the
// grace time when it escaped into a session of its own.
func TestOutputHeldAfterExit(t *testing.T) {
	tests := []struct {
		name, start string
	}{
		{"same group", `sh -c 'echo $$ > "$0"; exec sleep 600' "$1" &`},
		{"own session", `setsid sh -c 'echo $$ > "$0"; exec sleep 600' "$1" &`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pidFile := filepath.Join(t.TempDir(), "pid")
			script := tt.start + `
while [ ! -s "$1" ]; do sleep 0.01; done
echo '{"objective": 3}'`
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			s := memStudy(t, hpo.PrunerConfig{}, "0.5")
			t.Cleanup(func() {
				if b, err := os.ReadFile(pidFile); err == nil {
					if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
						syscall.Kill(pid, syscall.SIGKILL)
					}
				}
			})
			// The helper process writes its pid to the file in $1; the
			// parameters follow as further arguments.
			if _, err := Run(ctx, s, Options{Command: []string{"sh", "-c", script, "sh", pidFile}}); err != nil {
				t.Fatal(err)
			}
			trials, _ := s.Trials(ctx)
			if tr := trials[0]; tr.State != hpo.Complete || *tr.Value != 3 {
				t.Fatalf("trial %s %q, want COMPLETE 3", tr.State, tr.Reason)
			}
		})
	}
}
