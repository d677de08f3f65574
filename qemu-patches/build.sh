#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Build QEMU with the virtio-hyperalloc series: Debian bookworm's QEMU 7.2
# source package as Debian builds it (its stable patches applied by
# dpkg-source -x), the patches of this folder, and lib/ copied into
# hw/virtio/hyperalloc-lib/. Only qemu-system-x86_64 is built.
#
# Everything lives outside the clone, under $HA_CACHE (default
# ~/.cache/hyperalloc):
#   qemu/src/<version>/        the source package and the unpacked tree
#   qemu/work/                 one build tree, reused: a new series only
#                              rebuilds what it changes
#   qemu/bin/<key>/            finished binaries, keyed by a hash of the
#                              series, lib/ and this script
# A repeat with nothing changed only computes the hash.
#
# Usage: build.sh            build if needed; print "qemu=PATH" last
#        build.sh --path     the same (for scripts)
#        build.sh --key      print the input hash and exit
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
CACHE=${HA_CACHE:-${HOME:-/root}/.cache/hyperalloc}/qemu
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}

say() { echo "build-qemu: $*" >&2; }
die() { say "error: $*"; exit 1; }

inputs() {
	# Sorted, so the hash does not depend on the directory order.
	for f in "$HERE"/*.patch "$ROOT"/lib/*.c "$ROOT"/lib/*.h \
		"$ROOT"/lib/platform/*.h "$HERE/build.sh"; do
		[ -f "$f" ] && echo "$f"
	done | LC_ALL=C sort
}

key=$(inputs | while read -r f; do
	printf '%s ' "${f#"$ROOT"/}"
	sha256sum <"$f"
done | sha256sum | cut -c1-16)

case "${1:-}" in
--key) echo "$key"; exit 0 ;;
--path | "") ;;
*) die "unknown option $1 (use --path or --key)" ;;
esac

bin=$CACHE/bin/$key/qemu-system-x86_64
if [ -x "$bin" ]; then
	echo "qemu=$bin"
	exit 0
fi

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
say "waiting for other builds" && flock 9
if [ -x "$bin" ]; then # built meanwhile
	echo "qemu=$bin"
	exit 0
fi

for t in git meson ninja dpkg-source apt-get xz pkg-config; do
	command -v "$t" >/dev/null 2>&1 ||
		die "$t missing: run tools/install-deps.sh (make deps)"
done

# ---- 1. Debian's source package, through a private apt list ----
# The machine's own apt configuration is left alone; the mirror is read
# from its sources at build time.
src_list() {
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] && awk '/^URIs:/ { print $2; exit }' "$f"
	done
	[ -f /etc/apt/sources.list ] &&
		awk '$1 == "deb" && $2 !~ /^\[/ { print $2 } $1 == "deb" && $2 ~ /^\[/ { print $3 }' \
			/etc/apt/sources.list
}
mirror=$(src_list | grep -v security | head -n 1)
[ -n "$mirror" ] || die "no Debian mirror found in /etc/apt/sources.list*"

apt_dir=$CACHE/apt
mkdir -p "$apt_dir/lists/partial"
cat >"$apt_dir/src.sources" <<EOF
Types: deb-src
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
APT="-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts=$apt_dir
-o Dir::State::Lists=$apt_dir/lists -o APT::Sandbox::User=root"
if [ ! -s "$apt_dir/version" ] ||
	[ -n "$(find "$apt_dir/version" -mtime +7 2>/dev/null)" ]; then
	say "reading the source index from $mirror"
	# shellcheck disable=SC2086
	apt-get $APT -q update >&2 || die "apt-get update (sources) failed"
	# shellcheck disable=SC2086
	apt-cache $APT showsrc qemu 2>/dev/null |
		awk '/^Version:/ { print $2 }' | sort -V | tail -n 1 \
		>"$apt_dir/version"
fi
version=$(cat "$apt_dir/version")
[ -n "$version" ] || die "no qemu source package in $mirror"
uver=${version#*:}

srcdir=$CACHE/src/$uver
if [ ! -f "$srcdir/tree/.ha-pristine" ]; then
	say "downloading and unpacking qemu $version"
	rm -rf "$srcdir"
	mkdir -p "$srcdir"
	# shellcheck disable=SC2086
	(cd "$srcdir" && apt-get $APT -q source --download-only "qemu=$version" >&2) ||
		die "apt-get source qemu=$version failed"
	dpkg-source -q -x "$srcdir"/qemu_"$uver".dsc "$srcdir/tree" >&2 ||
		die "dpkg-source -x failed"
	rm -rf "$srcdir/tree/.pc"
	(cd "$srcdir/tree" && git init -q && git add -A -f . &&
		git -c user.name=build -c user.email=build@localhost \
			commit -q -m "qemu $version" && git tag debian) >&2
	touch "$srcdir/tree/.ha-pristine"
fi

# ---- 2. the work tree: pristine + series + lib/ ----
work=$CACHE/work
if [ ! -d "$work/.git" ] || [ "$(cat "$work/.ha-version" 2>/dev/null)" != "$uver" ]; then
	say "cloning the source tree into $work"
	rm -rf "$work"
	git clone -q "$srcdir/tree" "$work" >&2
	echo "$uver" >"$work/.ha-version"
fi
cd "$work"
# Only files that differ are rewritten, so the build stays incremental.
git checkout -q -f debian >&2
git clean -q -f -d -x -e /build/ -e /.ha-version -e /hw/virtio/hyperalloc-lib/ >&2
sed -i 's/^if unpack_edk2_blobs/if false/' pc-bios/meson.build
n=0
for p in "$HERE"/*.patch; do
	[ -f "$p" ] || continue
	git apply --whitespace=nowarn "$p" || die "$(basename "$p") does not apply to qemu $version"
	n=$((n + 1))
done
say "applied $n patches to qemu $version"

# lib/: copy what changed only.
mkdir -p hw/virtio/hyperalloc-lib/platform
for f in "$ROOT"/lib/*.c "$ROOT"/lib/*.h "$ROOT"/lib/platform/*.h; do
	rel=${f#"$ROOT"/lib/}
	dst=hw/virtio/hyperalloc-lib/$rel
	cmp -s "$f" "$dst" 2>/dev/null || cp "$f" "$dst"
done

# ---- 3. configure and build ----
mkdir -p build
cd build
if [ ! -f build.ninja ]; then
	say "configuring"
	../configure --target-list=x86_64-softmmu --without-default-features \
		--enable-kvm --enable-tcg --disable-docs --disable-werror \
		--disable-install-blobs --enable-fdt=system >configure.log 2>&1 ||
		{ tail -n 30 configure.log >&2; die "configure failed (build/configure.log)"; }
fi
say "building qemu-system-x86_64 with $JOBS jobs"
# ninja prints "[n/total] ..." per step: show about every 5 %.
ninja -j "$JOBS" qemu-system-x86_64 >ninja.log 2>&1 </dev/null &
pid=$!
last=-1
while kill -0 "$pid" 2>/dev/null; do
	sleep 5
	p=$(tail -c 4096 ninja.log | tr '\r' '\n' |
		sed -n 's/^\[\([0-9]*\)\/\([0-9]*\)\].*/\1 \2/p' | tail -n 1)
	if [ -n "$p" ]; then
		set -- $p
		pct=$(($1 * 100 / $2))
		if [ $((pct / 5)) -ne $((last / 5)) ]; then
			say "  $pct % ($1 of $2 steps)"
			last=$pct
		fi
	fi
done
if ! wait "$pid"; then
	grep -E 'error|FAILED' ninja.log | head -n 20 >&2
	die "build failed (see $work/build/ninja.log)"
fi

mkdir -p "$CACHE/bin/$key"
cp qemu-system-x86_64 "$CACHE/bin/$key/qemu-system-x86_64.tmp"
mv "$CACHE/bin/$key/qemu-system-x86_64.tmp" "$bin"
# Keep the three newest binaries.
ls -1dt "$CACHE"/bin/*/ 2>/dev/null | tail -n +4 | xargs -r rm -rf
say "done"
echo "qemu=$bin"
