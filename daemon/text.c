// SPDX-License-Identifier: GPL-2.0-or-later
#include "text.h"

#include <stdint.h>
#include <string.h>

size_t text_utf8_char(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	uint32_t cp, min;
	size_t n;

	if (len == 0)
		return 0;
	if (u[0] < 0x80)
		return 1;
	if (u[0] >= 0xc2 && u[0] <= 0xdf) {
		n = 2;
		cp = u[0] & 0x1fu;
		min = 0x80;
	} else if (u[0] >= 0xe0 && u[0] <= 0xef) {
		n = 3;
		cp = u[0] & 0x0fu;
		min = 0x800;
	} else if (u[0] >= 0xf0 && u[0] <= 0xf4) {
		n = 4;
		cp = u[0] & 0x07u;
		min = 0x10000;
	} else {
		return 0; /* a continuation byte, 0xc0/0xc1, or above 0xf4 */
	}
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((u[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (u[i] & 0x3fu);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

bool text_utf8_valid(const char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		size_t n = text_utf8_char(s + i, len - i);

		if (n == 0 || s[i] == '\0')
			return false;
		i += n;
	}
	return true;
}

char *text_utf8_fix(char *s)
{
	size_t len = strlen(s);

	for (size_t i = 0; i < len;) {
		size_t n = text_utf8_char(s + i, len - i);

		if (n == 0) {
			s[i++] = '?';
			continue;
		}
		i += n;
	}
	return s;
}

size_t text_log_escape(const char *in, char *out, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	size_t len = strlen(in), o = 0;

	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)in[i];
		size_t n = text_utf8_char(in + i, len - i);

		if (n == 1 && (c < 0x20 || c == 0x7f))
			n = 0;
		if (n == 0) {
			if (o + 4 >= size)
				break;
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 0xf];
			i++;
			continue;
		}
		if (o + n >= size)
			break;
		memcpy(out + o, in + i, n);
		o += n;
		i += n;
	}
	out[o] = '\0';
	return o;
}
