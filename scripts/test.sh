#!/usr/bin/env bash
# The test suite (unit tests plus a smoke-sized run of the real pipeline). Needs scripts/setup.sh first.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  echo "No .venv yet: run 'bash scripts/setup.sh' (or scripts/reproduce.sh) first." >&2
  exit 2
fi
exec .venv/bin/python -m pytest -n 2 --dist worksteal -q "$@"
