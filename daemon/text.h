/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Text that came from outside (request paths, header values, guest
 * strings) on its way into a log line or a JSON string. Pure; a leaf.
 */
#ifndef HA_TEXT_H
#define HA_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* Length of the valid UTF-8 sequence (1..4) at @s (@len bytes), or 0 if
 * none starts there: overlong forms, surrogates, code points above
 * U+10FFFF and sequences cut by the end are not valid. */
size_t text_utf8_char(const char *s, size_t len);

/* Is all of @s (@len bytes) valid UTF-8 without NUL? */
bool text_utf8_valid(const char *s, size_t len);

/* Make the NUL-terminated @s valid UTF-8 in place: each byte that does
 * not belong to a valid sequence becomes '?' (a character cut at the end
 * by snprintf too). Returns @s. */
char *text_utf8_fix(char *s);

/*
 * Copy @in to @out (@size > 0 bytes, always NUL-terminated) for a log
 * line: control characters (newlines included), DEL and bytes outside
 * valid UTF-8 become \xNN, so nothing a client or a guest sends can start
 * a line of its own or break the encoding. Output that does not fit is
 * cut before an escape or a character, never inside one. Returns the
 * length written.
 */
size_t text_log_escape(const char *in, char *out, size_t size);

#endif
