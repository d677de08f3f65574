// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The dashboard's files (see dashboard.h), embedded with .incbin: the
 * sources in daemon/http/dashboard/ and uPlot's minified script and style
 * sheet from the npm install of the build (mk/http.mk passes its folder
 * as DASHBOARD_UPLOT_DIR and makes this object depend on every file).
 */
#include "http/dashboard.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/routes.h"

#ifndef DASHBOARD_UPLOT_DIR
#error "DASHBOARD_UPLOT_DIR (uPlot's dist/ folder) comes from mk/http.mk"
#endif

#define SRC "daemon/http/dashboard/"

/* Embed @file as @sym[] (NUL-terminated) and sym_len. */
#define EMBED(sym, file)                                \
	extern const char sym[];                        \
	extern const uint64_t sym##_len;                \
	__asm__(".pushsection .rodata\n"                \
		".balign 16\n" #sym ":\n"               \
		".incbin \"" file "\"\n" #sym "_end:\n" \
		".byte 0\n"                             \
		".balign 8\n" #sym "_len:\n"            \
		".quad " #sym "_end - " #sym "\n"       \
		".popsection\n")

EMBED(dashboard_index_html, SRC "index.html");
EMBED(dashboard_app_js, SRC "app.js");
EMBED(dashboard_app_css, SRC "app.css");
EMBED(dashboard_uplot_js, DASHBOARD_UPLOT_DIR "/uPlot.iife.min.js");
EMBED(dashboard_uplot_css, DASHBOARD_UPLOT_DIR "/uPlot.min.css");

#define CT_JS  "text/javascript; charset=utf-8"
#define CT_CSS "text/css; charset=utf-8"

static const struct file {
	const char *name, *content_type;
	const char *data;
	const uint64_t *len;
} files[] = {
	{ "index.html", "text/html; charset=utf-8", dashboard_index_html,
	  &dashboard_index_html_len },
	{ "app.js", CT_JS, dashboard_app_js, &dashboard_app_js_len },
	{ "app.css", CT_CSS, dashboard_app_css, &dashboard_app_css_len },
	{ "uPlot.iife.min.js", CT_JS, dashboard_uplot_js,
	  &dashboard_uplot_js_len },
	{ "uPlot.min.css", CT_CSS, dashboard_uplot_css,
	  &dashboard_uplot_css_len },
};

const char *dashboard_file(size_t i, size_t *ret_len)
{
	if (i >= sizeof(files) / sizeof(files[0]))
		return NULL;
	if (ret_len)
		*ret_len = (size_t)*files[i].len;
	return files[i].name;
}

static int reply_file(const struct file *f, struct http_response *resp)
{
	size_t n = (size_t)*f->len;

	resp->body = malloc(n + 1);
	if (!resp->body)
		return -ENOMEM;
	memcpy(resp->body, f->data, n + 1);
	resp->body_len = n;
	resp->status = 200;
	resp->content_type = f->content_type;
	resp->csp = DASHBOARD_CSP;
	return 0;
}

int dashboard_index(struct http_request *req, struct http_response *resp)
{
	(void)req;
	return reply_file(&files[0], resp);
}

int dashboard_asset(struct http_request *req, struct http_response *resp)
{
	const char *name = http_param(&req->params, "asset");

	/* index.html is served at / only. */
	for (size_t i = 1; name && i < sizeof(files) / sizeof(files[0]); i++)
		if (strcmp(files[i].name, name) == 0)
			return reply_file(&files[i], resp);
	return http_reply_problem(resp, 404, "Not Found",
				  "no such file of the dashboard", "asset",
				  name);
}
