//go:build !unix

package worker

import "os/exec"

// setGroup leaves the default: cancellation kills the command itself.
func setGroup(cmd *exec.Cmd) {}

// awaitExit reports false: there is no process group to end.
func awaitExit(*exec.Cmd) bool { return false }

// endGroup does nothing: without process groups, what the command left
// running is not known.
func endGroup(cmd *exec.Cmd) {}
