#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Includes point one way (STYLE.md 1): tools/include-cycles.py builds the
# include graph of daemon/, lib/, policies/, proto/ and tools/ and fails
# on a cycle between modules (a .c with its .h is one module), naming
# each include line of the cycle. First the check must catch cycles
# planted in a copy of the tree, so this test cannot pass by checking
# nothing; then the tree itself must have none.
set -u

TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP" || exit 1
CHECK="/usr/bin/python3 -B $TOP/tools/include-cycles.py"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ha-includes.XXXXXX")
trap 'rm -rf "$TMP"' EXIT INT TERM
fail=0

# A copy of the scanned folders (sources only).
copy() {
	rm -rf "$TMP/tree"
	mkdir -p "$TMP/tree"
	git ls-files -co --exclude-standard daemon lib policies proto tools |
		grep '\.[ch]$' | while read -r f; do
			mkdir -p "$TMP/tree/$(dirname "$f")"
			cp "$f" "$TMP/tree/$f"
		done
}

# plant FILE INCLUDE WANT: add #include INCLUDE after FILE's first line;
# the check must fail and print a cycle through the modules of WANT
# (a pattern over the "include cycle:" line).
plant() {
	copy
	sed -i "1a #include $2" "$TMP/tree/$1"
	if $CHECK "$TMP/tree" >"$TMP/out" 2>&1; then
		echo "FAIL: the check misses the cycle of #include $2 in $1"
		fail=1
	elif ! grep -E "include cycle: .*$3" "$TMP/out" >/dev/null ||
		! grep -F "$1:2: #include $2" "$TMP/out" >/dev/null; then
		echo "FAIL: the check does not name the cycle of #include $2" \
			"in $1:"
		cat "$TMP/out"
		fail=1
	fi
}

# The leaf errors module including its user ctl: errors -> ctl -> errors.
plant daemon/errors.h '"ctl.h"' 'daemon/ctl -> daemon/errors -> daemon/ctl'
# A longer one through the subsystems: vm -> http/json -> ... -> vm.
plant daemon/vm.h '"http/json.h"' 'daemon/http/json -> .*daemon/vm'
# In lib/: the shared types including the host operations.
plant lib/ha_types.h '"ha_host.h"' 'lib/ha_host -> lib/ha_layout -> lib/ha_types -> lib/ha_host'
# A module including its own header is no cycle; an untouched copy passes.
copy
sed -i '1a #include "ctl.h"' "$TMP/tree/daemon/ctl.c"
if ! $CHECK "$TMP/tree" >"$TMP/out" 2>&1; then
	echo "FAIL: the check flags an untouched tree:"
	cat "$TMP/out"
	fail=1
fi

# ---- the tree ----
if ! $CHECK "$TOP"; then
	fail=1
fi
[ $fail -eq 0 ] || exit 1
echo "ok: planted cycles caught and named; the tree has none"
