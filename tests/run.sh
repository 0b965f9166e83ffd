#!/usr/bin/env bash
# Run every test: install what is needed, build, run the unit, fuzz-replay,
# integration and security suites, then a time-boxed libFuzzer run.
# CI runs exactly this (.ci/run). Needs root: the tests chroot and setuid.
set -euo pipefail
cd "$(dirname "$0")/.."

./packaging/deps.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build
meson test -C build --print-errorlogs --num-processes 2
FUZZ_SECONDS=${FUZZ_SECONDS:-30} tests/fuzz/run.sh build-fuzz
echo "tests/run.sh: all suites passed"
