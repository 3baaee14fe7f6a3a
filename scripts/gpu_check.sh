#!/usr/bin/env bash
# GPU check: one command that verifies the CUDA path (data and batched augmentation on the GPU, bf16 autocast,
# channels_last, fused optimisers, torch.compile, DDP under torchrun) in at most 8 minutes on one GPU.
#
#   bash scripts/gpu_check.sh                                  # writes to $OUT if set, else runs/gpu_check/
#   GPU_CHECK_STEPS="ddp fidelity" bash scripts/gpu_check.sh   # some steps only (e.g. rerun a failed one)
#
# Steps, cheapest first, each under `timeout` with its budget in seconds; the first failure stops the check:
#   1 tests        60  pytest -m cuda tests/test_cuda.py: every backbone, head and training loop on the GPU,
#                      bf16 and channels_last against float32, GPU checkpoints loaded on the CPU and back
#   2 throughput  200  classifier32 at 32 px, batch 64 and 128, ARPL / ARPL+CS / Softmax, fp32, bf16,
#                      channels_last, torch.compile: images/s, peak memory, ratio to the goals
#   3 ddp          70  torchrun on every GPU over NCCL (one GPU: 2 processes sharing it over gloo) against
#                      one process: same loss within 0.1
#   4 profiles   110  the quick runs of the cifar10 and tinyimagenet profiles side by side, through `dvc repro`
#                      on CUDA (scripts/quick_run.py, synthetic data in the real layouts): classifier32 at 32
#                      and 64 px, crop+flip on the device, the GAN at width 64, every stage and the report
#   5 fidelity   rest  fashion-mnist-anchor, split 0, ARPL and Softmax, as many of its 40 epochs as fit
#                      (at least 10): AUROC beside arpl/anchors_fashion_mnist.csv
# In all 480 s; step 5 gets what steps 1-4 leave of it (at least 140 s).
# Setting up .venv (bash scripts/setup.sh, only when .venv is missing) comes first and is not counted.
# Output folder: summary.txt (a line per step and its findings), steps.csv, <step>.log, throughput.csv,
# ddp.csv, quick_runs.csv (with each profile's repro.log under <profile>/), fidelity.csv, fidelity_epochs.csv.
# Without a CUDA device it lists these steps, runs nothing and exits with code 2.
set -euo pipefail
SCRIPT=$(realpath "$0")
OUT=$(realpath -m "${OUT:-$(dirname "$SCRIPT")/../runs/gpu_check}")
cd "$(dirname "$SCRIPT")/.."

TOTAL_BUDGET=480
BUDGET_TESTS=${BUDGET_TESTS:-60}
BUDGET_THROUGHPUT=${BUDGET_THROUGHPUT:-150}
BUDGET_DDP=${BUDGET_DDP:-60}
BUDGET_PROFILES=${BUDGET_PROFILES:-110}
BUDGET_FIDELITY=${BUDGET_FIDELITY:-}   # empty: what is left of TOTAL_BUDGET
PYTHON_MARGIN=15                       # of each budget, for starting Python; a step plans with the rest
STEPS=${GPU_CHECK_STEPS:-tests throughput ddp profiles fidelity}
QUICK_PROFILES=${GPU_CHECK_PROFILES:-cifar10 tinyimagenet}
DEVICE_ARGS=""
if [ "${GPU_CHECK_TINY:-0}" = 1 ]; then  # for tests/test_gpu_check.py only: the CPU, toy sizes
  DEVICE_ARGS="--device cpu --tiny"
fi

plan() {  # the steps, as described at the top of this file
  sed -n '/^# Steps,/,/^# In all/p' "$SCRIPT" | sed 's/^# \{0,1\}/  /'
}

# run_step NUMBER NAME BUDGET COMMAND...: run one step under `timeout`, log it and record it (stops on failure)
run_step() {
  local number=$1 name=$2 budget=$3 start status
  shift 3
  case " $STEPS " in *" $name "*) ;; *) return 0 ;; esac
  echo "==> step $number $name (budget $budget s): $*"
  rm -f "$OUT/$name.txt"
  start=$SECONDS
  set +e
  timeout --kill-after=10 "$budget" "$@" 2>&1 | tee "$OUT/$name.log"
  status=${PIPESTATUS[0]}
  set -e
  record "$number" "$name" "$status" $((SECONDS - start)) "$budget"
}

# record NUMBER NAME STATUS SECONDS BUDGET: a row of steps.csv, lines in summary.txt; on failure, stop here
record() {
  local number=$1 name=$2 status=$3 seconds=$4 budget=$5 verdict=ok
  if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
    verdict="FAILED, timed out after $budget s"
  elif [ "$status" -ne 0 ]; then
    verdict="FAILED, exit code $status"
  fi
  echo "$number,$name,${verdict%%,*},$seconds,$budget" >> "$OUT/steps.csv"
  echo "step $number $name: $verdict ($seconds s of $budget)" >> "$OUT/summary.txt"
  if [ ! -f "$OUT/$name.txt" ]; then  # pytest writes no summary of its own: its last line is one
    tail -n 1 "$OUT/$name.log" > "$OUT/$name.txt"
  fi
  sed 's/^/    /' "$OUT/$name.txt" >> "$OUT/summary.txt"
  if [ "$status" -ne 0 ]; then
    { echo "    last lines of $name.log:"; tail -n 12 "$OUT/$name.log" | sed 's/^/    | /'; } >> "$OUT/summary.txt"
    echo; cat "$OUT/summary.txt"
    echo "gpu_check: stopped at step $number ($name): $verdict. Everything is in $OUT/" >&2
    exit 1
  fi
}

if [ ! -x .venv/bin/python ]; then
  echo "==> no .venv yet: bash scripts/setup.sh (not counted in the budget)"
  bash scripts/setup.sh
fi
PY=.venv/bin/python
export PYTHONUNBUFFERED=1

if ! DEVICES=$("$PY" scripts/gpu_check.py devices $DEVICE_ARGS); then
  { echo "gpu_check: $DEVICES; nothing was run."
    echo "On a machine with CUDA GPUs this command runs, in at most 8 minutes, into \$OUT or runs/gpu_check/:"
    plan; } >&2
  exit 2
fi

mkdir -p "$OUT"
START=$SECONDS
echo "GPU check $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown): $DEVICES" \
  | tee "$OUT/summary.txt"
echo "step,name,status,seconds,budget_s" > "$OUT/steps.csv"

run_step 1 tests "$BUDGET_TESTS" "$PY" -m pytest tests/test_cuda.py -m cuda -p no:xdist -p no:cacheprovider -q -rs
run_step 2 throughput "$BUDGET_THROUGHPUT" "$PY" scripts/gpu_check.py throughput --out "$OUT" \
  --budget-s $((BUDGET_THROUGHPUT - PYTHON_MARGIN)) $DEVICE_ARGS
run_step 3 ddp "$BUDGET_DDP" "$PY" scripts/gpu_check.py ddp --out "$OUT" $DEVICE_ARGS
QUICK_DEVICE=cuda
[ "${GPU_CHECK_TINY:-0}" = 1 ] && QUICK_DEVICE=cpu
# shellcheck disable=SC2086
run_step 4 profiles "$BUDGET_PROFILES" "$PY" scripts/quick_run.py $QUICK_PROFILES --fake-data \
  --device "$QUICK_DEVICE" --out "$OUT"
fidelity_budget=${BUDGET_FIDELITY:-$((TOTAL_BUDGET - (SECONDS - START)))}
run_step 5 fidelity "$fidelity_budget" "$PY" scripts/gpu_check.py fidelity --out "$OUT" \
  --budget-s $((fidelity_budget - PYTHON_MARGIN)) $DEVICE_ARGS

echo "gpu_check: steps ($STEPS) passed in $((SECONDS - START)) s (budget $TOTAL_BUDGET s)" >> "$OUT/summary.txt"
echo
cat "$OUT/summary.txt"
