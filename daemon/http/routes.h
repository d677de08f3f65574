/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The HTTP route table and its handlers. http/server.c owns the sockets and
 * libmicrohttpd; it matches a request against http_routes[], fills a
 * struct http_request and turns the struct http_response a handler
 * produced into the answer. Handlers only map the wire format to ctl_*
 * calls and back.
 */
#ifndef HA_HTTP_ROUTES_H
#define HA_HTTP_ROUTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl.h"

struct daemon;
struct sse_hub;
struct MHD_Connection;
struct MHD_Response;

#define HTTP_PARAMS_MAX 2
#define HTTP_PARAM_LEN	128

/* Values of the {name} segments of a matched pattern. */
struct http_params {
	size_t n;
	struct {
		char name[16];
		char value[HTTP_PARAM_LEN];
	} p[HTTP_PARAMS_MAX];
};

struct http_request {
	struct daemon *d;
	struct MHD_Connection *conn;
	const char *method; /* as sent; HEAD is routed like GET */
	const char *path; /* decoded, without the query */
	struct http_params params;
	const char *body; /* NUL-terminated; NULL when there was none */
	size_t body_len;
	struct ctl_caller caller; /* filled for mutating methods */
	const char *last_event_id; /* Last-Event-ID header or NULL */

	/* For streaming handlers: the hub and how to make the server run
	 * a resumed connection. */
	struct sse_hub *sse;
	void (*kick)(void *userdata);
	void *kick_userdata;
};

struct http_response {
	unsigned int status;
	const char *content_type;
	char *body; /* malloc'd, owned by the response */
	size_t body_len;
	struct MHD_Response *stream; /* instead of body, from sse */
	char allow[64]; /* for 405 */
	const char *csp; /* Content-Security-Policy, static; NULL: none */
	bool close; /* "Connection: close": no request after this one */
};

/* Returns 0, or -errno (the server answers 500 and logs it). */
typedef int (*http_handler_fn)(struct http_request *req,
			       struct http_response *resp);

struct http_route {
	const char *method; /* "GET", "PUT", ... */
	const char *pattern; /* "/vms/{id}/memory" */
	http_handler_fn handler;
	const char *summary; /* one line, for people */
};

extern const struct http_route http_routes[];
extern const size_t http_routes_count;

/*
 * Match @method and @path against the table. Returns the route and fills
 * *params with the {name} segments, or NULL if no route has this method
 * and path (see http_route_allow to tell 404 from 405). HEAD matches GET
 * routes. Segments longer than HTTP_PARAM_LEN - 1 never match.
 */
const struct http_route *http_route_match(const char *method, const char *path,
					  struct http_params *params);

/* Write the methods the table has for @path ("GET, HEAD, PUT") into
 * @buf. Returns how many routes have this path (0: unknown path). */
size_t http_route_allow(const char *path, char *buf, size_t len);

/* The value of parameter @name, or NULL. */
const char *http_param(const struct http_params *params, const char *name);

/* Is @method one that changes state (PUT, PATCH, POST, DELETE)? */
bool http_method_mutates(const char *method);

/* Fill @resp with a problem+json answer. 0 or -ENOMEM. */
int http_reply_problem(struct http_response *resp, int status,
		       const char *title, const char *detail, const char *field,
		       const char *value);
int http_reply_error(struct http_response *resp, const struct error *err);

/* The OpenAPI document served at /openapi.yaml (embedded at build time
 * from docs/openapi.yaml). */
extern const char http_openapi_yaml[];
extern const size_t http_openapi_yaml_len;

#endif
