// Package dist is data-parallel training over MPI: a communicator between
// the processes of a run, the two all-reduce schemes of the issue (ring,
// and Deep Image's butterfly: a reduce-scatter followed by an all-gather),
// and a Reducer that averages a model's gradients in buckets of a fixed
// order while the backward pass still runs, as PyTorch's DDP does.
//
// The default build is pure Go and single-process: Open returns a
// communicator of one process, and refuses to run as one rank of several
// when mpirun started the process. Built with -tags mpi, Open initialises
// OpenMPI through a thin cgo binding of its C API (MPI_Init_thread,
// MPI_Comm_rank, MPI_Comm_size, MPI_Allreduce, MPI_Reduce_scatter_block,
// MPI_Allgather, MPI_Bcast, MPI_Abort, MPI_Finalize) and every process that
// mpirun starts is one rank:
//
//	apt-get install openmpi-bin libopenmpi-dev
//	go build -tags mpi -o argus ./cmd/argus
//	mpirun -np 2 ./argus train mnist ...
//
// The binding makes every MPI call from one goroutine locked to the OS
// thread that called MPI_Init_thread, so the thread level it asks for,
// MPI_THREAD_FUNNELED, is the level it needs; other goroutines hand it
// their calls and wait. Go memory goes to C only as the argument of a
// blocking call (cgo pins it for the duration of the call) and holds no Go
// pointers; C keeps none after the call returns: no non-blocking MPI
// request is ever started.
package dist

import (
	"errors"
	"fmt"
)

// Comm is the group of processes of a run. Collectives must be called by
// every rank, in the same order, with the same lengths; a Comm serves one
// goroutine at a time (the Reducer's, during a step).
type Comm interface {
	// Rank is this process's index in 0..Size()-1.
	Rank() int
	// Size is the number of processes.
	Size() int
	// Allreduce replaces buf on every rank with the element-wise sum of
	// every rank's buf.
	Allreduce(buf []float32) error
	// ReduceScatter sums send (Size()·len(recv) values) over the ranks and
	// writes block Rank() of the sum, send[Rank()·len(recv):][:len(recv)],
	// to recv.
	ReduceScatter(send, recv []float32) error
	// Allgather writes every rank's send to recv (Size()·len(send)
	// values), rank r's at recv[r·len(send):].
	Allgather(send, recv []float32) error
	// Bcast replaces buf on every rank with root's.
	Bcast(buf []float32, root int) error
	// Abort ends every process of the run with the exit status code; it
	// is the way out when this rank fails and the others would wait for
	// it in a collective. It does not return when several ranks run.
	Abort(code int)
	// Close ends this process's part in the run (MPI_Finalize); it is
	// called once, by every rank.
	Close() error
}

// Algorithm is a way to all-reduce a buffer.
type Algorithm int

const (
	// Ring is MPI_Allreduce, which OpenMPI runs as a ring (reduce-scatter
	// then all-gather around the ring, 2(N-1)/N of the buffer sent per
	// rank) for large buffers; tests fix OpenMPI's choice with
	// --mca coll_tuned_use_dynamic_rules 1 --mca coll_tuned_allreduce_algorithm 4.
	Ring Algorithm = iota
	// Butterfly is Deep Image's synchronisation: rank k receives the k-th
	// slice of every rank's buffer and sums it (MPI_Reduce_scatter_block),
	// then every rank gathers all the summed slices (MPI_Allgather).
	Butterfly
)

// String returns the algorithm's name, as ParseAlgorithm reads it.
func (a Algorithm) String() string {
	switch a {
	case Ring:
		return "ring"
	case Butterfly:
		return "butterfly"
	}
	return fmt.Sprintf("Algorithm(%d)", int(a))
}

// ParseAlgorithm reads "ring" or "butterfly".
func ParseAlgorithm(s string) (Algorithm, error) {
	switch s {
	case "ring":
		return Ring, nil
	case "butterfly":
		return Butterfly, nil
	}
	return 0, fmt.Errorf("all-reduce algorithm must be ring or butterfly, got %q", s)
}

// ErrClosed is returned by the collectives of a closed Comm.
var ErrClosed = errors.New("dist: communicator closed")

// Allreduce replaces buf on every rank of c with the element-wise sum over
// the ranks, by algorithm alg. Butterfly slices buf into Size() equal
// blocks; a length that does not divide goes through a padded copy, so
// callers that reduce the same buffers often (the Reducer) size them to a
// multiple of Size() and pass scratch, len(buf)/Size() values, for the
// reduced slice (nil allocates it).
func Allreduce(c Comm, buf []float32, alg Algorithm, scratch []float32) error {
	n := c.Size()
	if n == 1 || len(buf) == 0 {
		return nil
	}
	switch alg {
	case Ring:
		return c.Allreduce(buf)
	case Butterfly:
		if len(buf)%n != 0 {
			padded := make([]float32, (len(buf)+n-1)/n*n)
			copy(padded, buf)
			if err := Allreduce(c, padded, alg, nil); err != nil {
				return err
			}
			copy(buf, padded)
			return nil
		}
		block := len(buf) / n
		if len(scratch) < block {
			scratch = make([]float32, block)
		}
		scratch = scratch[:block]
		if err := c.ReduceScatter(buf, scratch); err != nil {
			return fmt.Errorf("butterfly all-reduce: %w", err)
		}
		if err := c.Allgather(scratch, buf); err != nil {
			return fmt.Errorf("butterfly all-reduce: %w", err)
		}
		return nil
	}
	return fmt.Errorf("dist: unknown all-reduce algorithm %v", alg)
}

// checkBlocks verifies the lengths of a reduce-scatter or all-gather:
// whole is size blocks of part's length.
func checkBlocks(op string, size, whole, part int) error {
	if whole != size*part {
		return fmt.Errorf("dist: %s of %d values into blocks of %d on %d ranks", op, whole, part, size)
	}
	return nil
}
