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

go vet -tags mpi ./dist ./train ./cmd/argus
for pkg in dist; do
  go test -tags mpi -c -o "$bin/$pkg.test" "./$pkg"
  # Each rank runs in the package's folder, as go test runs a test binary.
  (cd "$pkg" && "${mpi[@]}" "$bin/$pkg.test" -test.count=1)
done
