// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * hactl's output for people (see hactl_output.h): rows, tables, human
 * sizes and durations, one line per event, problem+json on stderr.
 */
#include "hactl_output.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "user/size.h"

static bool json_errors;

void hactl_json_errors(bool on)
{
	json_errors = on;
}

/* @j as one compact line on stderr, and release it. */
static void print_json_line(json_t *j)
{
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;

	if (text)
		fprintf(stderr, "%s\n", text);
	else
		fputs("{\"type\":\"urn:hyperalloc:hactl:no-memory\"}\n",
		      stderr);
	free(text);
	json_decref(j);
}

static const char *kind_title(const char *kind)
{
	static const struct {
		const char *kind, *title;
	} titles[] = {
		{ "usage", "Usage error" },
		{ "unreachable", "Cannot reach hyperallocd" },
		{ "bad-answer", "The daemon's answer cannot be read" },
		{ "stream-ended", "The event stream ended" },
	};

	for (size_t i = 0; i < sizeof(titles) / sizeof(titles[0]); i++)
		if (strcmp(titles[i].kind, kind) == 0)
			return titles[i].title;
	return "Error";
}

void hactl_error(const char *kind, const char *field, const char *value,
		 const char *fmt, ...)
{
	char detail[1024], type[96];
	va_list ap;
	json_t *j;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (!json_errors) {
		fprintf(stderr, "hactl: %s\n", detail);
		return;
	}
	snprintf(type, sizeof(type), "urn:hyperalloc:hactl:%s", kind);
	j = json_pack("{s:s, s:s, s:s}", "type", type, "title",
		      kind_title(kind), "detail", detail);
	if (j && field)
		json_object_set_new(j, "field", json_string(field));
	if (j && value)
		json_object_set_new(j, "value", json_string(value));
	print_json_line(j);
}

void hactl_print_error(const struct http_client_response *r, bool over_tcp)
{
	json_t *j = NULL;

	if (strncasecmp(r->content_type, "application/problem+json", 24) == 0 ||
	    strncasecmp(r->content_type, "application/json", 16) == 0)
		j = json_loadb(r->body, r->body_len, 0, NULL);
	if (json_errors) {
		char title[32];

		if (json_is_object(j)) {
			print_json_line(j);
			return;
		}
		/* Not from the daemon (a proxy, say): the same shape. */
		json_decref(j);
		snprintf(title, sizeof(title), "HTTP %d", r->status);
		j = json_pack("{s:s, s:s, s:i, s:s%}", "type", "about:blank",
			      "title", title, "status", r->status, "detail",
			      r->body, strcspn(r->body, "\n"));
		print_json_line(j);
		return;
	}
	if (j && json_is_string(json_object_get(j, "detail"))) {
		const char *field, *value;

		field = json_string_value(json_object_get(j, "field"));
		value = json_string_value(json_object_get(j, "value"));

		fprintf(stderr, "hactl: %s",
			json_string_value(json_object_get(j, "detail")));
		if (field && value)
			fprintf(stderr, " (field %s, value %s)", field, value);
		else if (field)
			fprintf(stderr, " (field %s)", field);
		fputc('\n', stderr);
	} else {
		fprintf(stderr, "hactl: HTTP %d: %.*s\n", r->status,
			(int)strcspn(r->body, "\n"), r->body);
	}
	if (r->status == 401 && over_tcp)
		fprintf(stderr, "hactl: changes over TCP need a token: "
				"--token-file FILE or $HACTL_TOKEN\n");
	json_decref(j);
}

/* ---- fields ---- */

const char *hactl_get_str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "-";
}

uint64_t hactl_get_u64(json_t *o, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(o, key));

	return v > 0 ? (uint64_t)v : 0;
}

const char *hactl_get_size(json_t *o, const char *key, char *buf, size_t len)
{
	if (!json_is_integer(json_object_get(o, key)))
		return "-";
	return ha_format_size(hactl_get_u64(o, key), buf, len);
}

/* ---- rows and tables ---- */

void hactl_row(const char *label, const char *fmt, ...)
{
	va_list ap;

	printf("%-18s ", label);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

void hactl_print_memory(json_t *m, const char *indent)
{
	char a[32], b[32], label[64];

#define LABEL(s) (snprintf(label, sizeof(label), "%s%s", indent, s), label)
	hactl_row(LABEL("max:"), "%s",
		  hactl_get_size(m, "max_bytes", a, sizeof(a)));
	hactl_row(LABEL("min:"), "%s",
		  hactl_get_size(m, "min_bytes", a, sizeof(a)));
	hactl_row(LABEL("target:"), "%s (%s)",
		  hactl_get_size(m, "target_bytes", a, sizeof(a)),
		  hactl_get_str(m, "target_source"));
	hactl_row(LABEL("current:"), "%s",
		  hactl_get_size(m, "current_bytes", a, sizeof(a)));
	hactl_row(LABEL("host resident:"), "%s",
		  hactl_get_size(m, "host_resident_bytes", a, sizeof(a)));
	hactl_row(LABEL("guest free:"), "%s",
		  hactl_get_size(m, "guest_free_bytes", a, sizeof(a)));
	hactl_row(LABEL("reclaimed:"), "%s hard, %s soft",
		  hactl_get_size(m, "reclaimed_bytes", a, sizeof(a)),
		  hactl_get_size(m, "soft_reclaimed_bytes", b, sizeof(b)));
	hactl_row(LABEL("shares:"), "%llu",
		  (unsigned long long)hactl_get_u64(m, "shares"));
	hactl_row(LABEL("auto reclaim:"), "%s",
		  json_is_true(json_object_get(m, "auto_reclaim")) ? "on" :
								     "off");
	hactl_row(LABEL("mechanism:"), "%s", hactl_get_str(m, "mechanism"));
	hactl_row(LABEL("updated:"), "%s", hactl_get_str(m, "updated_at"));
#undef LABEL
}

void hactl_print_table(char (*cells)[HACTL_COLS][HACTL_CELL], size_t rows)
{
	size_t w[HACTL_COLS] = { 0 };

	for (size_t r = 0; r < rows; r++)
		for (size_t k = 0; k < HACTL_COLS; k++)
			if (strlen(cells[r][k]) > w[k])
				w[k] = strlen(cells[r][k]);
	for (size_t r = 0; r < rows; r++) {
		for (size_t k = 0; k < HACTL_COLS; k++)
			printf("%-*s%s", k + 1 < HACTL_COLS ? (int)w[k] : 0,
			       cells[r][k], k + 1 < HACTL_COLS ? "  " : "");
		putchar('\n');
	}
}

void hactl_print_policy(json_t *j)
{
	char a[32], *params;
	json_t *v;
	size_t i;

	params = json_dumps(json_object_get(j, "params"),
			    JSON_COMPACT | JSON_ENCODE_ANY);
	hactl_row("policy:", "%s", hactl_get_str(j, "name"));
	hactl_row("params:", "%s", params ? params : "-");
	hactl_row("overcommit ratio:", "%g",
		  json_number_value(json_object_get(j, "overcommit_ratio")));
	hactl_row("host reserve:", "%s",
		  hactl_get_size(j, "host_reserve_bytes", a, sizeof(a)));
	hactl_row("tick:", "%lld ms",
		  (long long)json_integer_value(json_object_get(j, "tick_ms")));
	printf("%-18s ", "available:");
	json_array_foreach(json_object_get(j, "available"), i, v)
		printf("%s%s", i ? " " : "", json_string_value(v));
	putchar('\n');
	free(params);
}

/* ---- events ---- */

void hactl_print_event(const char *event, const char *data, bool json)
{
	json_t *j;
	char a[32];

	if (json) {
		printf("%s\n", data);
	} else if ((j = json_loads(data, 0, NULL))) {
		const char *type = hactl_get_str(j, "type");

		printf("%s %-16s %-12s", hactl_get_str(j, "time"), type,
		       hactl_get_str(j, "vm"));
		if (json_object_get(j, "target_bytes"))
			printf(" target=%s",
			       hactl_get_size(j, "target_bytes", a, sizeof(a)));
		if (json_object_get(j, "source"))
			printf(" source=%s", hactl_get_str(j, "source"));
		if (json_object_get(j, "bytes"))
			printf(" moved=%s",
			       hactl_get_size(j, "bytes", a, sizeof(a)));
		if (json_object_get(j, "duration_us"))
			printf(" in=%.1fms",
			       (double)hactl_get_u64(j, "duration_us") / 1e3);
		if (json_string_length(json_object_get(j, "message")))
			printf(" %s", hactl_get_str(j, "message"));
		putchar('\n');
		json_decref(j);
	} else {
		printf("%s %s\n", event[0] ? event : "message", data);
	}
	fflush(stdout);
}
