#!/bin/sh
# roialign.sh times argus's RoIAlign (forward and backward, single level and
# the FPN pooler) and torchvision's CPU kernel on the same boxes in one run,
# on one thread each and on two, and prints the side-by-side medians
# (docs/perf/detection.md):
#
#   tools/bench/detection/roialign.sh [REPS]   # PYTHON=/usr/bin/python3 by default
set -eu
cd "$(dirname "$0")/../../.."
py=${PYTHON:-/usr/bin/python3}
reps=${1:-10}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/roialign" ./tools/bench/detection/roialign
for threads in 1 2; do
GOMAXPROCS=$threads "$tmp/roialign" -reps "$reps" >"$tmp/argus.jsonl"
"$py" tools/bench/detection/roialign_reference.py --threads "$threads" --reps "$reps" >"$tmp/torchvision.jsonl"
"$py" - "$tmp/argus.jsonl" "$tmp/torchvision.jsonl" <<'PY'
import json, statistics, sys
a = [json.loads(l) for l in open(sys.argv[1])]
t = [json.loads(l) for l in open(sys.argv[2])]
med = statistics.median
print("| workload | boxes per level | argus fwd+bwd wall ms | torchvision fwd+bwd wall ms | wall ratio | argus CPU ms | torchvision CPU ms | CPU ratio |")
print("|---|---|---|---|---|---|---|---|")
for x, y in zip(a, t):
    assert x["name"] == y["name"] and x["boxes_per_level"] == y["boxes_per_level"], (x["name"], y["name"])
    aw = med([f + b for f, b in zip(x["forward_ms"], x["backward_ms"])])
    tw = med([f + b for f, b in zip(y["forward_ms"], y["backward_ms"])])
    ac = med([f + b for f, b in zip(x["cpu_forward_ms"], x["cpu_backward_ms"])])
    tc = med([f + b for f, b in zip(y["cpu_forward_ms"], y["cpu_backward_ms"])])
    print(f"| {x['name']} | {x['boxes_per_level']} | {aw:.1f} | {tw:.1f} | {tw / aw:.1f}x | {ac:.1f} | {tc:.1f} | {tc / ac:.1f}x |")
print(f"\nargus GOMAXPROCS {a[0]['gomaxprocs']}; torch {t[0]['torch']}, torchvision {t[0]['torchvision']}, {t[0]['threads']} threads\n")
PY
done
