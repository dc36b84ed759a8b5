#!/bin/sh
# gemm.sh measures SGEMM in Argus and in PyTorch side by side and prints the
# Markdown table of docs/perf/gemm.md.
#
#   tools/bench/gemm.sh [-large]
#
# Both run on THREADS threads (default 2). Each shape alternates the two tools
# ROUNDS times (default 3) so that other load on the machine hits both alike;
# the table keeps each tool's best and mean GFLOP/s. -large adds 4096^3.
# PYTHON names an interpreter with torch (default /usr/bin/python3, Debian's).
set -eu
cd "$(dirname "$0")/../.."
threads=${THREADS:-2}
rounds=${ROUNDS:-3}
py=${PYTHON:-/usr/bin/python3}
"$py" -c 'import torch' 2>/dev/null || { echo "gemm.sh: $py cannot import torch; set PYTHON" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/argus" ./cmd/argus

shapes="64 64 64 1
256 256 256 1
1024 1024 1024 1
300 12544 256 1
49 256 64 300"
if [ "${1:-}" = "-large" ]; then
	shapes="$shapes
4096 4096 4096 1"
fi

field() { "$py" -c 'import json,sys; print("%.1f" % json.load(sys.stdin)[sys.argv[1]])' "$1"; }
best() { awk -v a="$1" -v b="$2" 'BEGIN { print (a > b ? a : b) }'; }

echo "| m × n × k (batch) | Argus best | Argus mean | PyTorch best | PyTorch mean | Argus / PyTorch (best) |"
echo "|---|---:|---:|---:|---:|---:|"
echo "$shapes" | while read -r m n k batch; do
	ab=0 am=0 tb=0 tm=0
	i=0
	while [ "$i" -lt "$rounds" ]; do
		out=$(GOMAXPROCS=$threads "$tmp/argus" bench gemm --m "$m" --n "$n" --k "$k" --batch "$batch" --json)
		ab=$(best "$ab" "$(echo "$out" | field gflops)")
		am=$(best "$am" "$(echo "$out" | field mean_gflops)")
		out=$("$py" tools/bench/sgemm.py --m "$m" --n "$n" --k "$k" --batch "$batch" --threads "$threads")
		tb=$(best "$tb" "$(echo "$out" | field gflops)")
		tm=$(best "$tm" "$(echo "$out" | field mean_gflops)")
		i=$((i + 1))
	done
	shape="$m × $n × $k"
	[ "$batch" -gt 1 ] && shape="$shape ($batch)"
	awk -v s="$shape" -v ab="$ab" -v am="$am" -v tb="$tb" -v tm="$tm" \
		'BEGIN { printf "| %s | %.1f | %.1f | %.1f | %.1f | %.2f |\n", s, ab, am, tb, tm, ab / tb }'
done
