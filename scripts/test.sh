#!/usr/bin/env bash
# The test suite (unit tests plus a smoke-sized run of the real pipeline). Needs scripts/setup.sh first.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  echo "No .venv yet: run 'bash scripts/setup.sh' (or scripts/reproduce.sh) first." >&2
  exit 2
fi
# loadgroup: the tests that share one expensive run (the smoke pipeline, the DDP runs, JupyterLab) stay on one
# worker, so that run is made once; tests/conftest.py puts the long tests first, so both workers end together.
# --durations: the 15 longest tests, where the suite's time goes.
start=$SECONDS
status=0
.venv/bin/python -m pytest -n 2 --dist loadgroup -q --durations=15 "$@" || status=$?
echo "scripts/test.sh: $((SECONDS - start)) s of pytest on $(nproc) cores (exit $status)"
exit "$status"
