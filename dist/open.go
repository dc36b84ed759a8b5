//go:build !mpi

package dist

import "fmt"

// MPI reports whether this build has the OpenMPI binding (-tags mpi).
const MPI = false

// Open returns the communicator of this process's run. This build has no
// MPI: it returns Local, or an error when a launcher started the process
// as one rank of several.
func Open() (Comm, error) {
	if rank, size, ok := Launched(); ok && size > 1 {
		return nil, fmt.Errorf("started as rank %d of %d, but this argus was built without MPI: build it with `go build -tags mpi` (needs libopenmpi-dev)", rank, size)
	}
	return Local{}, nil
}
