#!/usr/bin/env bash
# Set up everything the project needs on a fresh machine: a virtual environment with the pinned
# PyTorch pair, the arpl package, and the default data (Fashion-MNIST) in data/raw.
# Idempotent: rerunning it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
TORCH_FREE_GB=8  # the CUDA build of torch takes 5.5 GB in .venv, plus pip's unpacked wheels while installing

pip_install() {  # quiet pip; a failure stops the set-up with pip's own message
  local log
  log=$(mktemp)
  if ! .venv/bin/python -m pip install --quiet "$@" >"$log" 2>&1; then
    grep -v "^WARNING: Location" "$log" >&2 || true
    rm -f "$log"
    echo "setup: 'pip install $*' failed (pip's message above); fix that, then rerun bash scripts/setup.sh" >&2
    exit 1
  fi
  grep -v "^WARNING: Location" "$log" || true
  rm -f "$log"
}

check_free_disk() {  # before several GB of torch, not halfway through them
  local free_gb
  free_gb=$(df -Pk . | awk 'NR == 2 { print int($4 / 1048576) }')
  if [ "$free_gb" -lt "$TORCH_FREE_GB" ]; then
    echo "setup: only ${free_gb} GB free on the disk holding $(pwd); installing torch needs about" \
         "${TORCH_FREE_GB} GB. Free some space (old clones, their .venv folders), then rerun." >&2
    exit 1
  fi
}

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PYTHON" -m venv .venv
fi
if ! .venv/bin/python -c "import arpl, torch, torchvision" 2>/dev/null \
   || [ pyproject.toml -nt .venv/.arpl-installed ]; then
  echo "==> installing torch 2.14.1 / torchvision 0.29.1, pydantic 2.14.4 and the arpl package (minutes the first time)"
  .venv/bin/python -c "import torch, torchvision" 2>/dev/null || check_free_disk
  pip_install --upgrade pip
  pip_install "torch==2.14.1" "torchvision==0.29.1" "pydantic==2.14.4"
  pip_install -e ".[dev]"
  .venv/bin/python -c "import arpl, torch, torchvision"
  touch .venv/.arpl-installed
fi

# Fashion-MNIST: Debian's package where apt is available (offline mirrors included); otherwise the data
# stage falls back to torchvision's download (set data.download: true in params.yaml).
# The tests also open the report in a real browser: Debian's chromium and chromium-driver.
DEBIAN_DIR=/usr/share/datasets/fashion-mnist
APT_PACKAGES=""
[ -f "$DEBIAN_DIR/train-images-idx3-ubyte.gz" ] || APT_PACKAGES="dataset-fashion-mnist"
command -v chromedriver >/dev/null 2>&1 || APT_PACKAGES="$APT_PACKAGES chromium chromium-driver"
if [ -n "$APT_PACKAGES" ] && command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo"
  if [ "$(id -u)" -eq 0 ] || [ -n "$SUDO" ]; then
    echo "==> installing Debian's$APT_PACKAGES"
    $SUDO apt-get update -qq >/dev/null && $SUDO apt-get install -y -qq $APT_PACKAGES >/dev/null \
      || echo "   (apt could not install$APT_PACKAGES; the data stage will try torchvision, the browser test skips)"
  fi
fi

echo "==> materialising data/raw (checked against known checksums)"
.venv/bin/python -m arpl prepare-data
echo "==> setup done"
