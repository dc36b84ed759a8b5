#!/bin/sh
# run.sh times `argus bench train-step` and `argus bench infer` and the same
# workloads in PyTorch side by side, and prints the Markdown table of
# docs/perf/models.md.
#
#   tools/bench/models/run.sh
#
# Workloads: ResNet-18 training step (batch 32, 64×64), MNIST CNN training
# step (batch 64, 28×28), ResNet-18 inference (batch 1, 224×224) on the
# compiled network (infer.Net) and on the autograd graph, ResNet-50
# inference on the compiled network, DeiT-tiny training step (batch 16,
# 224×224) and inference (batch 1, on the autograd graph). Each
# workload alternates `argus bench ...` and tools/bench/models/bench.py
# ROUNDS times (default 3), so that other load on the machine hits both
# alike, and keeps each tool's fastest step over all rounds and its best
# per-round mean and CPU time per step (process CPU time over the timed
# steps, divided by their number). Both run on THREADS threads (default 2): GOMAXPROCS for
# Argus, torch.set_num_threads for PyTorch. PYTHON names an interpreter
# with torch and torchvision (default /usr/bin/python3).
set -eu
cd "$(dirname "$0")/../../.."
threads=${THREADS:-2}
rounds=${ROUNDS:-3}
py=${PYTHON:-/usr/bin/python3}
"$py" -c 'import torch, torchvision' 2>/dev/null || { echo "run.sh: $py cannot import torch and torchvision; set PYTHON" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/argus" ./cmd/argus

field() { "$py" -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
lowest() { awk -v a="$1" -v b="$2" 'BEGIN { print ((a == 0 || b < a) ? b : a) }'; }

# workload NAME KIND ITERS ARGS...: KIND is train-step or infer.
workload() {
	name=$1 kind=$2 iters=$3
	shift 3
	if [ "$kind" = infer ]; then
		best=ms_per_batch mean=mean_ms_per_batch cpu=cpu_ms_per_batch
	else
		best=seconds_per_step mean=mean_seconds_per_step cpu=cpu_seconds_per_step
	fi
	ab=0 am=0 ac=0 tb=0 tm=0 tc=0
	i=0
	while [ "$i" -lt "$rounds" ]; do
		# $extra holds flags for Argus alone (such as --engine).
		out=$(GOMAXPROCS=$threads "$tmp/argus" bench "$kind" "$@" $extra --iters "$iters" --json)
		ab=$(lowest "$ab" "$(echo "$out" | field $best)")
		am=$(lowest "$am" "$(echo "$out" | field $mean)")
		ac=$(lowest "$ac" "$(echo "$out" | field $cpu)")
		out=$("$py" tools/bench/models/bench.py "$kind" "$@" --iters "$iters" --threads "$threads")
		tb=$(lowest "$tb" "$(echo "$out" | field $best)")
		tm=$(lowest "$tm" "$(echo "$out" | field $mean)")
		tc=$(lowest "$tc" "$(echo "$out" | field $cpu)")
		i=$((i + 1))
	done
	if [ "$kind" = infer ]; then
		# Latency: lower is better; the ratio is Argus over PyTorch.
		awk -v n="$name" -v ab="$ab" -v am="$am" -v ac="$ac" -v tb="$tb" -v tm="$tm" -v tc="$tc" \
			'BEGIN { printf "| %s | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %.2f× latency |\n", n, ab, am, ac, tb, tm, tc, ab / tb }'
	else
		# Throughput: higher is better; the ratio is Argus over PyTorch.
		batch=$(echo "$out" | field batch)
		awk -v n="$name" -v ab="$ab" -v am="$am" -v ac="$ac" -v tb="$tb" -v tm="$tm" -v tc="$tc" -v b="$batch" \
			'BEGIN { printf "| %s | %.3f s (%.0f img/s) | %.3f s | %.3f s | %.3f s (%.0f img/s) | %.3f s | %.3f s | %.2f× img/s |\n", n, ab, b / ab, am, ac, tb, b / tb, tm, tc, tb / ab }'
	fi
}

echo "| Workload | Argus best | Argus mean | Argus CPU | PyTorch best | PyTorch mean | PyTorch CPU | Argus / PyTorch (best) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
extra=
workload "ResNet-18 train step, batch 32, 64×64" train-step 5 --model resnet18 --batch 32 --size 64
workload "MNIST CNN train step, batch 64, 28×28" train-step 10 --model mnist-cnn --batch 64
workload "ResNet-18 inference, batch 1, 224×224" infer 10 --model resnet18 --batch 1 --size 224
workload "ResNet-50 inference, batch 1, 224×224" infer 10 --model resnet50 --batch 1 --size 224
workload "DeiT-tiny train step, batch 16, 224×224" train-step 3 --model deit-tiny --batch 16 --size 224
workload "DCAL-DeiT-tiny train step (GLCA + PWCA), batch 16, 224×224, 200 classes" train-step 2 --model deit-tiny --dcal glca,pwca --batch 16 --size 224 --classes 200
workload "DeiT-tiny inference, batch 1, 224×224" infer 10 --model deit-tiny --batch 1 --size 224
extra="--engine autograd"
workload "ResNet-18 inference, batch 1, 224×224, autograd engine" infer 10 --model resnet18 --batch 1 --size 224
