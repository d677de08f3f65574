/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What went wrong with a request, in one shape for every layer: ctl and
 * the engine fill it, HTTP turns it into application/problem+json, gRPC
 * into a status and message. A leaf: it includes nothing of the daemon.
 */
#ifndef HA_ERRORS_H
#define HA_ERRORS_H

enum error_status {
	ERROR_OK = 0,
	ERROR_BAD_REQUEST, /* malformed or wrongly typed input   (HTTP 400) */
	ERROR_UNAUTHENTICATED, /* no or wrong credentials            (401) */
	ERROR_FORBIDDEN, /* credentials without the right       (403) */
	ERROR_NOT_FOUND, /* unknown VM or resource              (404) */
	ERROR_CONFLICT, /* state does not allow it now         (409) */
	ERROR_TOO_LARGE, /* request body over the limit         (413) */
	ERROR_UNPROCESSABLE, /* well-formed, but out of range       (422) */
	ERROR_UNAVAILABLE, /* backend cannot act now              (503) */
	ERROR_INTERNAL, /* bug or resource exhaustion          (500) */
};

/* For problem+json and gRPC status messages. */
struct error {
	enum error_status status;
	char field[64]; /* the request field at fault, "" if none */
	char value[128]; /* the offending value as text, "" if none */
	char reason[256]; /* a sentence for people */
};

/* Overwrite *@err: @status, @field and @value (NULL: ""), and the reason
 * formatted from @fmt. Texts longer than their arrays are cut. */
void error_set(struct error *err, enum error_status status, const char *field,
	       const char *value, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* The HTTP status code of @s (500 for a value outside the enum). */
int error_status_http(enum error_status s);

/* The HTTP reason phrase of @s, the title of a problem+json answer
 * ("Internal Server Error" for a value outside the enum). */
const char *error_status_title(enum error_status s);

#endif
