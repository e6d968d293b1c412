#!/usr/bin/env bash
# Makes Segment's Python SDK (segment-analytics-python, pinned) importable from
# .build-tools/segment-sdk and prints that directory. SegmentSDKTests runs the unmodified SDK
# against `serve`; it looks for the SDK there. Installs only when the import fails, so a second
# run costs one Python start-up.
set -euo pipefail

version="2.4.0"
root="$(cd "$(dirname "$0")/.." && pwd)"
target="$root/.build-tools/segment-sdk"

if ! command -v python3 >/dev/null 2>&1; then
  echo "segment-sdk.sh: python3 is not on PATH; install Python 3 (e.g. apt-get install python3 python3-pip) and run scripts/segment-sdk.sh again" >&2
  exit 1
fi

# The version check keeps an older install in the folder from passing for the pinned one.
importable() {
  PYTHONPATH="$target" python3 - "$version" >/dev/null 2>&1 <<'PY'
import sys
import segment.analytics
from segment.analytics.version import VERSION
sys.exit(0 if VERSION == sys.argv[1] else 1)
PY
}

if ! importable; then
  mkdir -p "$target"
  log="$(mktemp)"
  trap 'rm -f "$log"' EXIT
  # --upgrade replaces a different version already in the folder instead of refusing.
  if ! python3 -m pip install --quiet --disable-pip-version-check --upgrade --target "$target" \
      "segment-analytics-python==$version" >"$log" 2>&1; then
    cat "$log" >&2
    echo "segment-sdk.sh: 'python3 -m pip install --target $target segment-analytics-python==$version' failed (output above);" \
      "check that pip works and that PyPI (or your pip mirror) is reachable, then run scripts/segment-sdk.sh again" >&2
    exit 1
  fi
  if ! importable; then
    echo "segment-sdk.sh: pip installed segment-analytics-python==$version into $target, but" \
      "'import segment.analytics' still fails there (or reports another version); delete $target and run scripts/segment-sdk.sh again" >&2
    exit 1
  fi
fi

echo "$target"
