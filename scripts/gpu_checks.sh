#!/usr/bin/env bash
# The checks only a GPU can run, as one command that ends within DEADLINE_S seconds (a lent GPU
# machine's time is short: start it once, run this, give it back):
#   1. tests/test_cuda.py                                        -> $OUT/test_cuda.log
#   2. the training benchmark, ResNet-56, float32 and auto precision, batch 128 and 512
#                                                                -> $OUT/bench.log (JSON lines, tables)
#   3. the quick profile (PROFILE) of the Pointwise OctConv tables (SPECS), JOBS trainings at a time
#      on the one GPU, until the deadline: every finished run's record and the report rendered from
#      them                                                      -> $OUT/quick.tar.gz, $OUT/reproduce.log
# From the repository root of a checkout that was never installed (the jobs run as `python -m lightcnn`):
#
#   OUT=out DATA=data WHEELS=.whl scripts/gpu_checks.sh
#
# WHEELS (optional): a folder of wheels of what the machine lacks (Hydra, OmegaConf, fvcore, …),
# installed without their dependencies into a folder put on PYTHONPATH. DATA: the data sets in the
# standard layout (cifar-10-batches-py/ …); PREPARE (optional): a command run first that writes them
# there. Back here, unpack quick.tar.gz and export its records:
#
#   python -m lightcnn.results.export <unpacked>/results docs/results/quick/records --profile quick --data-source "…"
#   lightcnn-tables --results docs/results/quick/records --out docs/results/quick --profile quick
set -uo pipefail
cd "$(dirname "$0")/.."
: "${OUT:?OUT: the folder the results go to}" "${DATA:?DATA: the folder of the data sets}"
PYTHON=${PYTHON:-python3}
DEADLINE_S=${DEADLINE_S:-540}
JOBS=${JOBS:-4}
SPECS=${SPECS:-experiments/octconv/table1.yaml experiments/octconv/table3.yaml}
PROFILE=${PROFILE:-quick}
DEVICE=${DEVICE:-cuda}  # cpu (with PROFILE=smoke): try the script's plumbing on a machine without a GPU
BATCHES=${BATCHES:-128 512}  # the benchmark's batch sizes
read -r -a bench_args <<< "${BENCH_ARGS:-}"  # more arguments of the benchmark (--depth 20 --steps 2: a quick try on a CPU)
START=$SECONDS
left() { echo $((DEADLINE_S - (SECONDS - START))); }
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

if [[ -n "${WHEELS:-}" ]]; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/lightcnn-site "$WHEELS"/*.whl || exit 1
    export PYTHONPATH="$PYTHONPATH:/tmp/lightcnn-site"
fi
if [[ -n "${PREPARE:-}" ]]; then
    bash -c "$PREPARE" > "$OUT/prepare.log" 2>&1 || { tail -5 "$OUT/prepare.log"; exit 1; }
fi
"$PYTHON" -c "import torch; print('torch', torch.__version__, '|', torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU')"

echo "== $(date -u +%T) tests/test_cuda.py"
timeout $(( $(left) / 3 )) "$PYTHON" -m pytest -q -p no:cacheprovider tests/test_cuda.py > "$OUT/test_cuda.log" 2>&1
echo "exit $?: $(tail -1 "$OUT/test_cuda.log")"

echo "== $(date -u +%T) bench"
for batch in $BATCHES; do
    timeout 120 "$PYTHON" -m lightcnn.bench --device "$DEVICE" --model resnet --depth 56 --batch-size "$batch" \
        --precision 32,auto "${bench_args[@]}" >> "$OUT/bench.log" 2>&1
    echo "batch $batch exit $?"
done
grep "^|" "$OUT/bench.log"

echo "== $(date -u +%T) $PROFILE reproduction, $(left) s left"
RESULTS=${RESULTS:-/tmp/lightcnn-$PROFILE}
read -r -a specs <<< "$SPECS"
overrides=(--override "data_dir=$DATA")
[[ "$DEVICE" != cuda ]] && overrides+=(--override "trainer.accelerator=$DEVICE")  # on a GPU machine, auto picks it
timeout $(( $(left) - 30 )) "$PYTHON" -m lightcnn.reproduce --profile "$PROFILE" --jobs "$JOBS" --results "$RESULTS/results" \
    --out "$RESULTS/report" "${overrides[@]}" "${specs[@]}" > "$OUT/reproduce.log" 2>&1
echo "exit $? (124: stopped at the deadline; the finished runs are kept)"
grep -E "^(ok|failed|diverged|interrupted|blocked)" "$OUT/reproduce.log" | tail -20
# the report of whatever finished (reproduce writes it only when it was not stopped)
"$PYTHON" -c "from lightcnn.cli import tables_main; tables_main()" --results "$RESULTS/results" \
    --out "$RESULTS/report" --profile "$PROFILE" "${specs[@]}" > /dev/null 2>> "$OUT/reproduce.log"
# records, configs and metrics, never weights
(cd "$RESULTS" && find . -name '*.ckpt' -prune -o -type f -print | tar -czf "$OUT/$PROFILE.tar.gz" -T -)
echo "== $(date -u +%T) done in $((SECONDS - START)) s: $(find "$RESULTS/results" -name result.json | wc -l) records"
