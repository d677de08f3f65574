/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The web dashboard served at / (docs/api.md, "Dashboard"): a page, its
 * script and style sheet (daemon/http/dashboard/) and the charting
 * library uPlot (from npm, pinned in daemon/http/dashboard/package.json),
 * all embedded in the binary at build time. The page reads the API like
 * any client: GET /vms, /host, /policy, the event stream with samples
 * (GET /events?samples=1), and changes targets and the policy with the
 * token its user enters. Nothing is fetched from anywhere else.
 */
#ifndef HA_HTTP_DASHBOARD_H
#define HA_HTTP_DASHBOARD_H

#include <stddef.h>

struct http_request;
struct http_response;

/* The policy of every dashboard answer: only this origin, no inline
 * script or style, no framing. */
#define DASHBOARD_CSP                                                 \
	"default-src 'none'; script-src 'self'; style-src 'self'; "   \
	"img-src 'self' data:; connect-src 'self'; base-uri 'none'; " \
	"form-action 'none'; frame-ancestors 'none'"

/* GET /: the page. Returns 0, or -ENOMEM. */
int dashboard_index(struct http_request *req, struct http_response *resp);

/* GET /ui/{asset}: one of the page's files by name ("app.js",
 * "uPlot.min.css", ...); a problem 404 for any other name. Returns 0, or
 * -ENOMEM. */
int dashboard_asset(struct http_request *req, struct http_response *resp);

/* The embedded files, for tests: the name of file @i (NULL past the
 * last) and its size. */
const char *dashboard_file(size_t i, size_t *ret_len);

#endif
