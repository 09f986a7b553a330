#!/bin/bash
# Run the parallel-scaling benchmarks on a many-core machine.
#
# Usage (from anywhere; simpipe, OpenSim and Dask importable by $PY):
#
#     bash benchmarks/device_run.sh [LOG_DIR]        # default ./bench_out
#
# Writes LOG_DIR/machine.txt, one LOG_DIR/<step>.log per benchmark and
# LOG_DIR/summary.txt (the key lines). The steps, shortest first so that a
# run cut short still has them:
#
#   ik_chunked  bench_ik_id.py --case 3d: IK of the 720-frame 3D trial in
#               $IK_CHUNKS chunks on as many workers vs one task vs the tool
#   sweep       bench_sweep.py --variants 16 --workers $WORKERS: the
#               joint-level sweep, K=16, efficiency per worker count
#   efficiency  bench_efficiency.py --variants $VARIANTS --workers $WORKERS:
#               the muscle-stage sweep (2 x VARIANTS MocoInverse tasks of
#               ~15 s each on one core), efficiency per worker count, and
#               where each run's wall time went
#
# Each step runs under `timeout`, capped by what is left of $BUDGET_S
# (default 450 s) for the whole script; a step cut short keeps the lines it
# printed. Defaults: WORKERS=1,2,4,8, VARIANTS=4, IK_CHUNKS=2, PY=python3.
# About 7 minutes on 16 cores (the efficiency step ~4.5 of them: one worker
# alone runs its 8 muscle tasks one after the other).
set -u
out=${1:-./bench_out}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$(dirname "$0")/.." || exit 1
PY=${PY:-python3}
WORKERS=${WORKERS:-1,2,4,8}
VARIANTS=${VARIANTS:-4}
IK_CHUNKS=${IK_CHUNKS:-2}
BUDGET_S=${BUDGET_S:-450}
deadline=$(( $(date +%s) + BUDGET_S ))

{
    echo "date: $(date -Is)"
    echo "nproc: $(nproc) (all: $(nproc --all)); affinity of this shell: $(taskset -pc $$ 2>/dev/null | cut -d: -f2)"
    lscpu | grep -E '^(Model name|CPU\(s\)|Thread\(s\) per core|Core\(s\) per socket|Socket\(s\)|CPU max MHz)' || true
    echo "load: $(cat /proc/loadavg)"
    free -m | head -2
    echo "python: $("$PY" -c 'import sys; print(sys.version.split()[0])')"
    echo "settings: WORKERS=$WORKERS VARIANTS=$VARIANTS IK_CHUNKS=$IK_CHUNKS BUDGET_S=$BUDGET_S"
} 2>&1 | tee "$out/machine.txt"
# After nproc above: GNU nproc reports OMP_NUM_THREADS when it is set.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONUNBUFFERED=1

KEYS='^(RATIO|CHUNK|JOIN|EFFICIENCY|REUSE|--|   timeline|   [0-9]+ x T|   muscle task-seconds|   IK through)'
NOISE='Port 8787 is already in use|Perhaps you already have a cluster|Hosting the HTTP server on port|warnings.warn\('

# step NAME LIMIT_S SCRIPT ARGS...: run one benchmark under timeout, log it, echo its key lines.
step() {
    local name=$1 limit=$2 left start rc
    shift 2
    left=$(( deadline - $(date +%s) ))
    (( left < limit )) && limit=$left
    if (( limit < 30 )); then
        echo "== $name: skipped (${left} s left of BUDGET_S=$BUDGET_S)" | tee -a "$out/summary.txt"
        return
    fi
    echo "== $name (limit ${limit} s, load $(cut -d' ' -f1-3 /proc/loadavg)): $*" | tee -a "$out/summary.txt"
    start=$(date +%s)
    timeout -k 10 "$limit" "$PY" "$@" 2>&1 | grep -Ev "$NOISE" > "$out/$name.log"
    rc=${PIPESTATUS[0]}
    grep -E "$KEYS" "$out/$name.log" | tee -a "$out/summary.txt"
    echo "   $name: exit $rc$( ((rc == 124)) && echo ' (timed out)') after $(( $(date +%s) - start )) s" \
        | tee -a "$out/summary.txt"
    ((rc != 0)) && tail -5 "$out/$name.log"
}

step ik_chunked 100 benchmarks/bench_ik_id.py --case 3d --repeats 2 --chunks "$IK_CHUNKS"
step sweep 130 benchmarks/bench_sweep.py --variants 16 --workers "$WORKERS"
step efficiency 400 benchmarks/bench_efficiency.py --variants "$VARIANTS" --workers "$WORKERS"
echo "total $(( $(date +%s) - deadline + BUDGET_S )) s; logs in $out" | tee -a "$out/summary.txt"
