/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Canaries: a value unique to (allocation, 4 KiB frame) written into the
 * first, middle and last 8 bytes of every frame a vCPU holds. A frame
 * whose canary is gone when it is checked lost its data while the guest
 * held it: the host discarded memory in use (a punched hole reads back
 * as zeros), or two allocations were handed the same frame.
 */
#ifndef SG_CANARY_H
#define SG_CANARY_H

#include <stdbool.h>
#include <stdint.h>

/* The value for frame @frame of the allocation tagged @tag; never 0. */
uint64_t canary_value(uint64_t tag, uint64_t frame);

/* Write the canary of (@tag, @frame) into the 4 KiB frame at @p. */
void canary_write(uint8_t *p, uint64_t tag, uint64_t frame);

/*
 * Check the canary of (@tag, @frame) in the 4 KiB frame at @p. Returns
 * true if intact; otherwise false with the first word found in
 * *ret_found and the expected value in *ret_want.
 */
bool canary_check(const uint8_t *p, uint64_t tag, uint64_t frame,
		  uint64_t *ret_found, uint64_t *ret_want);

/* A 64-bit mixing function (splitmix64's finaliser). */
uint64_t canary_mix(uint64_t x);

#endif
