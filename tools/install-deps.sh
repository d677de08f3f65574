#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Install every Debian package that building, running and testing hyperalloc
# needs. Idempotent: packages already present are not touched, and apt is not
# called at all when nothing is missing. Runs as root or through sudo.
set -eu

PACKAGES="
build-essential pkg-config make gcc clang clang-format libclang-rt-14-dev
check
libsystemd-dev systemd
libmicrohttpd-dev libjansson-dev
libprotobuf-c-dev protobuf-c-compiler libgrpc-dev python3 python3-grpcio
python3-protobuf
curl wrk procps util-linux
libvirt-dev libxml2-dev libvirt-daemon libvirt-daemon-driver-qemu
libvirt-clients qemu-system-x86 busybox-static cpio
chromium fonts-dejavu-core prometheus
git xz-utils dpkg-dev meson ninja-build libglib2.0-dev libpixman-1-dev
libfdt-dev zlib1g-dev linux-headers-cloud-amd64 linux-source-6.1
bc flex bison libelf-dev libssl-dev python3-ply python3-git shellcheck
"

# Node.js 20 or later and npm run the pinned npm tools (tools/npm-ci.sh).
# Debian's nodejs and npm only when there is no node at all: a newer
# Node.js installed otherwise (with its own npm) is kept.
if ! command -v node >/dev/null 2>&1; then
	PACKAGES="$PACKAGES nodejs npm"
fi

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	echo "install-deps: all packages present"
	exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	echo "install-deps: missing packages:$missing" >&2
	echo "install-deps: run this script as root or install sudo" >&2
	exit 1
fi

echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
