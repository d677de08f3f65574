#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Usage: tools/format-check.sh [FILE...]
#
# Fail if a C file differs from what clang-format makes of it with the
# tree's .clang-format, and name each such file. Without arguments: every
# C file git tracks, except guestmod/ (kernel style, checkpatch.pl) and
# qemu-patches/ (QEMU style). The style needs Debian bookworm's
# clang-format 14 (another version formats some constructs differently);
# CLANG_FORMAT names another binary. `make format` fixes what this finds.
set -u

TOP=$(cd "$(dirname "$0")/.." && pwd)
CLANG_FORMAT=${CLANG_FORMAT:-clang-format}

if ! command -v "$CLANG_FORMAT" >/dev/null 2>&1; then
	echo "format-check: $CLANG_FORMAT not found (tools/install-deps.sh)"
	exit 1
fi
version=$("$CLANG_FORMAT" --version | sed -n 's/.*version \([0-9]*\)\..*/\1/p')
if [ "$version" != 14 ]; then
	echo "format-check: needs clang-format 14 (Debian bookworm's), found" \
		"$("$CLANG_FORMAT" --version)"
	exit 1
fi

if [ $# -eq 0 ]; then
	cd "$TOP" || exit 1
	set -- $(git ls-files '*.c' '*.h' | grep -v '^guestmod/\|^qemu-patches/')
fi
bad=0
n=0
for f in "$@"; do
	n=$((n + 1))
	if ! "$CLANG_FORMAT" --style="file:$TOP/.clang-format" "$f" |
		cmp -s - "$f"; then
		echo "not formatted: $f"
		bad=$((bad + 1))
	fi
done
if [ $bad -ne 0 ]; then
	echo "format-check: $bad of $n files differ from clang-format's" \
		"output (make format)"
	exit 1
fi
echo "format-check: $n files formatted"
