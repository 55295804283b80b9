#!/usr/bin/env bash
# The reference result set measured on a 2-core CPU (profile=cpu): the specs below, row by row,
# through the reproduction runner (the runs are exactly the rows' configurations).
#
# It refuses to start from a checkout with uncommitted changes (every record must name code that
# can be recovered); DIRTY_OK=1 lets a local experiment run anyway (its records say +dirty).
#
# Machines here are fresh at every session and a session ends its processes: start this first,
# in the background, and commit what finished before the session ends. Records already committed
# under docs/results/cpu/records count as done (they are copied into $RESULTS first; a pruned row's
# baseline, whose checkpoint no commit holds, trains again only for the rows still to run); an
# unfinished run continues from its last.ckpt while $RESULTS survives.
#
#   DATA=/path/to/data RESULTS=/path/outside/the/checkout nohup nice -n 5 scripts/reference_cpu.sh >> reference.log 2>&1 &
#
# Then export the new records for committing (no machine paths) and render the report from them:
#   python -m lightcnn.results.export "$RESULTS" docs/results/cpu/records --profile cpu --data-source "..."
#   lightcnn-tables --results docs/results/cpu/records --out docs/results/cpu --profile cpu
set -uo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-./data}
RESULTS=${RESULTS:-./results-cpu}
PYTHON=${PYTHON:-.venv/bin/python}
# in order: the training-path anchor and the Pointwise OctConv claims at depth 20, float32 against bf16
# autocast, the kernel templates (and their reuse census), ACA im2col, the MobileNet study, the pruning report on ResNet-20 (each
# spec's profiles.cpu, or its comments, say how it is sized for this machine)
DEFAULT_SPECS="experiments/octconv/resnet20.yaml experiments/resnet/precision.yaml experiments/templates/table1.yaml experiments/templates/table2_3.yaml experiments/aca/table4_1.yaml experiments/mobilenet/study.yaml experiments/pruning/resnet20.yaml"
read -r -a SPECS <<< "${SPECS:-$DEFAULT_SPECS}"
# more arguments of the reproduction, e.g. REPRODUCE_ARGS="--rows *one-shot* --rows method*" (no spaces in one)
read -r -a EXTRA <<< "${REPRODUCE_ARGS:-}"

# the checkout's records exactly: a record removed from docs (superseded by a rerun) must not come
# back from an earlier start's copy
rm -rf "$RESULTS/committed" && mkdir -p "$RESULTS/committed"
cp -r docs/results/cpu/records/. "$RESULTS/committed/" 2>/dev/null || true
CLEAN=(--clean-tree)
[[ "${DIRTY_OK:-0}" == 1 ]] && CLEAN=()
echo "== $(date -u +%FT%TZ) reproduce --profile cpu ${EXTRA[*]} ${SPECS[*]}"
"$PYTHON" -m lightcnn.reproduce --profile cpu --results "$RESULTS" --out "$RESULTS/report" "${CLEAN[@]}" \
    --override "data_dir=$DATA" "${EXTRA[@]}" "${SPECS[@]}"
echo "== $(date -u +%FT%TZ) exit $?"
