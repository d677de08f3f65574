// SPDX-License-Identifier: GPL-2.0-or-later
#include "canary.h"

#include <string.h>

#define FRAME_SIZE 4096u
#define MID	   (FRAME_SIZE / 2)
#define LAST	   (FRAME_SIZE - 8)

uint64_t canary_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

uint64_t canary_value(uint64_t tag, uint64_t frame)
{
	/* Odd, so a zeroed (discarded) frame never passes. */
	return canary_mix(tag ^ canary_mix(frame)) | 1;
}

/* Words at the start, in the middle and at the end of the frame: three
 * different transforms so a frame copied to the wrong offset fails too. */
void canary_write(uint8_t *p, uint64_t tag, uint64_t frame)
{
	uint64_t v = canary_value(tag, frame), m = v ^ 0x5555555555555555ull,
		 l = ~v;

	memcpy(p, &v, 8);
	memcpy(p + MID, &m, 8);
	memcpy(p + LAST, &l, 8);
}

bool canary_check(const uint8_t *p, uint64_t tag, uint64_t frame,
		  uint64_t *ret_found, uint64_t *ret_want)
{
	uint64_t v = canary_value(tag, frame), first, mid, last;

	memcpy(&first, p, 8);
	memcpy(&mid, p + MID, 8);
	memcpy(&last, p + LAST, 8);
	if (first == v && mid == (v ^ 0x5555555555555555ull) && last == ~v)
		return true;
	*ret_found = first;
	*ret_want = v;
	if (first == v) {
		/* Report the word that is wrong. */
		*ret_found = mid != (v ^ 0x5555555555555555ull) ? mid : last;
		*ret_want = mid != (v ^ 0x5555555555555555ull) ?
				    (v ^ 0x5555555555555555ull) :
				    ~v;
	}
	return false;
}
