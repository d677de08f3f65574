/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A small HTTP/1.1 client for hactl: one request per connection
 * ("Connection: close"), over a unix socket or TCP, bodies framed by
 * Content-Length, chunked encoding or the end of the connection, and
 * streaming of long responses (Server-Sent Events). No TLS: the API
 * listens on loopback and a unix socket.
 */
#ifndef HA_HTTP_CLIENT_H
#define HA_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_CLIENT_MAX_BODY (64u << 20) /* refuse larger answers */

/* Where the API is. */
struct http_client_target {
	char socket_path[108]; /* unix socket; "" for TCP */
	char host[256]; /* TCP host (name, IPv4 or IPv6 without []) */
	char port[8];
	char token[258]; /* bearer token (up to 256 characters), "" for none */
};

struct http_client_response {
	int status;
	char content_type[128];
	char *body; /* NUL-terminated, malloc'd */
	size_t body_len;
};

/* Fill @t from "http://host[:port][/]" (IPv6 as [addr]). 0 or -EINVAL;
 * https and paths are refused. */
int http_client_target_url(const char *url, struct http_client_target *t);

/* Human description of @t ("unix /run/...", "http://h:p"). */
const char *http_client_target_name(const struct http_client_target *t,
				    char *buf, size_t len);

/*
 * @method @path with an optional JSON body; waits for the whole answer
 * (30 s timeout per read). Returns 0 with *ret filled whatever the HTTP
 * status, or -errno with a sentence in @err: connection refused, timeout,
 * malformed answer (-EPROTO), too large (-EFBIG).
 */
int http_client_request(const struct http_client_target *t, const char *method,
			const char *path, const char *body,
			struct http_client_response *ret, char *err,
			size_t errlen);

void http_client_response_free(struct http_client_response *r);

/* Called with each piece of a streamed body as it arrives; a non-zero
 * return ends the stream and is returned by http_client_stream. */
typedef int (*http_client_data_fn)(const char *data, size_t len,
				   void *userdata);

/*
 * GET @path and hand the body to @fn as it arrives, without timeout, until
 * the server ends it. @headers are extra request header lines, each
 * ending in "\r\n" (may be NULL). If the status is not 200 the (short)
 * body is read whole into *ret instead and 0 is returned.
 * Returns 0 when the stream ended, @fn's non-zero value, or -errno with
 * @err filled.
 */
int http_client_stream(const struct http_client_target *t, const char *path,
		       const char *headers, http_client_data_fn fn,
		       void *userdata, struct http_client_response *ret,
		       char *err, size_t errlen);

#endif
