// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The dashboard's files (see dashboard.h), embedded with .incbin: the
 * sources in daemon/http/dashboard/ and uPlot's minified script and style
 * sheet from the npm install of the build (mk/http.mk passes its folder
 * as DASHBOARD_UPLOT_DIR and makes this object depend on every file).
 */
#include "http/dashboard.h"

#include <stdint.h>
#include <string.h>

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

static struct dashboard_file files[] = {
	{ "index.html", "text/html; charset=utf-8", dashboard_index_html, 0 },
	{ "app.js", CT_JS, dashboard_app_js, 0 },
	{ "app.css", CT_CSS, dashboard_app_css, 0 },
	{ "uPlot.iife.min.js", CT_JS, dashboard_uplot_js, 0 },
	{ "uPlot.min.css", CT_CSS, dashboard_uplot_css, 0 },
};

static const uint64_t *const lens[] = {
	&dashboard_index_html_len, &dashboard_app_js_len,
	&dashboard_app_css_len,	   &dashboard_uplot_js_len,
	&dashboard_uplot_css_len,
};

/* The lengths are link-time constants, not C constants: fill them in. */
static void fill_lens(void)
{
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		files[i].len = (size_t)*lens[i];
}

const struct dashboard_file *dashboard_page(void)
{
	fill_lens();
	return &files[0];
}

const struct dashboard_file *dashboard_find(const char *name)
{
	fill_lens();
	for (size_t i = 1; name && i < sizeof(files) / sizeof(files[0]); i++)
		if (strcmp(files[i].name, name) == 0)
			return &files[i];
	return NULL;
}
