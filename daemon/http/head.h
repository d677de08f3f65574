/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Pure: the checks of an HTTP/1.x request head that would otherwise be
 * libmicrohttpd's (which answers them in HTML, or holds the connection)
 * or nobody's (framing that two parsers could read differently).
 *
 * http/gate.c runs http_head_check() on the bytes of the first request
 * of every connection before libmicrohttpd reads any of them; the
 * daemon then answers a refusal itself, as a problem+json object, and
 * closes. http/server.c runs the framing checks (http_framing_*) and the
 * media type check on the head of every request, as libmicrohttpd
 * parsed it, before the body is read. A leaf: includes nothing of ours.
 */
#ifndef HA_HTTP_HEAD_H
#define HA_HTTP_HEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest request head (request line and header fields) taken. */
#define HTTP_HEAD_MAX 8192

/* Why a request is refused: the problem+json answer's parts. */
struct http_refusal {
	unsigned status; /* 400, 408, 413, 414, 415, 431, 501, 505 */
	const char *title; /* the status's reason phrase */
	char detail[240];
	char field[40]; /* "" or the header field or part at fault */
	char value[72]; /* "" or its value, cut */
};

enum http_head_verdict {
	HTTP_HEAD_MORE, /* incomplete so far: wait for more bytes */
	HTTP_HEAD_OK, /* a complete head, fine to hand on */
	HTTP_HEAD_REFUSED, /* answer *ret and close */
};

/*
 * Judge the first @len bytes received on a connection. Leading empty
 * lines are skipped (as libmicrohttpd does). Returns HTTP_HEAD_MORE
 * while the head is incomplete and nothing seen so far is wrong (more
 * than HTTP_HEAD_MAX bytes without its end is a refusal: 414 while in
 * the request line, 431 after it), HTTP_HEAD_OK for a complete head,
 * HTTP_HEAD_REFUSED with *ret filled as soon as the bytes cannot be a
 * request this server takes: a TLS handshake or other bytes that do not
 * start a request line, a malformed request line or header field, an
 * HTTP version other than 1.x (505), obsolete line folding, a control
 * character, a refused framing (see http_framing_refused).
 */
enum http_head_verdict http_head_check(const char *buf, size_t len,
				       struct http_refusal *ret);

/* The framing-relevant header fields of one request, collected by
 * http_framing_field() for http_framing_refused(). Zero it first. */
struct http_framing {
	bool http10; /* HTTP/1.0: Transfer-Encoding is not allowed */
	unsigned lengths; /* Content-Length fields */
	bool has_length; /* a valid one was seen: length */
	uint64_t length;
	bool length_bad; /* one is not 1*DIGIT */
	bool length_overflow; /* one is above 2^64 - 1 */
	bool length_differs; /* a valid one differs from the first */
	char first_length[24], other_length[24]; /* quoted, cut */
	char length_text[24]; /* the bad or overflowing one */
	unsigned codings; /* Transfer-Encoding fields */
	bool coding_chunked; /* the only one is "chunked" */
	char coding[40]; /* the first one's value, quoted, cut */
	bool has_bad_name;
	char bad_name[40]; /* the first field name that is not a token */
};

/* Note header field @name (@name_len bytes) with @value (@value_len
 * bytes, leading whitespace already skipped). */
void http_framing_field(struct http_framing *f, const char *name,
			size_t name_len, const char *value, size_t value_len);

/*
 * Whether the request's framing is refused, and why in *ret: a field
 * name that is not a token (400: whitespace before the colon makes two
 * parsers disagree on the name), a Content-Length that is not a number
 * (400) or does not fit 64 bits (413), two different Content-Length
 * values (400), both Content-Length and Transfer-Encoding (400, RFC 9112
 * §6.1), more than one Transfer-Encoding or one in an HTTP/1.0 request
 * (400), a transfer coding other than "chunked" (501). After any of
 * these the connection is closed: where the body ends is unknown.
 */
bool http_framing_refused(const struct http_framing *f,
			  struct http_refusal *ret);

/*
 * Whether a request body with Content-Type @value (NULL: none) is
 * refused: anything but application/json, with any parameters, of which
 * a charset must be utf-8, gets 415 in *ret. No Content-Type is taken as
 * JSON.
 */
bool http_content_type_refused(const char *value, struct http_refusal *ret);

#endif
