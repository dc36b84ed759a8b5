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

base=(mpirun --oversubscribe --allow-run-as-root
  --mca coll_tuned_use_dynamic_rules 1 --mca coll_tuned_allreduce_algorithm 4)
mpi=("${base[@]}" -np "$np")

# The tests that need several ranks: all of dist's, train's data-parallel
# ones (its others are the default build's).
declare -A run=([dist]=. [train]=DataParallel)

go vet -tags mpi ./dist ./train ./cmd/argus
for pkg in dist train; do
  go test -tags mpi -c -o "$bin/$pkg.test" "./$pkg"
  # Each rank runs in the package's folder, as go test runs a test binary.
  (cd "$pkg" && "${mpi[@]}" "$bin/$pkg.test" -test.count=1 -test.run "${run[$pkg]}")
done

# The command under mpirun: a short data-parallel run reports its ranks,
# and ranks started with different settings stop with rank 0's error line.
go build -tags mpi -o "$bin/argus" ./cmd/argus
train=(train mnist --limit 64 --epochs 1 --workers 1)
"${mpi[@]}" "$bin/argus" "${train[@]}" --out "$bin/run" --json > "$bin/run.json" 2> "$bin/run.err"
grep -q "\"ranks\":$np" "$bin/run.json" || { echo "mpi test: no $np-rank report: $(cat "$bin/run.json")" >&2; exit 1; }
if "${base[@]}" -np 1 "$bin/argus" "${train[@]}" --out "$bin/bad" --lr 0.1 : \
    -np 1 "$bin/argus" "${train[@]}" --out "$bin/bad" --lr 0.2 2> "$bin/bad.err"; then
  echo "mpi test: ranks with different --lr ran" >&2
  exit 1
fi
grep -q "rank 0 of 2: the settings of rank \[1\] differ" "$bin/bad.err" || { echo "mpi test: no settings error: $(cat "$bin/bad.err")" >&2; exit 1; }
# train classify: a 2-rank run on generated image folders, then Ctrl-C to
# mpirun, which OpenMPI turns into SIGTERM to the ranks after
# odls_base_sigkill_timeout seconds: one interrupt line, a checkpoint that
# resumes (here on one rank).
"$bin/argus" data synth finegrained --out "$bin/fg" --size 4 > /dev/null
classify=(train classify --data "$bin/fg" --model resnet18 --size 32 --batch 16 --warmup 2 --workers 1)
"${mpi[@]}" "$bin/argus" "${classify[@]}" --epochs 1 --out "$bin/cls" --json > "$bin/cls.json" 2> "$bin/cls.err"
grep -q "\"ranks\":$np" "$bin/cls.json" && grep -q '"top1":' "$bin/cls.json" || { echo "mpi test: train classify: $(cat "$bin/cls.json" "$bin/cls.err")" >&2; exit 1; }
"${base[@]}" --mca odls_base_sigkill_timeout 5 -np "$np" "$bin/argus" "${classify[@]}" --epochs 1000 --out "$bin/int" 2> "$bin/int.err" &
pid=$!
for _ in $(seq 120); do [ -f "$bin/int/checkpoint.safetensors" ] && break; sleep 0.5; done
kill -INT "$pid"
wait "$pid" || true
n=$(grep -c "interrupted after step" "$bin/int.err" || true)
[ "$n" = 1 ] || { echo "mpi test: Ctrl-C gave $n interrupt lines: $(tr '\r' '\n' < "$bin/int.err" | grep -v img)" >&2; exit 1; }
"$bin/argus" "${classify[@]}" --epochs 1000 --max-minutes 0.02 --resume "$bin/int/checkpoint.safetensors" --out "$bin/int" 2> "$bin/res.err" \
  || { echo "mpi test: resume after Ctrl-C: $(cat "$bin/res.err")" >&2; exit 1; }
grep -q "^resuming" "$bin/res.err" || { echo "mpi test: no resume: $(cat "$bin/res.err")" >&2; exit 1; }
# An error of every rank (here: no epochs left) is rank 0's one line.
if "${mpi[@]}" "$bin/argus" "${classify[@]}" --epochs 1 --resume "$bin/int/checkpoint.safetensors" --out "$bin/int" 2> "$bin/done.err"; then
  echo "mpi test: a run with no epochs left ran" >&2
  exit 1
fi
n=$(grep -c "nothing to do" "$bin/done.err" || true)
[ "$n" = 1 ] && grep -q "rank 0 of $np: run already has" "$bin/done.err" || { echo "mpi test: $n lines for no epochs left: $(cat "$bin/done.err")" >&2; exit 1; }
echo "mpi test: ok"
