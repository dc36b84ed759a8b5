//go:build unix

package worker

import (
	"os/exec"
	"syscall"
)

// setGroup runs the command in its own process group and makes
// cancellation kill the whole group, so that a shell's children stop too.
// Where the system offers it (Linux), the command is also killed when the
// worker dies without the chance to cancel it (SIGKILL, a crash); the
// command's own children then stop only if it passes that on.
func setGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	setDeathSignal(cmd.SysProcAttr)
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}

// endGroup kills what is left of the command's process group after the
// command has exited: background processes it started and did not wait
// for. It must run before the command is reaped (awaitExit), while the
// group's id cannot yet belong to another group.
func endGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
