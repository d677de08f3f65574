/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * hactl's output for people: the daemon's JSON answers as labelled rows
 * and tables with human sizes, events as one line each, and error answers
 * (problem+json) as one sentence on stderr. Nothing here talks to the
 * daemon; everything prints to stdout unless it says otherwise.
 */
#ifndef HA_HACTL_OUTPUT_H
#define HA_HACTL_OUTPUT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http_client.h"

#define HACTL_COLS 10 /* columns of a table */
#define HACTL_CELL 40 /* bytes of a cell, NUL included */

/*
 * Errors go to stderr, as one sentence for people or, once
 * hactl_json_errors(true) was called (--json), as one line of JSON: the
 * daemon's problem object as it sent it, or one of hactl's own problems
 * (docs/operations.md, "hactl"):
 *   {"type": "urn:hyperalloc:hactl:KIND", "title": ..., "detail": ...,
 *    "field": ..., "value": ...}
 * with KIND usage (exit status 2), unreachable, bad-answer or
 * stream-ended (exit status 1). The exit status is the caller's.
 */
void hactl_json_errors(bool on);

/* Print the error answer @r: the problem+json detail (with its field and
 * value), else the status and the first line of the body; after a 401
 * over TCP (@over_tcp), how to pass a token. */
void hactl_print_error(const struct http_client_response *r, bool over_tcp);

/* One of hactl's own errors of @kind ("usage", "unreachable", ...):
 * the formatted detail, and the option @field and its @value at fault
 * when not NULL. */
void hactl_error(const char *kind, const char *field, const char *value,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* String member @key of object @o, or "-" when missing or not a string. */
const char *hactl_get_str(json_t *o, const char *key);

/* Integer member @key of @o; 0 when missing, not an integer or negative. */
uint64_t hactl_get_u64(json_t *o, const char *key);

/* Integer member @key of @o as a human size ("1.5 GiB") in @buf, or "-"
 * when it is not an integer. Returns @buf or "-". */
const char *hactl_get_size(json_t *o, const char *key, char *buf, size_t len);

/* One line: @label left-aligned in 18 columns, then the formatted value. */
void hactl_row(const char *label, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The rows of a VM's memory object @m, each label prefixed by @indent. */
void hactl_print_memory(json_t *m, const char *indent);

/* @rows rows of HACTL_COLS cells, each column as wide as its widest cell,
 * two spaces apart; the first row is usually the heading. */
void hactl_print_table(char (*cells)[HACTL_COLS][HACTL_CELL], size_t rows);

/* The rows of the policy object @j (GET and PUT /policy). */
void hactl_print_policy(json_t *j);

/* One event of the stream as one line, and flush stdout. @data is the
 * event's data as sent (printed as is with @json); @event its type, ""
 * for none, shown only when @data is not JSON. */
void hactl_print_event(const char *event, const char *data, bool json);

#endif
