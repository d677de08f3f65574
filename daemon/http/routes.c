// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The route table of the HTTP API and its handlers (docs/api.md). A
 * handler turns the request into ctl_* calls and their results into JSON;
 * syntax is checked by json_parse_*, everything else by ctl.
 */
#include "http/routes.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "daemon.h"
#include "http/dashboard.h"
#include "http/json.h"
#include "http/metrics.h"
#include "http/sse.h"

#define CT_JSON	    "application/json"
#define CT_PROBLEM  "application/problem+json"
#define OPENAPI_MAX (1u << 20)

/*
 * docs/openapi.yaml, embedded at build time (mk/http.mk makes this object
 * depend on it), NUL-terminated. The binary always serves the document of
 * the routes it was built with.
 */
__asm__(".pushsection .rodata\n"
	".global http_openapi_yaml\n"
	".type http_openapi_yaml, @object\n"
	".balign 16\n"
	"http_openapi_yaml:\n"
	".incbin \"docs/openapi.yaml\"\n"
	"http_openapi_yaml_end:\n"
	".byte 0\n"
	".size http_openapi_yaml, . - http_openapi_yaml\n"
	".global http_openapi_yaml_len\n"
	".type http_openapi_yaml_len, @object\n"
	".balign 8\n"
	"http_openapi_yaml_len:\n"
	".quad http_openapi_yaml_end - http_openapi_yaml\n"
	".size http_openapi_yaml_len, 8\n"
	".popsection\n");

/* ---- replies ---- */

static int reply_json(struct http_response *resp, unsigned int status,
		      json_t *j)
{
	resp->body = json_dump_free(j, &resp->body_len);
	if (!resp->body)
		return -ENOMEM;
	resp->status = status;
	resp->content_type = CT_JSON;
	return 0;
}

int http_reply_problem(struct http_response *resp, int status,
		       const char *title, const char *detail, const char *field,
		       const char *value)
{
	json_t *j = json_problem(status, title, detail, field, value);

	free(resp->body);
	resp->body = json_dump_free(j, &resp->body_len);
	if (!resp->body)
		return -ENOMEM;
	resp->status = (unsigned int)status;
	resp->content_type = CT_PROBLEM;
	return 0;
}

int http_reply_error(struct http_response *resp, const struct error *err)
{
	return http_reply_problem(resp, error_status_http(err->status),
				  error_status_title(err->status), err->reason,
				  err->field, err->value);
}

/* ---- handlers ---- */

static int get_vms(struct http_request *req, struct http_response *resp)
{
	return reply_json(resp, 200, json_vm_list(&req->d->vms));
}

static int get_vm(struct http_request *req, struct http_response *resp)
{
	struct error err = { 0 };
	const struct vm *vm;

	vm = ctl_vm_get(req->d, http_param(&req->params, "id"), &err);
	if (!vm)
		return http_reply_error(resp, &err);
	return reply_json(resp, 200, json_vm_detail(vm));
}

/* The memory state of VM @id after a change: the answer of every
 * memory route. */
static int reply_memory(struct http_request *req, struct http_response *resp,
			const char *id)
{
	struct error err = { 0 };
	const struct vm *vm;

	vm = ctl_vm_get(req->d, id, &err);
	if (!vm)
		return http_reply_error(resp, &err);
	return reply_json(resp, 200, json_vm_memory(vm));
}

static int get_memory(struct http_request *req, struct http_response *resp)
{
	return reply_memory(req, resp, http_param(&req->params, "id"));
}

static int set_memory(struct http_request *req, struct http_response *resp)
{
	const char *id = http_param(&req->params, "id");
	struct ctl_memory_update u;
	struct error err = { 0 };

	if (!ctl_authorize(&req->caller, &err) ||
	    json_parse_memory_update(req->body, req->body_len, &u, &err) < 0 ||
	    ctl_vm_set_memory(req->d, &req->caller, id, &u, &err) < 0)
		return http_reply_error(resp, &err);
	return reply_memory(req, resp, id);
}

static int release_target(struct http_request *req, struct http_response *resp)
{
	const char *id = http_param(&req->params, "id");
	struct error err = { 0 };

	if (ctl_vm_release_target(req->d, &req->caller, id, &err) < 0)
		return http_reply_error(resp, &err);
	return reply_memory(req, resp, id);
}

static int get_host(struct http_request *req, struct http_response *resp)
{
	struct ctl_host h;

	ctl_host_get(req->d, &h);
	return reply_json(resp, 200, json_host(&h));
}

static int reply_policy(struct http_request *req, struct http_response *resp)
{
	struct engine_policy *p = calloc(1, sizeof(*p));
	int r;

	if (!p)
		return -ENOMEM;
	ctl_policy_get(req->d, p);
	r = reply_json(resp, 200, json_policy(p));
	free(p);
	return r;
}

static int get_policy(struct http_request *req, struct http_response *resp)
{
	return reply_policy(req, resp);
}

static int put_policy(struct http_request *req, struct http_response *resp)
{
	struct engine_policy_update *u = calloc(1, sizeof(*u));
	struct error err = { 0 };
	int r;

	if (!u)
		return -ENOMEM;
	if (!ctl_authorize(&req->caller, &err)) {
		r = http_reply_error(resp, &err);
		goto cleanup;
	}
	r = json_parse_policy_update(req->body, req->body_len, u, &err);
	if (r == -ENOMEM)
		goto cleanup;
	if (r < 0 || ctl_policy_set(req->d, &req->caller, u, &err) < 0) {
		r = http_reply_error(resp, &err);
		goto cleanup;
	}
	r = reply_policy(req, resp);
cleanup:
	free(u);
	return r;
}

static int get_events(struct http_request *req, struct http_response *resp)
{
	const char *samples =
		req->conn ? MHD_lookup_connection_value(req->conn,
							MHD_GET_ARGUMENT_KIND,
							"samples") :
			    NULL;
	bool want = samples &&
		    (strcmp(samples, "1") == 0 || strcmp(samples, "true") == 0);
	int r;

	if (samples && !want && strcmp(samples, "0") != 0 &&
	    strcmp(samples, "false") != 0)
		return http_reply_problem(resp, 400, "Bad Request",
					  "samples must be 1, true, 0 or false",
					  "samples", samples);
	resp->status = 200;
	resp->content_type = "text/event-stream";
	if (strcmp(req->method, "HEAD") == 0)
		return 0;
	if (!req->sse)
		r = -EBUSY;
	else
		r = sse_stream_new(req->sse, req->conn, req->last_event_id,
				   want, req->kick, req->kick_userdata,
				   &resp->stream);
	if (r == -EBUSY)
		return http_reply_problem(resp, 503, "Service Unavailable",
					  "too many event streams are open",
					  NULL, NULL);
	return r;
}

static int get_metrics(struct http_request *req, struct http_response *resp)
{
	resp->body = metrics_render(req->d, &resp->body_len);
	if (!resp->body)
		return -ENOMEM;
	resp->status = 200;
	resp->content_type = METRICS_CONTENT_TYPE;
	return 0;
}

static int get_healthz(struct http_request *req, struct http_response *resp)
{
	struct daemon *d = req->d;
	uint64_t uptime = 0;
	struct timespec ts;
	json_t *j;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (d->started_usec) {
		uint64_t now = (uint64_t)ts.tv_sec * 1000000 +
			       (uint64_t)ts.tv_nsec / 1000;

		uptime = now > d->started_usec ? now - d->started_usec : 0;
	}
	j = json_pack("{s:s, s:I, s:I}", "status",
		      d->shutting_down ? "stopping" : "ok", "vms",
		      (json_int_t)d->vms.count, "uptime_s",
		      (json_int_t)(uptime / 1000000));
	return reply_json(resp, d->shutting_down ? 503 : 200, j);
}

/* $HYPERALLOC_DATADIR/openapi.yaml if set and readable, else NULL. */
static char *openapi_override(size_t *ret_len)
{
	const char *dir = getenv("HYPERALLOC_DATADIR");
	char path[4096];
	char *buf = NULL;
	struct stat st;
	int fd;

	if (!dir || !*dir)
		return NULL;
	snprintf(path, sizeof(path), "%s/openapi.yaml", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_size < OPENAPI_MAX) {
		buf = malloc((size_t)st.st_size + 1);
		if (buf && read(fd, buf, (size_t)st.st_size) != st.st_size) {
			free(buf);
			buf = NULL;
		}
		if (buf) {
			buf[st.st_size] = '\0';
			*ret_len = (size_t)st.st_size;
		}
	}
	close(fd);
	return buf;
}

static int get_openapi(struct http_request *req, struct http_response *resp)
{
	(void)req;
	resp->body = openapi_override(&resp->body_len);
	if (!resp->body) {
		resp->body = malloc(http_openapi_yaml_len + 1);
		if (!resp->body)
			return -ENOMEM;
		memcpy(resp->body, http_openapi_yaml, http_openapi_yaml_len);
		resp->body[http_openapi_yaml_len] = '\0';
		resp->body_len = http_openapi_yaml_len;
	}
	resp->status = 200;
	resp->content_type = "application/yaml";
	return 0;
}

static int reply_dashboard(const struct dashboard_file *f,
			   struct http_response *resp)
{
	resp->body = malloc(f->len + 1);
	if (!resp->body)
		return -ENOMEM;
	memcpy(resp->body, f->data, f->len + 1);
	resp->body_len = f->len;
	resp->status = 200;
	resp->content_type = f->content_type;
	resp->csp = DASHBOARD_CSP;
	return 0;
}

static int get_dashboard(struct http_request *req, struct http_response *resp)
{
	(void)req;
	return reply_dashboard(dashboard_page(), resp);
}

static int get_dashboard_file(struct http_request *req,
			      struct http_response *resp)
{
	const char *name = http_param(&req->params, "asset");
	const struct dashboard_file *f = dashboard_find(name);

	if (!f)
		return http_reply_problem(resp, 404, "Not Found",
					  "no such file of the dashboard",
					  "asset", name);
	return reply_dashboard(f, resp);
}

/* ---- the table ---- */

const struct http_route http_routes[] = {
	{ .method = "GET",
	  .pattern = "/vms",
	  .handler = get_vms,
	  .summary = "list the VMs" },
	{ .method = "GET",
	  .pattern = "/vms/{id}",
	  .handler = get_vm,
	  .summary = "one VM with its counters" },
	{ .method = "GET",
	  .pattern = "/vms/{id}/memory",
	  .handler = get_memory,
	  .summary = "a VM's memory state" },
	{ .method = "PUT",
	  .pattern = "/vms/{id}/memory",
	  .handler = set_memory,
	  .summary = "change a VM's memory settings" },
	{ .method = "PATCH",
	  .pattern = "/vms/{id}/memory",
	  .handler = set_memory,
	  .summary = "change a VM's memory settings" },
	{ .method = "DELETE",
	  .pattern = "/vms/{id}/memory/target",
	  .handler = release_target,
	  .summary = "hand the target back to the policy" },
	{ .method = "GET",
	  .pattern = "/host",
	  .handler = get_host,
	  .summary = "host memory and overcommit" },
	{ .method = "GET",
	  .pattern = "/policy",
	  .handler = get_policy,
	  .summary = "the active policy" },
	{ .method = "PUT",
	  .pattern = "/policy",
	  .handler = put_policy,
	  .summary = "change the policy" },
	{ .method = "GET",
	  .pattern = "/events",
	  .handler = get_events,
	  .summary = "Server-Sent Events" },
	{ .method = "GET",
	  .pattern = "/metrics",
	  .handler = get_metrics,
	  .summary = "Prometheus metrics" },
	{ .method = "GET",
	  .pattern = "/healthz",
	  .handler = get_healthz,
	  .summary = "liveness" },
	{ .method = "GET",
	  .pattern = "/openapi.yaml",
	  .handler = get_openapi,
	  .summary = "this API's OpenAPI document" },
	{ .method = "GET",
	  .pattern = "/",
	  .handler = get_dashboard,
	  .summary = "the web dashboard" },
	{ .method = "GET",
	  .pattern = "/ui/{asset}",
	  .handler = get_dashboard_file,
	  .summary = "the dashboard's scripts and style sheets" },
};

const size_t http_routes_count = sizeof(http_routes) / sizeof(http_routes[0]);

/* ---- matching ---- */

static bool path_match(const char *pattern, const char *path,
		       struct http_params *ret)
{
	struct http_params p;
	const char *a = pattern, *b = path;

	memset(&p, 0, sizeof(p));
	while (*a && *b) {
		size_t na, nb;

		if (*a != '/' || *b != '/')
			return false;
		a++;
		b++;
		na = strcspn(a, "/");
		nb = strcspn(b, "/");
		if (na > 2 && a[0] == '{' && a[na - 1] == '}') {
			if (nb == 0 || nb >= HTTP_PARAM_LEN ||
			    p.n == HTTP_PARAMS_MAX ||
			    na - 2 >= sizeof(p.p[0].name))
				return false;
			memcpy(p.p[p.n].name, a + 1, na - 2);
			memcpy(p.p[p.n].value, b, nb);
			p.n++;
		} else if (na != nb || memcmp(a, b, na) != 0) {
			return false;
		}
		a += na;
		b += nb;
	}
	if (*a || *b)
		return false;
	if (ret)
		*ret = p;
	return true;
}

const struct http_route *http_route_match(const char *method, const char *path,
					  struct http_params *params)
{
	if (!method || !path)
		return NULL;
	if (strcmp(method, "HEAD") == 0)
		method = "GET";
	for (size_t i = 0; i < http_routes_count; i++) {
		const struct http_route *rt = &http_routes[i];

		if (strcmp(rt->method, method) == 0 &&
		    path_match(rt->pattern, path, params))
			return rt;
	}
	return NULL;
}

size_t http_route_allow(const char *path, char *buf, size_t len)
{
	size_t n = 0, off = 0;

	if (len)
		buf[0] = '\0';
	for (size_t i = 0; i < http_routes_count; i++) {
		const struct http_route *rt = &http_routes[i];
		int w;

		if (!path_match(rt->pattern, path, NULL))
			continue;
		w = snprintf(buf + off, len - off, "%s%s%s", n ? ", " : "",
			     rt->method,
			     strcmp(rt->method, "GET") == 0 ? ", HEAD" : "");
		if (w > 0 && (size_t)w < len - off)
			off += (size_t)w;
		n++;
	}
	return n;
}

const char *http_param(const struct http_params *params, const char *name)
{
	for (size_t i = 0; i < params->n; i++)
		if (strcmp(params->p[i].name, name) == 0)
			return params->p[i].value;
	return NULL;
}

bool http_method_mutates(const char *method)
{
	return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 &&
	       strcmp(method, "OPTIONS") != 0;
}
