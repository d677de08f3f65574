#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Run the test suites: every unit suite (build/.../tests/unit/test_*), then
# every integration test (tests/integration/test_*.sh, test_*.py with
# Debian's /usr/bin/python3). With T=<text> only
# the suites whose name contains <text> run. Exits non-zero if any failed.
set -u

BUILD=${BUILD:-build}
T=${T:-}
SAN=${SAN:-}
# Tests that run once whatever the build (test_fuzz_smoke.sh) read it.
export SAN
failed=""
ran=0

# Sanitizer runtimes: fail hard on the first report.
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:suppressions=$(pwd)/tests/tsan.supp}"
# Check: keep fork mode (one process per test) and print every failure.
export CK_FORK=yes
export CK_VERBOSITY=${CK_VERBOSITY:-normal}
# Sanitized code is several times slower: give Check's timeouts room.
if [ -n "$SAN" ]; then
	export CK_TIMEOUT_MULTIPLIER=${CK_TIMEOUT_MULTIPLIER:-10}
fi

run() {
	name=$1
	shift
	case "$name" in *"$T"*) ;; *) return 0 ;; esac
	ran=$((ran + 1))
	echo "=== $name"
	start=$(date +%s)
	if "$@"; then
		echo "--- $name: ok ($(($(date +%s) - start)) s)"
	else
		echo "--- $name: FAILED ($(($(date +%s) - start)) s)"
		failed="$failed $name"
	fi
}

# One suite per tests/unit/test_*.c (a binary left over from a removed
# source does not run).
for src in tests/unit/test_*.c; do
	name=$(basename "$src" .c)
	t="$BUILD/tests/unit/$name"
	if [ ! -x "$t" ]; then
		case "$name" in *"$T"*) ;; *) continue ;; esac
		echo "=== $name: not built ($t missing)"
		failed="$failed $name"
		continue
	fi
	run "$name" "$t"
done

# A test whose file has the line "# run-tests: not under sanitizers"
# checks nothing a sanitizer build changes (a document, a browser page, a
# Prometheus server reading /metrics): it runs in the plain build only.
for t in tests/integration/test_*.sh tests/integration/test_*.py; do
	[ -f "$t" ] || continue
	if [ -n "$SAN" ] && grep -qx '# run-tests: not under sanitizers' "$t"; then
		name=$(basename "$t")
		case "${name%.*}" in *"$T"*) echo "=== ${name%.*}: not under SAN=$SAN" ;; esac
		continue
	fi
	case "$t" in
	*.sh) run "$(basename "$t" .sh)" env BUILD="$BUILD" sh "$t" ;;
	*.py) run "$(basename "$t" .py)" env BUILD="$BUILD" /usr/bin/python3 "$t" ;;
	esac
done

# End-to-end suites (tests/e2e/test_*.py: the patched QEMU, TCG guests)
# run once, in the build without sanitizers: they test QEMU and guest
# kernels, which the sanitizer builds of the project do not change.
if [ -z "$SAN" ]; then
	for t in tests/e2e/test_*.py; do
		[ -f "$t" ] || continue
		run "$(basename "$t" .py)" env BUILD="$BUILD" /usr/bin/python3 "$t"
	done
fi

if [ "$ran" -eq 0 ]; then
	echo "no test suite matches T='$T'"
	exit 1
fi
if [ -n "$failed" ]; then
	echo "FAILED:$failed"
	exit 1
fi
echo "all $ran suites passed"
