#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Build the HyperAlloc test guest: Debian's cloud kernel (the one
# build-guest.sh fetches and caches) plus a busybox-static initramfs that
# loads the virtio modules, libhyperalloc.ko and virtio_hyperalloc.ko
# (built by guestmod/build-module.sh), then runs a shell on the console:
#
#   ha-guest: loaded virtio_hyperalloc test_pool=512M@0x40000000
#   ha-guest: ready
#   ~ #
#
# A test types commands at that shell (cat /sys/bus/virtio/devices/*/
# hyperalloc/stats, echo 0 > .../hyperalloc/test_run, reboot -f).
#
# Kernel command line options the init understands:
#   ha.NAME=VALUE   passed to insmod virtio_hyperalloc.ko as NAME=VALUE
#                   (also accepted as virtio_hyperalloc.NAME=VALUE), e.g.
#                   ha.test_pool=512M@0x40000000 with memmap=512M$0x40000000
#   ha.load=0       load everything but virtio_hyperalloc.ko (it is in
#                   /lib/modules for a test to insmod itself)
#
# Cached in $HA_GUEST_CACHE (default ~/.cache/hyperalloc/ha-guest)
# /<kernel package>-<hash of this script and the modules>/. Prints
# "kernel=PATH" and "initrd=PATH" on stdout, progress on stderr.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
CACHE=${HA_GUEST_CACHE:-${HOME:-/root}/.cache/hyperalloc/ha-guest}
VIRTIO="virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev
virtio_pci"

say() { echo "build-ha-guest: $*" >&2; }
die() { say "$*"; exit 1; }

[ -x /bin/busybox ] || die "missing package: busybox-static"
command -v cpio >/dev/null 2>&1 || die "missing package: cpio"

# The stock guest's kernel and its virtio modules.
kernel=$(sh "$here/build-guest.sh" | sed -n 's/^kernel=//p')
[ -s "$kernel" ] || die "build-guest.sh gave no kernel"
kmods=$(dirname "$kernel")/modules
pkg=$(basename "$(dirname "$kernel")")

out=$(sh "$top/guestmod/build-module.sh")
module=$(echo "$out" | sed -n 's/^module=//p')
lib_module=$(echo "$out" | sed -n 's/^lib_module=//p')
if [ ! -s "$module" ] || [ ! -s "$lib_module" ]; then
	die "build-module.sh gave no module"
fi

files="$0 $module $lib_module"
for m in $VIRTIO; do
	f=$(ls "$kmods/$m".ko* 2>/dev/null | head -n 1)
	[ -n "$f" ] || die "$m not in $kmods"
	files="$files $f"
done
# shellcheck disable=SC2086 # $files is a list of paths
hash=$(cat $files | sha256sum | cut -c1-16)
dir=$CACHE/$pkg-$hash

if [ -s "$dir/initrd.gz" ]; then
	say "up to date: $dir"
else
	say "building the initramfs in $dir"
	mkdir -p "$dir"
	root=$(mktemp -d)
	mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev" \
		"$root/tmp" "$root/lib/modules"
	cp /bin/busybox "$root/bin/busybox"
	for m in $VIRTIO; do
		cp "$kmods/$m".ko* "$root/lib/modules/"
	done
	cp "$lib_module" "$module" "$root/lib/modules/"
	cat >"$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev \
	virtio_pci libhyperalloc; do
	f=$(ls /lib/modules/$m.ko* 2>/dev/null | head -n 1)
	insmod "$f" || echo "ha-guest: insmod $m failed"
done
# Module parameters: ha.NAME=VALUE or virtio_hyperalloc.NAME=VALUE.
params=
load=1
for w in $(cat /proc/cmdline); do
	case $w in
	ha.load=*) load=${w#ha.load=} ;;
	ha.*=*) params="$params ${w#ha.}" ;;
	virtio_hyperalloc.*=*) params="$params ${w#virtio_hyperalloc.}" ;;
	esac
done
if [ "$load" = 1 ]; then
	if insmod /lib/modules/virtio_hyperalloc.ko $params; then
		echo "ha-guest: loaded virtio_hyperalloc$params"
	else
		echo "ha-guest: insmod virtio_hyperalloc failed"
	fi
fi
echo "ha-guest: ready"
while :; do
	setsid cttyhack sh
	echo "ha-guest: shell exited"
done
EOF
	chmod 755 "$root/init"
	(cd "$root" && find . | cpio -o -H newc --quiet | gzip -9) \
		>"$dir/initrd.gz.tmp"
	mv "$dir/initrd.gz.tmp" "$dir/initrd.gz"
	rm -rf "$root"
fi

echo "kernel=$kernel"
echo "initrd=$dir/initrd.gz"
