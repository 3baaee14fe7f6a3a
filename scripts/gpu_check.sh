#!/usr/bin/env bash
# GPU check: one command that verifies the CUDA path and measures what the paper's runs cost on this GPU, in at
# most 8 minutes, set-up included. docs/gpu.md gives the device call that runs it and what each output means.
#
#   bash scripts/gpu_check.sh                                  # results in $OUT if set, else runs/gpu_check/
#   GPU_CHECK_STEPS="ddp fidelity" bash scripts/gpu_check.sh   # some steps only (e.g. rerun a failed one)
#
# Python: .venv where scripts/setup.sh made one. Else, where .device-pack/ is (python scripts/device_pack.py made
# it on a machine with PyPI), device mode: this machine's python3 with its own torch, the pack's wheels installed
# offline into a temporary folder, Fashion-MNIST unpacked from the pack; no .git needed. Else scripts/setup.sh.
# Every step runs under `timeout` with its budget; a failed step is recorded and the next one still runs (a GPU
# slice is rare: one failure should not cost the other results). The steps and budgets: `plan` below.
# Results: at most 8 files in the results folder (the device tool brings back 8): summary.txt, steps.csv,
# throughput.csv, fidelity.csv, ddp.csv, quick_runs.csv, environment.txt and logs.tar.gz (every log and CSV).
# Without a CUDA device it prints the plan, runs nothing and exits with code 2.
set -euo pipefail
SCRIPT=$(realpath "$0")
cd "$(dirname "$SCRIPT")/.."
REPO=$PWD
RESULTS=$(realpath -m "${OUT:-runs/gpu_check}")

TOTAL_BUDGET=480
BUDGET_SETUP=${BUDGET_SETUP:-40}
BUDGET_TESTS=${BUDGET_TESTS:-60}
BUDGET_THROUGHPUT=${BUDGET_THROUGHPUT:-110}
BUDGET_FIDELITY=${BUDGET_FIDELITY:-110}
BUDGET_DDP=${BUDGET_DDP:-50}
BUDGET_PROFILES=${BUDGET_PROFILES:-}   # empty: what the steps before it left of TOTAL_BUDGET (at least 60 s)
MIN_PROFILES_BUDGET=60
PYTHON_MARGIN=10                       # of a step's budget, for starting Python; the step plans with the rest
STEPS=${GPU_CHECK_STEPS:-tests throughput fidelity ddp profiles}
QUICK_PROFILES=${GPU_CHECK_PROFILES:-cifar10}
QUICK_STAGES=${GPU_CHECK_STAGES:-}     # empty: every stage
DEVICE_ARGS=""
[ "${GPU_CHECK_TINY:-0}" = 1 ] && DEVICE_ARGS="--device cpu --tiny"  # tests/test_gpu_check.py: CPU, toy sizes

plan() {
  cat <<PLAN
  0 set-up       $BUDGET_SETUP  device mode only: the pack's wheels installed offline, Fashion-MNIST unpacked
  1 tests        $BUDGET_TESTS  pytest -m cuda tests/test_cuda.py: every backbone, head and training loop on the GPU,
                     bf16 and channels_last against float32, GPU checkpoints loaded on the CPU and back
  2 throughput  $BUDGET_THROUGHPUT  classifier32 at 32 px, Softmax / ARPL / ARPL+CS, K = 1, 8, 4 runs at once:
                     aggregate images/s and peak memory per run (rows for benchmarks/results.csv), then the
                     hours of every paper profile on this GPU (python -m arpl check's plan)
  3 fidelity    $BUDGET_FIDELITY  fashion-mnist-anchor, split 0, ARPL and Softmax side by side, as many of its 40
                     epochs as fit: AUROC under both conventions beside arpl/anchors_fashion_mnist.csv
  4 ddp          $BUDGET_DDP  torchrun on every GPU over NCCL (one GPU: 2 processes sharing it over gloo) against one
                     process: same loss within 0.1
  5 profiles    rest  the quick run of profile(s) $QUICK_PROFILES through \`dvc repro\` on CUDA (scripts/quick_run.py,
                     synthetic data in the real layouts): every stage and the report (at least $MIN_PROFILES_BUDGET s)
  In all $TOTAL_BUDGET s, set-up included.
PLAN
}

# run_step NUMBER NAME BUDGET COMMAND...: run one step under `timeout`, log it and record it
run_step() {
  local number=$1 name=$2 budget=$3 start status
  shift 3
  case " $STEPS " in *" $name "*) ;; *) return 0 ;; esac
  echo "==> step $number $name (budget $budget s): $*"
  start=$SECONDS
  set +e
  timeout --kill-after=10 "$budget" "$@" 2>&1 | tee "$WORK/$name.log"
  status=${PIPESTATUS[0]}
  set -e
  record "$number" "$name" "$status" $((SECONDS - start)) "$budget"
}

# record NUMBER NAME STATUS SECONDS BUDGET: a row of steps.csv and lines in summary.txt
record() {
  local number=$1 name=$2 status=$3 seconds=$4 budget=$5 verdict=ok
  if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
    verdict="FAILED, timed out after $budget s"
  elif [ "$status" -ne 0 ]; then
    verdict="FAILED, exit code $status"
  fi
  echo "$number,$name,${verdict%%,*},$seconds,$budget" >> "$WORK/steps.csv"
  echo "step $number $name: $verdict ($seconds s of $budget)" >> "$WORK/summary.txt"
  if [ ! -f "$WORK/$name.txt" ]; then  # steps without a summary of their own: their last line
    tail -n 1 "$WORK/$name.log" > "$WORK/$name.txt"
  fi
  sed 's/^/    /' "$WORK/$name.txt" >> "$WORK/summary.txt"
  if [ "$status" -ne 0 ]; then
    FAILED="$FAILED $name"
    { echo "    last lines of $name.log:"; tail -n 12 "$WORK/$name.log" | sed 's/^/    | /'; } >> "$WORK/summary.txt"
  fi
}

# collect: the at most 8 files of the results folder (logs.tar.gz holds everything else worth reading); the work
# folder goes (GPU_CHECK_KEEP_WORK=1 keeps it)
collect() {
  mkdir -p "$RESULTS"
  for file in summary.txt steps.csv throughput.csv fidelity.csv ddp.csv quick_runs.csv environment.txt; do
    [ -f "$WORK/$file" ] && cp "$WORK/$file" "$RESULTS/"
  done
  (cd "$WORK" && find . -maxdepth 3 \( -name '*.log' -o -name '*.csv' -o -name '*.txt' -o -name 'index.html' \) \
     -not -path './site/*' -print0 | tar --null -czf "$RESULTS/logs.tar.gz" -T -) || true
  [ "${GPU_CHECK_KEEP_WORK:-0}" = 1 ] || rm -rf "$WORK"
}

# device_setup: this machine's python3 and torch, the pack's wheels installed offline, Fashion-MNIST unpacked
device_setup() {
  set -e
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$WORK/site" \
    .device-pack/wheels/*.whl
  "$PY" scripts/device_pack.py unpack-data
  PYTHONPATH="$WORK/site:$PWD" "$PY" -m arpl prepare-data --params params.yaml
}

FAILED=""
MODE=venv
if [ -x .venv/bin/python ]; then
  PY=.venv/bin/python
elif [ -d .device-pack/wheels ]; then
  MODE=device
  PY=${PYTHON:-python3}
else
  echo "==> no .venv and no .device-pack: bash scripts/setup.sh (not counted in the budget)"
  bash scripts/setup.sh
  PY=.venv/bin/python
fi
export PYTHONUNBUFFERED=1

if ! DEVICES=$("$PY" scripts/gpu_check.py devices $DEVICE_ARGS); then
  { echo "gpu_check: $DEVICES; nothing was run."
    echo "On a machine with CUDA GPUs this command runs, in at most 8 minutes, into \$OUT or runs/gpu_check/:"
    plan; } >&2
  exit 2
fi

START=$SECONDS
WORK=$(mktemp -d "${TMPDIR:-/tmp}/arpl-gpu-check.XXXXXX")
trap collect EXIT
echo "GPU check $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $MODE mode:" \
  "$DEVICES" | tee "$WORK/summary.txt"
echo "step,name,status,seconds,budget_s" > "$WORK/steps.csv"
if [ "$MODE" = device ]; then
  export -f device_setup
  export PY WORK
  STEPS="setup $STEPS"
  run_step 0 setup "$BUDGET_SETUP" bash -c device_setup
  export PYTHONPATH="$WORK/site:$REPO" PATH="$WORK/site/bin:$PATH"
fi
{ echo "python: $("$PY" -c 'import sys; print(sys.version)')"; "$PY" -m pip --version
  echo "pip check (the image with the pack's wheels):"; "$PY" -m pip check 2>&1 || true
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  echo "pip freeze:"; "$PY" -m pip freeze --all --path "$("$PY" -c 'import site; print(site.getsitepackages()[0])')"
} > "$WORK/environment.txt" 2>&1 || true

run_step 1 tests "$BUDGET_TESTS" "$PY" -m pytest tests/test_cuda.py -m cuda -p no:xdist -p no:cacheprovider -q -rs
run_step 2 throughput "$BUDGET_THROUGHPUT" "$PY" scripts/gpu_check.py throughput --out "$WORK" \
  --budget-s $((BUDGET_THROUGHPUT - PYTHON_MARGIN)) $DEVICE_ARGS
run_step 3 fidelity "$BUDGET_FIDELITY" "$PY" scripts/gpu_check.py fidelity --out "$WORK" \
  --budget-s $((BUDGET_FIDELITY - PYTHON_MARGIN)) $DEVICE_ARGS
run_step 4 ddp "$BUDGET_DDP" "$PY" scripts/gpu_check.py ddp --out "$WORK" $DEVICE_ARGS
QUICK_DEVICE=cuda
[ "${GPU_CHECK_TINY:-0}" = 1 ] && QUICK_DEVICE=cpu
profiles_budget=${BUDGET_PROFILES:-$((TOTAL_BUDGET - (SECONDS - START)))}
[ "$profiles_budget" -lt "$MIN_PROFILES_BUDGET" ] && profiles_budget=$MIN_PROFILES_BUDGET
# shellcheck disable=SC2086
run_step 5 profiles "$profiles_budget" "$PY" scripts/quick_run.py $QUICK_PROFILES --fake-data \
  --device "$QUICK_DEVICE" --out "$WORK/quick" --stages $QUICK_STAGES
[ -f "$WORK/quick/quick_runs.csv" ] && cp "$WORK/quick/quick_runs.csv" "$WORK/"

if [ -n "$FAILED" ]; then
  echo "gpu_check: failed:$FAILED, in $((SECONDS - START)) s (budget $TOTAL_BUDGET s)" >> "$WORK/summary.txt"
else
  echo "gpu_check: steps ($STEPS) passed in $((SECONDS - START)) s (budget $TOTAL_BUDGET s)" >> "$WORK/summary.txt"
fi
echo
cat "$WORK/summary.txt"
echo "gpu_check: results in $RESULTS"
[ -z "$FAILED" ]
