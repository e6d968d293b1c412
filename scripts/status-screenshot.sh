#!/usr/bin/env bash
# Renders the operator's status page (GET /status) for a fixed, realistic snapshot and takes
# a screenshot of it with headless Chromium, to look at the page without running the server.
#
#   scripts/status-screenshot.sh                  # delivery running
#   VARIANT=paused scripts/status-screenshot.sh   # delivery paused, with its banner
#   VARIANT=sandbox / VARIANT=empty               # sandbox mode; a fresh install
#
# Environment:
#   OUT_DIR      where the HTML and PNG go (default /tmp/status-page)
#   WINDOW_SIZE  browser window, WIDTHxHEIGHT (default 1280x1600)
#   VARIANT      running (default), paused, sandbox or empty
#   CHROMIUM     the browser binary (default: chromium, then chromium-browser)
#
# The HTML comes from the gated test StatusPageTests/writesARealisticPageForTheScreenshot,
# so the page shot is exactly what StatusPage.render produces. Prints the PNG's path.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT_DIR="${OUT_DIR:-/tmp/status-page}"
WINDOW_SIZE="${WINDOW_SIZE:-1280x1600}"
VARIANT="${VARIANT:-running}"
case "$VARIANT" in
    running | paused | sandbox | empty) ;;
    *) echo "status-screenshot: unknown VARIANT '$VARIANT'; use running, paused, sandbox or empty" >&2; exit 1 ;;
esac
html="$OUT_DIR/status-$VARIANT.html"
png="$OUT_DIR/status-$VARIANT.png"

browser="${CHROMIUM:-}"
if [ -z "$browser" ]; then
    browser=$(command -v chromium || command -v chromium-browser || true)
fi
if [ -z "$browser" ]; then
    echo "status-screenshot: no Chromium found; install it with 'apt-get install -y chromium' or set CHROMIUM=/path/to/chromium" >&2
    exit 1
fi

mkdir -p "$OUT_DIR"
rm -f "$html" "$png"
STATUS_HTML_OUT="$html" STATUS_HTML_VARIANT="$VARIANT" \
    nice swift test --filter 'StatusPageTests/writesARealisticPageForTheScreenshot' >"$OUT_DIR/test.log" 2>&1 || {
    echo "status-screenshot: rendering the page failed; see $OUT_DIR/test.log" >&2
    exit 1
}
if [ ! -s "$html" ]; then
    echo "status-screenshot: the test ran but wrote no page to $html; see $OUT_DIR/test.log" >&2
    exit 1
fi

# A throw-away profile, so nothing touches the user's own Chromium settings.
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
timeout 120 "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --user-data-dir="$profile" --no-first-run --disable-extensions \
    --window-size="${WINDOW_SIZE/x/,}" --screenshot="$png" "file://$(realpath "$html")" \
    >"$OUT_DIR/chromium.log" 2>&1 || {
    echo "status-screenshot: Chromium failed; see $OUT_DIR/chromium.log" >&2
    exit 1
}
if [ ! -s "$png" ]; then
    echo "status-screenshot: Chromium wrote no screenshot to $png; see $OUT_DIR/chromium.log" >&2
    exit 1
fi
echo "$png"
