//go:build !unix

package worker

import "os/exec"

// setGroup leaves the default: cancellation kills the command itself.
func setGroup(cmd *exec.Cmd) {}
