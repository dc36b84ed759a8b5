#!/usr/bin/env bash
# The measurements of docs/perf/scaling.md: the all-reduce benchmark at 2
# and 4 ranks, then MNIST training as 1 process (2 threads) and 2 ranks
# (1 thread each), alternately, ROUNDS times. Prints one JSON line per run,
# after a line naming it. Needs openmpi-bin and libopenmpi-dev.
set -euo pipefail
cd "$(dirname "$0")/../.."

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -tags mpi -o "$bin/argus" ./cmd/argus
mpi=(mpirun --oversubscribe --allow-run-as-root --mca coll_tuned_use_dynamic_rules 1
  --mca coll_tuned_allreduce_algorithm 4 --mca mpi_yield_when_idle 1 -x GOMAXPROCS=1)
train=(train mnist --limit 2000 --epochs 1 --workers 1 --json)

for np in 2 4; do
  echo "bench allreduce, $np ranks, load $(cut -d' ' -f1 /proc/loadavg)"
  "${mpi[@]}" -np "$np" "$bin/argus" bench allreduce --bytes 1M,25M,100M --iters 5 --json
done
for round in $(seq "${ROUNDS:-3}"); do
  echo "round $round: 1 process, 2 threads, load $(cut -d' ' -f1 /proc/loadavg)"
  GOMAXPROCS=2 "$bin/argus" "${train[@]}" --out "$bin/run1-$round" 2>/dev/null
  echo "round $round: 2 ranks, 1 thread each, load $(cut -d' ' -f1 /proc/loadavg)"
  "${mpi[@]}" -np 2 "$bin/argus" "${train[@]}" --out "$bin/run2-$round" 2>/dev/null
done
