//go:build mpi

package dist

/*
#cgo pkg-config: mpi
#include <stdlib.h>
#include <mpi.h>

// The handles MPI_COMM_WORLD, MPI_FLOAT and MPI_SUM are macros over
// OpenMPI's globals that cgo cannot name, so these wrappers take them.

static int argus_init(int *provided) {
	int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, provided);
	if (rc == MPI_SUCCESS) {
		rc = MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
	}
	return rc;
}
static int argus_rank(int *r) { return MPI_Comm_rank(MPI_COMM_WORLD, r); }
static int argus_size(int *s) { return MPI_Comm_size(MPI_COMM_WORLD, s); }
static int argus_allreduce(float *buf, int n) {
	return MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
}
static int argus_reduce_scatter(float *send, float *recv, int n) {
	return MPI_Reduce_scatter_block(send, recv, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
}
static int argus_allgather(float *send, float *recv, int n) {
	return MPI_Allgather(send, n, MPI_FLOAT, recv, n, MPI_FLOAT, MPI_COMM_WORLD);
}
static int argus_bcast(float *buf, int n, int root) {
	return MPI_Bcast(buf, n, MPI_FLOAT, root, MPI_COMM_WORLD);
}
static void argus_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }
static int argus_finalize(void) { return MPI_Finalize(); }
static void argus_error_string(int rc, char *buf, int *n) { MPI_Error_string(rc, buf, n); }
static int argus_max_error_string(void) { return MPI_MAX_ERROR_STRING; }
*/
import "C"

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"unsafe"
)

// MPI reports whether this build has the OpenMPI binding (-tags mpi).
const MPI = true

// opened guards the one MPI_Init_thread a process may make: MPI itself is
// process-wide state, and this flag is its only mirror in Go.
var opened struct {
	sync.Mutex
	done bool
}

// world is MPI_COMM_WORLD. Its calls run on one goroutine locked to the OS
// thread that initialised MPI (see the package comment).
type world struct {
	rank, size int
	calls      chan func()
	mu         sync.Mutex // guards closed
	closed     bool
}

// Open initialises MPI, asking for MPI_THREAD_FUNNELED, and returns
// MPI_COMM_WORLD. A process opens it once: MPI cannot be initialised
// again, even after Close.
func Open() (Comm, error) {
	opened.Lock()
	defer opened.Unlock()
	if opened.done {
		return nil, errors.New("dist: MPI is already initialised in this process")
	}
	opened.done = true
	w := &world{calls: make(chan func())}
	started := make(chan error, 1)
	go w.serve(started)
	if err := <-started; err != nil {
		return nil, err
	}
	return w, nil
}

// serve initialises MPI on its own locked OS thread and runs the calls
// handed to it until Close. The thread stays locked, and ends with the
// goroutine, since MPI may keep thread-local state on it.
func (w *world) serve(started chan<- error) {
	runtime.LockOSThread()
	var provided C.int
	if rc := C.argus_init(&provided); rc != C.MPI_SUCCESS {
		started <- fmt.Errorf("MPI_Init_thread: %w", mpiError(rc))
		return
	}
	if provided < C.MPI_THREAD_FUNNELED {
		started <- fmt.Errorf("MPI_Init_thread: this MPI gives thread level %d, below MPI_THREAD_FUNNELED", int(provided))
		return
	}
	var r, s C.int
	if rc := C.argus_rank(&r); rc != C.MPI_SUCCESS {
		started <- fmt.Errorf("MPI_Comm_rank: %w", mpiError(rc))
		return
	}
	if rc := C.argus_size(&s); rc != C.MPI_SUCCESS {
		started <- fmt.Errorf("MPI_Comm_size: %w", mpiError(rc))
		return
	}
	w.rank, w.size = int(r), int(s)
	started <- nil
	for f := range w.calls {
		f()
	}
}

// call runs f on the MPI thread and returns its MPI error, if any.
func (w *world) call(name string, f func() C.int) error {
	w.mu.Lock()
	closed := w.closed
	w.mu.Unlock()
	if closed {
		return ErrClosed
	}
	done := make(chan C.int, 1)
	w.calls <- func() { done <- f() }
	if rc := <-done; rc != C.MPI_SUCCESS {
		return fmt.Errorf("%s: %w", name, mpiError(rc))
	}
	return nil
}

// mpiErr is an MPI error code and its text.
type mpiErr struct {
	code int
	text string
}

func (e *mpiErr) Error() string { return fmt.Sprintf("MPI error %d: %s", e.code, e.text) }

// mpiError returns the error of MPI's return code rc.
func mpiError(rc C.int) error {
	buf := (*C.char)(C.malloc(C.size_t(C.argus_max_error_string())))
	defer C.free(unsafe.Pointer(buf))
	var n C.int
	C.argus_error_string(rc, buf, &n)
	return &mpiErr{code: int(rc), text: C.GoStringN(buf, n)}
}

// count converts a length to MPI's int count.
func count(n int) (C.int, error) {
	if n > math.MaxInt32 {
		return 0, fmt.Errorf("dist: %d values exceed MPI's int count", n)
	}
	return C.int(n), nil
}

// ptr returns the address of buf's first value for one blocking call; cgo
// pins the memory until the call returns.
func ptr(buf []float32) *C.float {
	if len(buf) == 0 {
		return nil
	}
	return (*C.float)(unsafe.Pointer(&buf[0]))
}

func (w *world) Rank() int { return w.rank }
func (w *world) Size() int { return w.size }

func (w *world) Allreduce(buf []float32) error {
	n, err := count(len(buf))
	if err != nil || n == 0 {
		return err
	}
	return w.call("MPI_Allreduce", func() C.int { return C.argus_allreduce(ptr(buf), n) })
}

func (w *world) ReduceScatter(send, recv []float32) error {
	if err := checkBlocks("reduce-scatter", w.size, len(send), len(recv)); err != nil {
		return err
	}
	n, err := count(len(recv))
	if err != nil || n == 0 {
		return err
	}
	return w.call("MPI_Reduce_scatter_block", func() C.int { return C.argus_reduce_scatter(ptr(send), ptr(recv), n) })
}

func (w *world) Allgather(send, recv []float32) error {
	if err := checkBlocks("all-gather", w.size, len(recv), len(send)); err != nil {
		return err
	}
	n, err := count(len(send))
	if err != nil || n == 0 {
		return err
	}
	return w.call("MPI_Allgather", func() C.int { return C.argus_allgather(ptr(send), ptr(recv), n) })
}

func (w *world) Bcast(buf []float32, root int) error {
	if root < 0 || root >= w.size {
		return errRoot(root, w.size)
	}
	n, err := count(len(buf))
	if err != nil || n == 0 {
		return err
	}
	return w.call("MPI_Bcast", func() C.int { return C.argus_bcast(ptr(buf), n, C.int(root)) })
}

// Abort ends every rank. It calls MPI_Abort from the calling goroutine's
// thread, not the MPI thread, which may be blocked in a collective waiting
// for the rank that failed. The standard allows that only at
// MPI_THREAD_MULTIPLE; OpenMPI's MPI_Abort touches no communication state
// (it asks its runtime to kill the job), which is what this relies on
// rather than paying for MULTIPLE's locks on every call.
func (w *world) Abort(code int) {
	C.argus_abort(C.int(code))
	select {} // MPI_Abort does not return; neither does Abort.
}

func (w *world) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return ErrClosed
	}
	w.mu.Unlock()
	err := w.call("MPI_Finalize", func() C.int { return C.argus_finalize() })
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	close(w.calls)
	return err
}
