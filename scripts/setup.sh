#!/usr/bin/env bash
# Set up everything the project needs on a fresh machine: a virtual environment with the pinned
# PyTorch pair, the arpl package, and the default data (Fashion-MNIST) in data/raw.
# Idempotent: rerunning it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PYTHON" -m venv .venv
fi
if ! .venv/bin/python -c "import arpl, torch, torchvision" 2>/dev/null \
   || [ pyproject.toml -nt .venv/.arpl-installed ]; then
  echo "==> installing torch 2.14.1 / torchvision 0.29.1 and the arpl package (a few minutes the first time)"
  .venv/bin/python -m pip install --quiet --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -m pip install --quiet "torch==2.14.1" "torchvision==0.29.1" 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -m pip install --quiet -e ".[dev]" 2>&1 | grep -v "^WARNING: Location" || true
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
