#!/usr/bin/env bash
# Fuzzes the HTTP request parser with libFuzzer + AddressSanitizer.
#
#   FUZZ_SECONDS=600 scripts/fuzz.sh      (default 60)
#
# Builds only the HTTPParserFuzz product, in its own scratch path (.build-fuzz) so the
# sanitizer flags never touch the normal build. Seeds come from scripts/fuzz-corpus/ (kept
# small, in git); new inputs and crash artifacts go to scripts/fuzz-artifacts/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS="${FUZZ_SECONDS:-60}"
SCRATCH=".build-fuzz"
ARTIFACTS="scripts/fuzz-artifacts"
mkdir -p "$ARTIFACTS/corpus"

echo "building HTTPParserFuzz with -sanitize=fuzzer,address (release) in $SCRATCH ..."
swift build -c release --product HTTPParserFuzz --scratch-path "$SCRATCH" \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -DFUZZING

BINARY="$(swift build -c release --product HTTPParserFuzz --scratch-path "$SCRATCH" --show-bin-path)/HTTPParserFuzz"

echo "fuzzing for ${FUZZ_SECONDS}s; new inputs in $ARTIFACTS/corpus, crashes in $ARTIFACTS/"
# The first corpus directory receives new inputs; the seed directory is only read.
"$BINARY" "$ARTIFACTS/corpus" scripts/fuzz-corpus \
    -max_total_time="$FUZZ_SECONDS" \
    -max_len=4096 \
    -timeout=10 \
    -rss_limit_mb=2048 \
    -print_final_stats=1 \
    -artifact_prefix="$ARTIFACTS/"
