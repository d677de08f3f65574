/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The web dashboard served at / (docs/api.md, "Dashboard"): a page, its
 * script and style sheet (daemon/http/dashboard/) and the charting
 * library uPlot (from npm, pinned in daemon/http/dashboard/package.json),
 * all embedded in the binary at build time. The page reads the API like
 * any client: GET /vms, /host, /policy, the event stream with samples
 * (GET /events?samples=1), and changes targets and the policy with the
 * token its user enters. Nothing is fetched from anywhere else. The
 * handlers of / and /ui/{asset} are in http/routes.c.
 */
#ifndef HA_HTTP_DASHBOARD_H
#define HA_HTTP_DASHBOARD_H

#include <stddef.h>

/* The policy of every dashboard answer: only this origin, no inline
 * script or style, no framing. */
#define DASHBOARD_CSP                                                 \
	"default-src 'none'; script-src 'self'; style-src 'self'; "   \
	"img-src 'self' data:; connect-src 'self'; base-uri 'none'; " \
	"form-action 'none'; frame-ancestors 'none'"

struct dashboard_file {
	const char *name; /* "index.html", "app.js", "uPlot.min.css", ... */
	const char *content_type;
	const char *data; /* NUL-terminated */
	size_t len;
};

/* The page (index.html), served at /. */
const struct dashboard_file *dashboard_page(void);

/* The file named @name that the page loads from /ui/, or NULL (also for
 * index.html, which is served at / only). */
const struct dashboard_file *dashboard_find(const char *name);

#endif
