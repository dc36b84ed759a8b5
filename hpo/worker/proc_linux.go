package worker

import "syscall"

// setDeathSignal makes the kernel kill the command when the worker dies.
// The signal follows the thread that started the command; Go keeps its
// threads for the life of the process unless a goroutine locked to one
// exits, which the worker never does.
func setDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
