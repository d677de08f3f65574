#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Run libFuzzer harnesses built by mk/fuzz.mk: tools/fuzz-run.sh RUNS
# TARGET... runs $FUZZ_DIR/fuzz_TARGET for RUNS executions (one process,
# at nice 10) on a working copy of tests/fuzz/corpus/TARGET/ under
# $FUZZ_DIR/corpus/ (the seeds are only read), with crashes written to
# $FUZZ_DIR/artifacts/TARGET/ ($FUZZ_WORK and $FUZZ_ART put the working
# corpora and the artifacts elsewhere). Prints the executions, their rate and the
# findings of each target; exits non-zero if any target found something.
set -u

FUZZ_DIR=${FUZZ_DIR:-build/fuzz}
FUZZ_WORK=${FUZZ_WORK:-$FUZZ_DIR/corpus}
FUZZ_ART=${FUZZ_ART:-$FUZZ_DIR/artifacts}
runs=$1
shift
bad=""

for t in "$@"; do
	bin="$FUZZ_DIR/fuzz_$t"
	seeds="tests/fuzz/corpus/$t"
	work="$FUZZ_WORK/$t"
	art="$FUZZ_ART/$t"
	log="$FUZZ_ART/$t.log"
	maxlen=8192
	[ "$t" = host_attach ] && maxlen=20000
	mkdir -p "$work" "$art"
	start=$(date +%s)
	nice -n 10 "$bin" -runs="$runs" -max_len="$maxlen" -timeout=20 \
		-rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$art/" "$work" "$seeds" >"$log" 2>&1
	rc=$?
	secs=$(($(date +%s) - start))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	found=$(find "$art" -type f | wc -l)
	echo "fuzz $t: ${execs:-?} executions in $secs s (${rate:-?} exec/s)," \
		"$found findings, exit $rc (log $log)"
	if [ "$rc" -ne 0 ] || [ "$found" -ne 0 ]; then
		grep -m 5 -E 'ERROR|runtime error|deadly signal' "$log"
		find "$art" -type f | sed 's/^/  /'
		bad="$bad $t"
	fi
done
if [ -n "$bad" ]; then
	echo "fuzz: findings in:$bad"
	exit 1
fi
