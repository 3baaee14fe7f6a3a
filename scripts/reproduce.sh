#!/usr/bin/env bash
# The main job: set up, then run the whole pipeline (dvc repro) and point to the report.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"   # the stages run `python -m arpl ...` from the environment
start=$(date +%s)
dvc repro "$@"
echo "==> dvc repro finished in $(( $(date +%s) - start )) s"
dvc metrics show
echo "==> open reports/index.html in a browser"
