//go:build mpi

package dist

import (
	"fmt"
	"os"
	"testing"
)

// world is the test binary's MPI_COMM_WORLD: under mpirun, one rank of the
// run; run directly, a run of one.
var testWorld Comm

func TestMain(m *testing.M) {
	c, err := Open()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	testWorld = c
	code := m.Run()
	if code != 0 {
		// The other ranks may wait in a collective this rank left.
		c.Abort(code)
	}
	if err := c.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	os.Exit(code)
}

// TestMPI checks OpenMPI's collectives, both all-reduce algorithms and the
// Reducer on MPI_COMM_WORLD against serial references, on every rank.
func TestMPI(t *testing.T) {
	if _, size, ok := Launched(); ok && size != testWorld.Size() {
		t.Fatalf("launched as one of %d, MPI_COMM_WORLD has %d", size, testWorld.Size())
	}
	checkComm(t, testWorld)
}

func TestOpenTwice(t *testing.T) {
	if _, err := Open(); err == nil {
		t.Error("a second Open gave no error")
	}
}
