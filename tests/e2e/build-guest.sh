#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Build the stock test guest: Debian's cloud kernel (the package that
# linux-image-cloud-amd64 depends on, fetched with apt-get download and
# unpacked with dpkg -x) plus a busybox-static initramfs that loads the
# virtio modules (balloon and virtio-mem) and prints the guest's memory
# on the serial console every second:
#
#   ha-guest: ready
#   ha-guest: MemTotal=497616 MemFree=451232 kB
#
# The guest is cached outside the clone, in $HA_GUEST_CACHE (default
# ~/.cache/hyperalloc/guest/<kernel package>/); a second run only checks
# the cache. The initramfs is rebuilt whenever this script changes.
# Prints two lines on stdout: "kernel=PATH" and "initrd=PATH".
#
# Kernel command line options the init understands:
#   ha_fill=N     write N MiB to a RAM file and delete it again once the
#                 modules are loaded (so that the guest has touched its
#                 memory, as a guest that ran a workload has)
set -eu

CACHE=${HA_GUEST_CACHE:-${HOME:-/root}/.cache/hyperalloc/guest}
MODULES="virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev
virtio_pci virtio_balloon virtio_mem"

say() { echo "build-guest: $*" >&2; }

pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
	awk '/Depends: linux-image-/ { print $2; exit }')
if [ -z "$pkg" ]; then
	say "apt knows no linux-image-cloud-amd64; running apt-get update"
	apt-get update -q >&2
	pkg=$(apt-cache depends linux-image-cloud-amd64 |
		awk '/Depends: linux-image-/ { print $2; exit }')
fi
[ -n "$pkg" ] || { say "cannot resolve linux-image-cloud-amd64"; exit 1; }

dir=$CACHE/$pkg
mkdir -p "$dir"
if [ ! -s "$dir/vmlinuz" ]; then
	say "fetching $pkg into $dir"
	tmp=$(mktemp -d)
	chmod 755 "$tmp"
	# apt-get download writes to the current directory.
	if ! (cd "$tmp" && apt-get download -q "$pkg" >&2); then
		say "download failed; running apt-get update once"
		apt-get update -q >&2
		(cd "$tmp" && apt-get download -q "$pkg" >&2)
	fi
	dpkg -x "$tmp"/*.deb "$tmp/x"
	rm -rf "$dir/modules"
	mkdir -p "$dir/modules"
	for m in $MODULES; do
		f=$(find "$tmp/x/lib/modules" -name "$m.ko*" | head -n 1)
		[ -n "$f" ] || { say "module $m not in $pkg"; exit 1; }
		cp "$f" "$dir/modules/"
	done
	cp "$tmp"/x/boot/vmlinuz-* "$dir/vmlinuz.tmp"
	mv "$dir/vmlinuz.tmp" "$dir/vmlinuz"
	rm -rf "$tmp"
fi

# Rebuild the initramfs when this script (the init in it) changes.
stamp=$(cksum <"$0" | awk '{ print $1 }')
if [ ! -s "$dir/initrd.gz" ] || [ "$(cat "$dir/initrd.stamp" 2>/dev/null)" != "$stamp" ]; then
	say "building the initramfs"
	[ -x /bin/busybox ] || { say "/bin/busybox missing (busybox-static)"; exit 1; }
	root=$(mktemp -d)
	mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev" \
		"$root/tmp" "$root/lib/modules"
	cp /bin/busybox "$root/bin/busybox"
	for m in $MODULES; do
		cp "$dir/modules/$m".ko* "$root/lib/modules/"
	done
	cat >"$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev \
	virtio_pci virtio_balloon virtio_mem; do
	f=$(ls /lib/modules/$m.ko* 2>/dev/null | head -n 1)
	insmod "$f" || echo "ha-guest: insmod $m failed"
done
fill=$(sed -n 's/.*ha_fill=\([0-9]*\).*/\1/p' /proc/cmdline)
if [ -n "$fill" ]; then
	# Let virtio-mem plug its initial memory first: MemTotal settles.
	prev=0
	same=0
	while [ "$same" -lt 2 ]; do
		t=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)
		if [ "$t" = "$prev" ]; then same=$((same + 1)); else same=0; fi
		prev=$t
		sleep 1
	done
	# A tmpfs of its own: the root one is limited to half the RAM.
	mkdir -p /fill
	mount -t tmpfs -o size=100% tmpfs /fill
	dd if=/dev/zero of=/fill/f bs=1M count="$fill" 2>/dev/null
	rm -f /fill/f
	umount /fill
	echo "ha-guest: filled $fill MiB"
fi
echo "ha-guest: ready"
while :; do
	awk '/^MemTotal:/ { t = $2 } /^MemFree:/ { f = $2 }
	     END { printf "ha-guest: MemTotal=%d MemFree=%d kB\n", t, f }' \
		/proc/meminfo
	sleep 1
done
EOF
	chmod 755 "$root/init"
	(cd "$root" && find . | cpio -o -H newc --quiet | gzip -9) \
		>"$dir/initrd.gz.tmp"
	mv "$dir/initrd.gz.tmp" "$dir/initrd.gz"
	echo "$stamp" >"$dir/initrd.stamp"
	rm -rf "$root"
fi

echo "kernel=$dir/vmlinuz"
echo "initrd=$dir/initrd.gz"
