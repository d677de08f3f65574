#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Check that every prefix of the series builds: for k = 1 .. N, the work
# tree of build.sh with the first k patches applied must build
# qemu-system-x86_64. Incremental, so each step rebuilds what patch k
# touches. Leaves the work tree with the whole series applied.
# Run build.sh once before (it sets up the source and the build tree).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
CACHE=${HA_CACHE:-${HOME:-/root}/.cache/hyperalloc}/qemu
work=$CACHE/work
[ -f "$work/build/build.ninja" ] || { echo "check-each: run qemu-patches/build.sh first" >&2; exit 1; }
exec 9>"$CACHE/.lock"
flock 9
cd "$work"
set -- "$HERE"/*.patch
n=$#
k=0
for last in "$@"; do
	k=$((k + 1))
	git checkout -q -f debian
	git clean -q -f -d -x -e /build/ -e /.ha-version -e /hw/virtio/hyperalloc-lib/
	sed -i 's/^if unpack_edk2_blobs/if false/' pc-bios/meson.build
	for p in "$@"; do
		git apply --whitespace=nowarn "$p"
		[ "$p" = "$last" ] && break
	done
	for f in "$ROOT"/lib/*.c "$ROOT"/lib/*.h "$ROOT"/lib/platform/*.h; do
		dst=hw/virtio/hyperalloc-lib/${f#"$ROOT"/lib/}
		mkdir -p "$(dirname "$dst")"
		cmp -s "$f" "$dst" 2>/dev/null || cp "$f" "$dst"
	done
	if (cd build && ninja -j2 qemu-system-x86_64 >ninja-each.log 2>&1); then
		echo "check-each: $k/$n $(basename "$last"): builds"
	else
		grep -E 'error|FAILED' build/ninja-each.log | head -n 20
		echo "check-each: $k/$n $(basename "$last"): DOES NOT BUILD"
		exit 1
	fi
done
