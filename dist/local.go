package dist

import "os"

// Local is the communicator of a run of one process: the collectives copy
// or leave their buffers as a sum over one rank does.
type Local struct{}

// Rank implements Comm: 0.
func (Local) Rank() int { return 0 }

// Size implements Comm: 1.
func (Local) Size() int { return 1 }

// Allreduce implements Comm: the sum over one rank is buf itself.
func (Local) Allreduce(buf []float32) error { return nil }

// ReduceScatter implements Comm: recv is a copy of send.
func (Local) ReduceScatter(send, recv []float32) error {
	if err := checkBlocks("reduce-scatter", 1, len(send), len(recv)); err != nil {
		return err
	}
	copy(recv, send)
	return nil
}

// Allgather implements Comm: recv is a copy of send.
func (Local) Allgather(send, recv []float32) error {
	if err := checkBlocks("all-gather", 1, len(recv), len(send)); err != nil {
		return err
	}
	copy(recv, send)
	return nil
}

// Bcast implements Comm: buf is root's already.
func (Local) Bcast(buf []float32, root int) error {
	if root != 0 {
		return errRoot(root, 1)
	}
	return nil
}

// Abort implements Comm by exiting with code.
func (Local) Abort(code int) { os.Exit(code) }

// Close implements Comm.
func (Local) Close() error { return nil }
