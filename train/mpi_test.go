//go:build mpi

package train

import (
	"fmt"
	"os"
	"testing"

	"argus/dist"
)

// testWorld is the test binary's MPI_COMM_WORLD.
var testWorld dist.Comm

// runTests opens MPI around the tests. Under mpirun every rank runs them
// all; tools/mpi/test.sh picks the data-parallel ones.
func runTests(m *testing.M) int {
	c, err := dist.Open()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	testWorld = c
	code := m.Run()
	if code != 0 {
		c.Abort(code)
	}
	if err := c.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	return code
}

// TestDataParallelMPI trains as every rank of MPI_COMM_WORLD and checks the
// run against one process, with both all-reduce algorithms.
func TestDataParallelMPI(t *testing.T) {
	if testBatch%testWorld.Size() != 0 {
		t.Skipf("the global batch of %d does not split over %d ranks", testBatch, testWorld.Size())
	}
	for _, alg := range []dist.Algorithm{dist.Ring, dist.Butterfly} {
		t.Run(alg.String(), func(t *testing.T) { checkDataParallel(t, testWorld, alg) })
	}
}

// TestDataParallelModelParallelFCMPI trains with the classifier split over
// the ranks of MPI_COMM_WORLD and checks the run against one process with
// the whole layer.
func TestDataParallelModelParallelFCMPI(t *testing.T) {
	if testBatch%testWorld.Size() != 0 {
		t.Skipf("the global batch of %d does not split over %d ranks", testBatch, testWorld.Size())
	}
	checkModelParallelFC(t, testWorld)
}
