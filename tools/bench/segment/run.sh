#!/bin/sh
# run.sh times the segmentation evaluation of argus and of the numpy and
# mmseg (torch) references on the same seeded synthetic label maps,
# 300 pairs of 512x1024 PNGs with 19 classes (docs/perf/segment.md):
#
#   tools/bench/segment/run.sh [N]      # PYTHON=/usr/bin/python3 by default
set -eu
cd "$(dirname "$0")/../../.."
py=${PYTHON:-/usr/bin/python3}
n=${1:-300}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/argus" ./cmd/argus
echo "## segmetric on maps held in memory, and the inputs"
go run ./tools/bench/segment -dir "$tmp/data" -n "$n"
echo "## argus eval segment, end to end (wall, user, system seconds)"
for i in 1 2 3; do
	/usr/bin/time -f "%e %U %S" "$tmp/argus" eval segment --pred "$tmp/data/pred" --gt "$tmp/data/gt" --num-classes 19 --json
done
echo "## numpy and mmseg references"
"$py" tools/bench/segment/reference.py "$tmp/data"
