#!/usr/bin/env bash
# The README's picture of the report: a screenshot of the front page of the last run's report, taken in headless
# Chromium (scripts/setup.sh installs Debian's chromium), so that it can be made again when the report changes.
#
#   bash scripts/screenshot_report.sh                                   # reports/index.html -> docs/report_front_page.png
#   bash scripts/screenshot_report.sh reports/04_osr.html /tmp/osr.png  # any page, anywhere
set -euo pipefail
cd "$(dirname "$0")/.."
PAGE=${1:-reports/index.html}
PNG=${2:-docs/report_front_page.png}
WIDTH=${WIDTH:-1200}
HEIGHT=${HEIGHT:-1400}
if [ ! -f "$PAGE" ]; then
  echo "screenshot_report: $PAGE does not exist; run dvc repro (or bash scripts/reproduce.sh) first" >&2
  exit 1
fi
BROWSER=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$BROWSER" ]; then
  echo "screenshot_report: no Chromium found; install Debian's chromium (bash scripts/setup.sh does)" >&2
  exit 1
fi
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
"$BROWSER" --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run --disable-quic \
  --disable-background-networking --disable-component-update --disable-sync --user-data-dir="$profile" \
  --window-size="$WIDTH,$HEIGHT" --screenshot="$(realpath -m "$PNG")" "file://$(realpath "$PAGE")" 2>/dev/null
echo "screenshot_report: $PAGE -> $PNG (${WIDTH}x${HEIGHT})"
