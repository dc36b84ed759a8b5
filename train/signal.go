package train

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// SignalContext returns a context that SIGINT or SIGTERM cancels, for Run:
// every task's command stops the same way, after the step in progress and
// with a resumable checkpoint. Once the first signal has arrived the
// default handling returns, so a second one ends the process at once (the
// checkpoint being written is atomic and stays whole). Call stop when the
// run is over.
func SignalContext(parent context.Context) (ctx context.Context, stop context.CancelFunc) {
	ctx, stop = signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	return ctx, stop
}
