#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A short run of every libFuzzer harness (tests/fuzz/, mk/fuzz.mk): build
# them, run each for FUZZ_SMOKE_RUNS executions (a count, not a time;
# default 20000) on its seed corpus, and fail on any crash, sanitizer
# report or finding. The harnesses carry their own ASan and UBSan, so
# this runs once, in the plain pass of tests/run-tests.sh: under SAN it
# skips itself. Crashes are kept in build/fuzz/smoke-artifacts/.
# run-tests: not under sanitizers
set -u

if [ -n "${SAN:-}" ]; then
	exit 0
fi
TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP" || exit 1
RUNS=${FUZZ_SMOKE_RUNS:-20000}

if ! make --no-print-directory -s fuzz-build >/dev/null; then
	echo "FAIL: the fuzz harnesses do not build (make fuzz-build)"
	exit 1
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ha-fuzz.XXXXXX")
trap 'rm -rf "$WORK"' EXIT INT TERM
rm -rf build/fuzz/smoke-artifacts

targets=""
for h in tests/fuzz/fuzz_*.c; do
	t=$(basename "$h" .c)
	targets="$targets ${t#fuzz_}"
done
# shellcheck disable=SC2086
FUZZ_DIR=build/fuzz FUZZ_WORK="$WORK" FUZZ_ART=build/fuzz/smoke-artifacts \
	tools/fuzz-run.sh "$RUNS" $targets
