#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Build the HyperAlloc guest (make guest):
#
#   bzImage    Debian's linux-source-6.1 with the patch series of this
#              folder, libhyperalloc (lib/) copied into mm/hyperalloc/lib/
#              and the driver (guestmod/virtio_hyperalloc.[ch]) into
#              drivers/virtio/hyperalloc/; `make tinyconfig` plus
#              guest.config
#   initrd.gz  busybox-static, the workloads of guestmod/workloads/
#              (static), the traces of tools/traces/, init
#
# Everything lives outside the clone, under $HA_CACHE (default
# ~/.cache/hyperalloc)/kernel/:
#   src/       the unpacked source, a git tree at its pristine state; each
#              build resets it and applies the series, so only what the
#              series changes is rebuilt
#   build/     the one build tree (make O=), reused
#   bin/<key>/ finished kernels, keyed by a hash of the series, the
#              config, lib/, the driver and this script
#   initrd/<key>/ finished initramfs images, keyed by their inputs
# A repeat with nothing changed only computes the hashes.
#
# Usage: build-guest.sh           build what is missing; print
#                                 "kernel=PATH", "initrd=PATH" and
#                                 "config=PATH" on stdout
#        build-guest.sh --key     print both keys and exit
#        build-guest.sh --source  prepare the patched source tree and
#                                 print "source=PATH" (for checkpatch)
# Progress goes to stderr. JOBS (default: the number of CPUs) sets make -j.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${HA_CACHE:-${HOME:-/root}/.cache/hyperalloc}/kernel
TARBALL=${LINUX_SOURCE:-/usr/src/linux-source-6.1.tar.xz}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
SELF="$HERE/build-guest.sh"

say() { echo "build-guest: $*" >&2; }
die() { say "error: $*"; exit 1; }

# Sorted, so the hash does not depend on the directory order.
kernel_inputs() {
	for f in "$HERE"/*.patch "$HERE/guest.config" "$ROOT"/lib/*.c \
		"$ROOT"/lib/*.h "$ROOT/lib/platform/kernel.h" \
		"$ROOT/guestmod/virtio_hyperalloc.c" \
		"$ROOT/guestmod/virtio_hyperalloc.h" "$SELF"; do
		[ -f "$f" ] && echo "$f"
	done | LC_ALL=C sort
}

initrd_inputs() {
	for f in "$ROOT"/guestmod/workloads/*.c "$ROOT"/guestmod/workloads/*.h \
		"$ROOT"/tools/traces/*.trace "$HERE/init" "$SELF" /bin/busybox; do
		[ -f "$f" ] && echo "$f"
	done | LC_ALL=C sort
}

hash_of() {
	while read -r f; do
		printf '%s ' "${f#"$ROOT"/}"
		sha256sum <"$f"
	done | sha256sum | cut -c1-16
}

[ -f "$TARBALL" ] || die "missing package: linux-source-6.1 ($TARBALL)"
tarball_id=$(stat -c '%n %s %Y' "$TARBALL")
kkey=$( (kernel_inputs | hash_of; echo "$tarball_id") | sha256sum | cut -c1-16)
ikey=$(initrd_inputs | hash_of)

mode=build
case "${1:-}" in
--key) echo "kernel_key=$kkey"; echo "initrd_key=$ikey"; exit 0 ;;
--source) mode=source ;;
"") ;;
*) die "unknown option $1 (use --key or --source)" ;;
esac

kernel=$CACHE/bin/$kkey/bzImage
initrd=$CACHE/initrd/$ikey/initrd.gz

done_already() {
	[ "$mode" = build ] && [ -s "$kernel" ] && [ -s "$initrd" ]
}

print_paths() {
	echo "kernel=$kernel"
	echo "initrd=$initrd"
	echo "config=$CACHE/bin/$kkey/config"
}

if done_already; then
	print_paths
	exit 0
fi

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
say "waiting for other builds" && flock 9
if done_already; then # built meanwhile
	print_paths
	exit 0
fi

missing=
for t in make:make gcc:gcc flex:flex bison:bison bc:bc git:git \
	cpio:cpio gzip:gzip xz:xz-utils perl:perl; do
	command -v "${t%%:*}" >/dev/null 2>&1 || missing="$missing ${t#*:}"
done
[ -x /bin/busybox ] || missing="$missing busybox-static"
[ -f /usr/include/libelf.h ] || missing="$missing libelf-dev"
[ -f /usr/include/openssl/ssl.h ] || missing="$missing libssl-dev"
[ -z "$missing" ] || die "missing packages:$missing (tools/install-deps.sh)"

src=$CACHE/src
build=$CACHE/build
g() { git -C "$src" -c user.name=hyperalloc -c user.email=hyperalloc@localhost "$@"; }

# ---- 1. the source: unpacked once, a git tree at its pristine state ----
prepare_source() {
	if ! git -C "$src" rev-parse -q --verify pristine >/dev/null 2>&1; then
		say "unpacking $TARBALL (once)"
		rm -rf "$src" "$src.tmp"
		mkdir -p "$src.tmp"
		tar -xJf "$TARBALL" -C "$src.tmp" --strip-components=1
		git -C "$src.tmp" init -q
		# Debian's .gitignore ignores the whole top level: add all.
		git -C "$src.tmp" add -f .
		git -C "$src.tmp" -c user.name=hyperalloc \
			-c user.email=hyperalloc@localhost commit -q \
			-m "linux-source-6.1 as shipped"
		git -C "$src.tmp" tag pristine
		mv "$src.tmp" "$src"
	fi

	# The series, applied to pristine in a scratch index, gives the tree
	# to build. The working tree moves there from the last build's tree
	# by rewriting only the files that differ, so that make rebuilds only
	# what this series changes (a header every file includes stays
	# untouched when the series keeps it).
	idx=$src/.git/ha-series-index
	rm -f "$idx"
	GIT_INDEX_FILE=$idx g read-tree pristine
	n=0
	for p in "$HERE"/*.patch; do
		[ -f "$p" ] || continue
		GIT_INDEX_FILE=$idx g apply --cached --whitespace=nowarn "$p" ||
			die "$(basename "$p") does not apply"
		n=$((n + 1))
	done
	tree=$(GIT_INDEX_FILE=$idx g write-tree)
	rm -f "$idx"
	if [ "$tree" != "$(g rev-parse 'HEAD^{tree}')" ]; then
		commit=$(echo "$n patches" | g commit-tree "$tree" -p pristine)
		g reset -q --soft "$commit"
		say "applied $n patches"
	else
		say "$n patches applied already"
	fi
	# Rewrite exactly the files whose content differs from that tree.
	g read-tree HEAD
	g update-index -q --refresh >/dev/null || true
	g diff-files --name-only -z | xargs -0 -r git -C "$src" checkout-index -f --

	# lib/ and the driver, copied only when they differ, so an unchanged
	# file is not rebuilt.
	copy() {
		mkdir -p "$(dirname "$2")"
		cmp -s "$1" "$2" || cp "$1" "$2"
	}
	libdir=$src/mm/hyperalloc/lib
	for f in "$ROOT"/lib/*.c "$ROOT"/lib/*.h; do
		copy "$f" "$libdir/$(basename "$f")"
	done
	copy "$ROOT/lib/platform/kernel.h" "$libdir/platform/kernel.h"
	for f in "$libdir"/*.c "$libdir"/*.h; do # removed from lib/
		[ -f "$ROOT/lib/$(basename "$f")" ] || rm -f "$f"
	done
	for f in virtio_hyperalloc.c virtio_hyperalloc.h; do
		copy "$ROOT/guestmod/$f" "$src/drivers/virtio/hyperalloc/$f"
	done
}

if [ "$mode" = source ]; then
	prepare_source
	echo "source=$src"
	exit 0
fi

# ---- 2. the kernel ----
# tinyconfig + guest.config; every option of guest.config must take.
configure() {
	say "configuring: tinyconfig + guest.config"
	make -C "$src" O="$build" tinyconfig >"$build/config.log" 2>&1 ||
		{ cat "$build/config.log" >&2; die "make tinyconfig failed"; }
	"$src/scripts/kconfig/merge_config.sh" -m -O "$build" \
		"$build/.config" "$HERE/guest.config" >>"$build/config.log" 2>&1
	make -C "$src" O="$build" olddefconfig >>"$build/config.log" 2>&1 ||
		{ cat "$build/config.log" >&2; die "make olddefconfig failed"; }
	# Every option of guest.config must have taken.
	bad=$(grep -E '^(CONFIG_[A-Z0-9_]+=|# CONFIG_[A-Z0-9_]+ is not set)' \
		"$HERE/guest.config" | while read -r line; do
		case "$line" in
		"# "*)
			opt=${line#"# "}; opt=${opt%% *}
			grep -q "^$opt=" "$build/.config" && echo "$opt"
			;;
		*)
			grep -qx "$line" "$build/.config" || echo "${line%%=*}"
			;;
		esac
	done)
	[ -z "$bad" ] || die "guest.config options not taken: $bad"
}

if [ ! -s "$kernel" ]; then
	prepare_source
	mkdir -p "$build"
	# Configure again only when the config or the series (its Kconfig)
	# changed: a fresh .config costs a rebuild of what it touches.
	ckey=$( (cat "$HERE/guest.config" "$HERE"/*.patch; echo "$tarball_id") |
		sha256sum | cut -c1-16)
	if [ "$(cat "$build/.ha-config-key" 2>/dev/null)" != "$ckey" ]; then
		configure
		echo "$ckey" >"$build/.ha-config-key"
	fi

	say "building bzImage with $JOBS jobs in $build (minutes when much changed)"
	start=$(date +%s)
	if ! make -C "$src" O="$build" -j"$JOBS" bzImage 2>&1 |
		tee "$build/make.log" |
		awk '/^  (CC|AR|LD)/ { n++; if (n % 250 == 0) {
			printf "build-guest: %d objects\n", n > "/dev/stderr"
			fflush("/dev/stderr") } }
		/(error|warning):/ { print > "/dev/stderr" }'; then
		die "build failed: $build/make.log"
	fi
	grep -q 'bzImage is ready' "$build/make.log" ||
		die "build failed: $build/make.log"
	mkdir -p "$CACHE/bin/$kkey.tmp"
	cp "$build/arch/x86/boot/bzImage" "$CACHE/bin/$kkey.tmp/"
	cp "$build/.config" "$CACHE/bin/$kkey.tmp/config"
	rm -rf "${CACHE:?}/bin/$kkey"
	mv "$CACHE/bin/$kkey.tmp" "$CACHE/bin/$kkey"
	say "kernel built in $(($(date +%s) - start)) s"
fi

# ---- 3. the initramfs ----
if [ ! -s "$initrd" ]; then
	say "building the initramfs"
	root=$(mktemp -d)
	trap 'rm -rf "$root"' EXIT
	mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev" \
		"$root/tmp" "$root/traces"
	cp /bin/busybox "$root/bin/busybox"
	for src in "$ROOT"/guestmod/workloads/*.c; do
		w=$(basename "$src" .c)
		gcc -std=gnu11 -O2 -D_GNU_SOURCE -Wall -Wextra -Wconversion \
			-Wshadow -Werror -static -pthread \
			-o "$root/bin/$w" "$src" || die "$w does not build"
	done
	cp "$ROOT"/tools/traces/*.trace "$root/traces/"
	cp "$HERE/init" "$root/init"
	chmod 755 "$root/init"
	mkdir -p "$CACHE/initrd/$ikey"
	(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc 2>/dev/null |
		gzip -9) >"$initrd.tmp"
	mv "$initrd.tmp" "$initrd"
fi

print_paths
