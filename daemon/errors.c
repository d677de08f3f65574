// SPDX-License-Identifier: GPL-2.0-or-later
/* Request errors and their HTTP status codes and titles. */
#include "errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "text.h"

void error_set(struct error *err, enum error_status status, const char *field,
	       const char *value, const char *fmt, ...)
{
	va_list ap;

	memset(err, 0, sizeof(*err));
	err->status = status;
	snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
	snprintf(err->value, sizeof(err->value), "%s", value ? value : "");
	va_start(ap, fmt);
	vsnprintf(err->reason, sizeof(err->reason), fmt, ap);
	va_end(ap);
	/* The texts go into JSON and gRPC status messages: valid UTF-8
	 * also when they quote a client's bytes or were cut. */
	text_utf8_fix(err->field);
	text_utf8_fix(err->value);
	text_utf8_fix(err->reason);
}

static const struct {
	int http;
	const char *title;
} statuses[] = {
	[ERROR_OK] = { 200, "OK" },
	[ERROR_BAD_REQUEST] = { 400, "Bad Request" },
	[ERROR_UNAUTHENTICATED] = { 401, "Unauthorized" },
	[ERROR_FORBIDDEN] = { 403, "Forbidden" },
	[ERROR_NOT_FOUND] = { 404, "Not Found" },
	[ERROR_CONFLICT] = { 409, "Conflict" },
	[ERROR_TOO_LARGE] = { 413, "Content Too Large" },
	[ERROR_UNPROCESSABLE] = { 422, "Unprocessable Content" },
	[ERROR_UNAVAILABLE] = { 503, "Service Unavailable" },
	[ERROR_INTERNAL] = { 500, "Internal Server Error" },
};

int error_status_http(enum error_status s)
{
	if ((unsigned)s >= sizeof(statuses) / sizeof(statuses[0]))
		return 500;
	return statuses[s].http;
}

const char *error_status_title(enum error_status s)
{
	if ((unsigned)s >= sizeof(statuses) / sizeof(statuses[0]))
		return "Internal Server Error";
	return statuses[s].title;
}
