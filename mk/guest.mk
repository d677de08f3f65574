# SPDX-License-Identifier: GPL-2.0-or-later
#
# The HyperAlloc guest (guestmod/linux/): Debian's linux-source-6.1 with
# the patch series, and an initramfs with the workloads of
# guestmod/workloads/. guestmod/linux/build-guest.sh keeps the source,
# one build tree and the finished images under ~/.cache/hyperalloc/kernel/
# (HA_CACHE), keyed by hashes of their inputs.
#
#   make guest             build (if needed) and print the paths
#   make guest-checkpatch  the kernel's scripts/checkpatch.pl --strict over
#                          the series
#
# The workloads also build here, statically, with the project's warnings,
# so that `make` catches their mistakes before a guest build does.

GUEST_PATCHES := $(sort $(wildcard guestmod/linux/*.patch))
GUEST_WORKLOADS := $(patsubst guestmod/workloads/%.c,$(BUILD)/guest/%,\
	$(wildcard guestmod/workloads/*.c))

$(BUILD)/guest/%: guestmod/workloads/%.c guestmod/workloads/workload.h
	@mkdir -p $(dir $@)
	$(Q)$(call msg,CC-ST,$<)$(CC) -std=gnu11 -O2 -D_GNU_SOURCE $(WARN) \
		-Werror -static -pthread -o $@ $<

all: $(GUEST_WORKLOADS)

guest:
	$(Q)guestmod/linux/build-guest.sh

guest-checkpatch:
	$(Q)src=$$(guestmod/linux/build-guest.sh --source | sed -n 's/^source=//p') && \
	cd "$$src" && PATH=/usr/bin:/bin:$$PATH scripts/checkpatch.pl --strict -q \
		$(abspath $(GUEST_PATCHES)) && echo "checkpatch: $(words $(GUEST_PATCHES)) patches clean"

.PHONY: guest guest-checkpatch
