#!/usr/bin/env bash
# The reference result set measured on a 2-core CPU (profile=cpu), run one after another.
# Every run is resumable: run this script again after an interruption and finished runs are
# skipped, the unfinished one continues from its last epoch.
#
#   DATA=/path/to/data RESULTS=/path/outside/the/checkout nohup nice -n 19 scripts/reference_cpu.sh >> reference.log 2>&1 &
#
# Then export the records for committing (no machine paths) and render the report from them:
#   python -m lightcnn.results.export "$RESULTS" docs/results/cpu/records --profile cpu --data-source "..."
#   lightcnn-tables --results docs/results/cpu/records --out docs/results/cpu --profile cpu
set -uo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-./data}
RESULTS=${RESULTS:-./results-cpu}
LIGHTCNN=${LIGHTCNN:-.venv/bin/lightcnn}
# float32 pinned (what trainer.precision=auto picks on an AVX2-only CPU): the set means the same on every machine
COMMON=(profile=cpu "data_dir=$DATA" "results_dir=$RESULTS" trainer.progress_bar=false trainer.precision=32)

run() { echo "== $(date -u +%FT%TZ) lightcnn $*"; "$LIGHTCNN" "${COMMON[@]}" "$@" > /dev/null || echo "!! exit $?"; }

# the training path against a known anchor (He et al.: ResNet-20 91.25% at 164 epochs)
run dataset=cifar10 model=resnet model.depth=20
# Octave and Pointwise-Octave ResNet-20 at the same schedule
run dataset=cifar10 model=oct_resnet model.depth=20 model.alpha=0.25
run dataset=cifar10 model=oct_resnet model.depth=20 model.alpha=0.75
run dataset=cifar10 model=pwise_oct_resnet model.depth=20 model.alpha=0.25 model.bottleneck=per_path
run dataset=cifar10 model=pwise_oct_resnet model.depth=20 model.alpha=0.25 model.bottleneck=shared
