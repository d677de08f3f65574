# SPDX-License-Identifier: GPL-2.0-or-later
#
# The patched QEMU (qemu-patches/). qemu-patches/build.sh keeps the source,
# one build tree and the finished binaries under ~/.cache/hyperalloc/qemu/
# (HA_CACHE), keyed by a hash of the series, lib/ and the script itself, so
# a repeat with nothing changed takes a moment.
#
#   make qemu              build (if needed) and print the binary's path
#   make qemu-checkpatch   QEMU's scripts/checkpatch.pl over the series

QEMU_PATCHES := $(sort $(wildcard qemu-patches/*.patch))

qemu:
	$(Q)qemu-patches/build.sh

qemu-checkpatch: qemu
	$(Q)tests/e2e/qemu-checkpatch.sh $(QEMU_PATCHES)

.PHONY: qemu qemu-checkpatch
