package dist

import (
	"fmt"
	"os"
	"strconv"
)

// Launched returns the rank and size that a launcher gave this process
// through its environment (OpenMPI's OMPI_COMM_WORLD_RANK and
// OMPI_COMM_WORLD_SIZE, or PMI_RANK and PMI_SIZE of MPICH and Slurm), and
// false when none did.
func Launched() (rank, size int, ok bool) {
	for _, names := range [][2]string{{"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"}, {"PMI_RANK", "PMI_SIZE"}} {
		r, errR := strconv.Atoi(os.Getenv(names[0]))
		s, errS := strconv.Atoi(os.Getenv(names[1]))
		if errR == nil && errS == nil {
			return r, s, true
		}
	}
	return 0, 1, false
}

func errRoot(root, size int) error {
	return fmt.Errorf("dist: broadcast root %d outside 0..%d", root, size-1)
}
