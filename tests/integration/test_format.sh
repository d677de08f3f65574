#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The tree is formatted with its .clang-format (tools/format-check.sh,
# also `make format-check`). The check must first catch a file formatted
# otherwise, so that this test cannot pass by checking nothing.
set -u

TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP" || exit 1
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ha-format.XXXXXX")
trap 'rm -rf "$TMP"' EXIT INT TERM

# The same code as daemon/errors.c, with its braces and indentation
# changed: caught, and named.
sed 's/^\t/    /; s/^\(int error_status_http(enum error_status s)\)$/\1 {/' \
	daemon/errors.c >"$TMP/errors.c"
if tools/format-check.sh "$TMP/errors.c" >"$TMP/out" 2>&1; then
	echo "FAIL: the format check misses a misformatted file"
	exit 1
fi
if ! grep -F "not formatted: $TMP/errors.c" "$TMP/out" >/dev/null; then
	echo "FAIL: the format check does not name the file:"
	cat "$TMP/out"
	exit 1
fi
# The file as it is passes.
if ! tools/format-check.sh daemon/errors.c >"$TMP/out" 2>&1; then
	echo "FAIL: the format check flags daemon/errors.c as it is:"
	cat "$TMP/out"
	exit 1
fi

tools/format-check.sh
