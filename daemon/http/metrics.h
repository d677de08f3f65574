/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Prometheus text exposition format 0.0.4 of the daemon's state
 * (GET /metrics; every family is listed in docs/metrics.md, and
 * tests/integration/test_metrics_doc.py holds the two together).
 */
#ifndef HA_HTTP_METRICS_H
#define HA_HTTP_METRICS_H

#include <stddef.h>

struct daemon;

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Render every family: one HELP and TYPE line each, then its samples.
 * Reads @d (and ctl_host_get / ctl_policy_get), writes nothing. Returns a
 * malloc'd NUL-terminated text and its length, or NULL on ENOMEM. */
char *metrics_render(struct daemon *d, size_t *ret_len);

/* Escape a label value (backslash, double quote, newline) into @buf;
 * returns @buf, truncated to @len - 1 bytes at a character boundary. */
const char *metrics_escape_label(const char *value, char *buf, size_t len);

#endif
