#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Run QEMU's own scripts/checkpatch.pl (from the source tree that
# qemu-patches/build.sh unpacked) over the patches given, or over the
# whole series. Fails if any patch has an error or a warning.
set -eu
cd "$(dirname "$0")/../.."
CACHE=${HA_CACHE:-${HOME:-/root}/.cache/hyperalloc}/qemu
cp=$CACHE/work/scripts/checkpatch.pl
if [ ! -f "$cp" ]; then
	qemu-patches/build.sh >/dev/null
fi
[ -f "$cp" ] || { echo "qemu-checkpatch: $cp missing"; exit 1; }
[ $# -gt 0 ] || set -- qemu-patches/*.patch
bad=0
top=$(pwd)
for p in "$@"; do
	case "$p" in /*) abs=$p ;; *) abs=$top/$p ;; esac
	out=$(cd "$CACHE/work" && perl scripts/checkpatch.pl "$abs" 2>&1) || true
	sum=$(echo "$out" | grep '^total:' || echo "total: (no result)")
	case "$sum" in
	"total: 0 errors, 0 warnings,"*) echo "qemu-checkpatch: $(basename "$p"): clean" ;;
	*)
		echo "$out"
		echo "qemu-checkpatch: $(basename "$p"): $sum"
		bad=1
		;;
	esac
done
exit $bad
