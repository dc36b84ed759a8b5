package worker

import (
	"errors"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// setDeathSignal makes the kernel kill the command when the worker dies.
// The signal follows the thread that started the command; Go keeps its
// threads for the life of the process unless a goroutine locked to one
// exits, which the worker never does.
func setDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }

// awaitExit waits until the command has exited without reaping it, and
// reports whether it did, so that endGroup may then kill its group.
func awaitExit(cmd *exec.Cmd) bool {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, cmd.Process.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, unix.EINTR) {
			return err == nil
		}
	}
}
