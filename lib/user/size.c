// SPDX-License-Identifier: GPL-2.0-or-later
#include "size.h"

#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

int ha_parse_size(const char *s, uint64_t *ret_bytes)
{
	const char *p = s;
	uint64_t whole = 0;
	double frac = 0, scale = 0.1;
	unsigned shift = 0;
	bool digits = false;

	if (!s)
		return -EINVAL;
	while (isdigit((unsigned char)*p)) {
		unsigned d = (unsigned)(*p - '0');

		if (whole > (UINT64_MAX - d) / 10)
			return -ERANGE;
		whole = whole * 10 + d;
		digits = true;
		p++;
	}
	if (*p == '.') {
		p++;
		while (isdigit((unsigned char)*p)) {
			frac += (*p - '0') * scale;
			scale /= 10;
			digits = true;
			p++;
		}
	}
	if (!digits)
		return -EINVAL;

	switch (toupper((unsigned char)*p)) {
	case 'K':
		shift = 10;
		break;
	case 'M':
		shift = 20;
		break;
	case 'G':
		shift = 30;
		break;
	case 'T':
		shift = 40;
		break;
	case 'B':
	case '\0':
		break;
	default:
		return -EINVAL;
	}
	if (shift) {
		p++;
		if (*p == 'i' || *p == 'I')
			p++;
	}
	if (*p == 'b' || *p == 'B')
		p++;
	if (*p != '\0')
		return -EINVAL;
	if (frac > 0 && shift == 0)
		return -EINVAL; /* fractional bytes */
	if (shift && whole > (UINT64_MAX >> shift))
		return -ERANGE;

	uint64_t bytes = whole << shift;
	double extra = ldexp(frac, (int)shift);

	if ((double)(UINT64_MAX - bytes) < extra)
		return -ERANGE;
	*ret_bytes = bytes + (uint64_t)extra;
	return 0;
}

const char *ha_format_size(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = { "B",   "KiB", "MiB",
					     "GiB", "TiB", "PiB" };
	unsigned u = 0;
	double v = (double)bytes;

	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%llu B", (unsigned long long)bytes);
	else if (v == (double)(uint64_t)v)
		snprintf(buf, len, "%.0f %s", v, units[u]);
	else
		snprintf(buf, len, "%.1f %s", v, units[u]);
	return buf;
}
