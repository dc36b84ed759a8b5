//go:build unix && !linux

package worker

import (
	"os/exec"
	"syscall"
)

// setDeathSignal does nothing: only Linux kills a child when its parent
// dies.
func setDeathSignal(*syscall.SysProcAttr) {}

// awaitExit reports false: without waiting that leaves the command
// unreaped, killing its group after the exit could hit a group that took
// over its id.
func awaitExit(*exec.Cmd) bool { return false }
