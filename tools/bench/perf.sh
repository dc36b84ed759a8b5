#!/bin/sh
# perf.sh regenerates every side-by-side measurement behind docs/PERFORMANCE.md,
# one area after another, each against its reference tool on this machine:
#
#   tools/bench/perf.sh            # about 30 minutes on 2 cores
#
# PYTHON names an interpreter with torch, torchvision, scipy, POT and Optuna
# (Debian's python3-torch, python3-torchvision, python3-scipy, python3-pot,
# python3-optuna; default /usr/bin/python3). Run it on an otherwise idle
# machine: PyTorch's threads suffer far more than Go's from a shared CPU.
set -eu
cd "$(dirname "$0")/../.."
py=${PYTHON:-/usr/bin/python3}
export PYTHON="$py"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/argus" ./cmd/argus

echo "## SGEMM (docs/perf/gemm.md)"
tools/bench/gemm.sh

echo "## Training steps and inference (docs/perf/models.md)"
tools/bench/models/run.sh

echo "## COCO evaluation (docs/perf/detection.md)"
"$tmp/argus" bench coco --json
echo "## Hungarian and Sinkhorn (docs/perf/detection.md)"
go test ./assign -run XXX -bench 'Hungarian|Sinkhorn' -benchtime 20x
"$py" tools/bench/detection/assign_reference.py
echo "## RoIAlign (docs/perf/detection.md)"
PYTHON="$py" tools/bench/detection/roialign.sh 10

echo "## Re-ID evaluation and Jaccard distance (docs/perf/reid.md)"
go run ./tools/bench/reid -dir "$tmp/reid" -jaccard
"$py" tools/bench/reid/eval_reference.py "$tmp/reid" --jaccard

echo "## Segmentation evaluation (docs/perf/segment.md)"
PYTHON="$py" tools/bench/segment/run.sh

echo "## Data pipeline (docs/perf/data.md)"
go test ./data/loader/ -run XXX -bench ImageNetPipeline -benchtime 3x
"$py" tools/bench/data/torchvision_pipeline.py --workers 2

echo "## Hyper-parameter search (docs/perf/hpo.md)"
for f in branin hartmann6; do
	for s in gp tpe random; do
		"$tmp/argus" hpo bench --function "$f" --sampler "$s" --trials 100 --seeds 20 --json
	done
done
"$py" tools/bench/hpo/optuna_tpe.py --trials 100 --seeds 20
