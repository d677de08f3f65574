#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Build the guest modules out of tree against the headers of Debian's
# cloud kernel (the linux-image-* package that linux-image-cloud-amd64
# depends on, the kernel tests/e2e/build-guest.sh boots):
#
#   libhyperalloc.ko      lib/'s guest allocator (lib/*.c, kernel shim)
#   virtio_hyperalloc.ko  the driver (guestmod/virtio_hyperalloc.c)
#
# The sources are copied into a build directory outside the clone,
# $HA_MODULE_CACHE (default ~/.cache/hyperalloc/guestmod) /<kernel>-<hash>,
# the hash covering every input (sources, Kbuild, this script, the kernel
# release), so an unchanged tree is not rebuilt. A warning fails the
# build. HA_KBUILD_W=1 adds the kernel's extra warnings (make W=1).
#
# Installs nothing (it may refresh apt's lists, as build-guest.sh does):
# it names a missing package and stops. Progress goes to
# stderr; stdout gets "lib_module=PATH" and, last, "module=PATH".
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
CACHE=${HA_MODULE_CACHE:-${HOME:-/root}/.cache/hyperalloc/guestmod}
W=${HA_KBUILD_W:-}

say() { echo "build-module: $*" >&2; }
die() { say "$*"; exit 1; }

missing=
for t in make:make gcc:gcc apt-cache:apt sha256sum:coreutils; do
	command -v "${t%%:*}" >/dev/null 2>&1 || missing="$missing ${t#*:}"
done
[ -z "$missing" ] || die "missing packages:$missing"

resolve() {
	apt-cache depends linux-image-cloud-amd64 2>/dev/null |
		awk '/Depends: linux-image-/ { print $2; exit }'
}
pkg=$(resolve)
if [ -z "$pkg" ]; then
	say "apt knows no linux-image-cloud-amd64; running apt-get update"
	apt-get update -q >&2
	pkg=$(resolve)
fi
[ -n "$pkg" ] || die "cannot resolve linux-image-cloud-amd64"
release=${pkg#linux-image-}
kdir=/usr/src/linux-headers-$release
[ -f "$kdir/Makefile" ] ||
	die "missing package: linux-headers-$release (apt-get install linux-headers-cloud-amd64)"

LIB_SRC="ha_guest.c ha_lower.c ha_layout.c ha_validate.c"
LIB_HDR="ha_guest.h ha_lower.h ha_layout.h ha_types.h ha_platform.h
ha_atomic.h ha_validate.h ha_virtio.h"
MOD_SRC="Kbuild virtio_hyperalloc.c virtio_hyperalloc.h ha_exports.c"

inputs=
for f in $MOD_SRC; do inputs="$inputs $here/$f"; done
for f in $LIB_SRC $LIB_HDR; do inputs="$inputs $top/lib/$f"; done
inputs="$inputs $top/lib/platform/kernel.h $0"
# shellcheck disable=SC2086 # $inputs is a list of paths
hash=$( (echo "$release W=$W"; cat $inputs) | sha256sum | cut -c1-16)
dir=$CACHE/$release-$hash

# One build at a time per cache (parallel test runs share it).
mkdir -p "$CACHE"
if command -v flock >/dev/null 2>&1; then
	exec 9>"$CACHE/.lock"
	flock 9
fi

if [ -s "$dir/virtio_hyperalloc.ko" ] && [ -s "$dir/libhyperalloc.ko" ]; then
	say "up to date: $dir"
else
	say "building against $kdir in $dir"
	rm -rf "$dir.tmp"
	mkdir -p "$dir.tmp/platform"
	for f in $MOD_SRC; do cp "$here/$f" "$dir.tmp/"; done
	for f in $LIB_SRC $LIB_HDR; do cp "$top/lib/$f" "$dir.tmp/"; done
	cp "$top/lib/platform/kernel.h" "$dir.tmp/platform/"
	# Kbuild writes the absolute M= path into its files: build in place.
	rm -rf "$dir"
	mv "$dir.tmp" "$dir"
	if ! make -C "$kdir" M="$dir" ${W:+W=$W} modules >"$dir/build.log" 2>&1; then
		cat "$dir/build.log" >&2
		rm -f "$dir"/*.ko
		die "build failed"
	fi
	if grep -q 'warning:' "$dir/build.log"; then
		grep -B2 -A4 'warning:' "$dir/build.log" >&2
		rm -f "$dir"/*.ko
		die "build has warnings"
	fi
	say "built $(cd "$dir" && ls ./*.ko | tr '\n' ' ')"
fi

echo "lib_module=$dir/libhyperalloc.ko"
echo "module=$dir/virtio_hyperalloc.ko"
