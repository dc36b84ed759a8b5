#!/usr/bin/env bash
# The tests of the OpenMPI build: builds each package's test binary with
# -tags mpi and runs it as 2 ranks under mpirun, with OpenMPI's all-reduce
# fixed to its ring algorithm so that runs repeat exactly. Needs
# openmpi-bin and libopenmpi-dev. NP overrides the number of ranks.
set -euo pipefail
cd "$(dirname "$0")/../.."

np=${NP:-2}
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT

mpi=(mpirun --oversubscribe --allow-run-as-root -np "$np"
  --mca coll_tuned_use_dynamic_rules 1 --mca coll_tuned_allreduce_algorithm 4)

# The tests that need several ranks: all of dist's, train's data-parallel
# ones (its others are the default build's).
declare -A run=([dist]=. [train]=DataParallel)

go vet -tags mpi ./dist ./train ./cmd/argus
for pkg in dist train; do
  go test -tags mpi -c -o "$bin/$pkg.test" "./$pkg"
  # Each rank runs in the package's folder, as go test runs a test binary.
  (cd "$pkg" && "${mpi[@]}" "$bin/$pkg.test" -test.count=1 -test.run "${run[$pkg]}")
done
