#!/usr/bin/env bash
# The reference result set measured on a 2-core CPU (profile=cpu): the specs below, row by row.
# Resumable across machines: records already committed under docs/results/cpu/records count as
# done (they are copied into $RESULTS first), the unfinished run continues from its last.ckpt.
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
PYTHON=${PYTHON:-.venv/bin/python}
SPECS=(${SPECS:-experiments/octconv/resnet20.yaml})

mkdir -p "$RESULTS/committed"
cp -rn docs/results/cpu/records/. "$RESULTS/committed/" 2>/dev/null || true
echo "== $(date -u +%FT%TZ) reproduce --profile cpu ${SPECS[*]}"
"$PYTHON" -m lightcnn.reproduce --profile cpu --results "$RESULTS" --out "$RESULTS/report" \
    --override "data_dir=$DATA" "${SPECS[@]}"
echo "== $(date -u +%FT%TZ) exit $?"
