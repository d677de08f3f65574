// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * HTTP server: libmicrohttpd glue and request plumbing (see
 * http/server.h). Routing and handlers are in http/routes.c, SSE in
 * sse.c; the listening sockets, the gate in front of MHD, the limits and
 * timeouts in gate.c.
 *
 * How MHD runs inside sd-event: each listener has its own MHD daemon
 * started with MHD_USE_EPOLL, no internal thread and no listening socket
 * of its own (gate.c accepts and hands connections over with
 * MHD_add_connection). MHD's epoll fd becomes readable whenever one of
 * its sockets (or its inter-thread channel, used by
 * MHD_resume_connection) has work, so it is an sd-event io source whose
 * callback calls MHD_run(). MHD also needs to run when a connection
 * times out or when it kept work back (edge-triggered epoll with data
 * left in a buffer); MHD_get_timeout() says when, and a oneshot timer is
 * re-armed from it after every MHD_run(). A resumed SSE stream or a new
 * connection "kicks" its listener: the timer is set to fire at once.
 *
 * Every request's head is checked before its body is read: framing two
 * parsers could read differently (conflicting Content-Length values,
 * Content-Length with Transfer-Encoding, an unknown transfer coding, a
 * field name that is not a token) is answered at once and the
 * connection closed; a body that is not JSON (Content-Type) is read
 * into the void and answered with 415, like one that is too large with
 * 413. A request whose body ends short with the client's end of the
 * connection is cut off, not held.
 */
#include "auth.h"
#include "http/server.h"
#include "listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "commit.h"
#include "daemon.h"
#include "http/internal.h"
#include "http/routes.h"
#include "log.h"
#include "http/sse.h"

#define DEFAULT_MAX_BODY (64u * 1024)
#define STOP_RUNS	 50 /* MHD runs of <= 10 ms to flush streams at stop */
#define HTTP_DRAIN_MAX	 (64ull << 20) /* oversized bodies read to answer 413 */
#define TIMER_MAX_MS	 (3600ull * 1000) /* MHD timeouts beyond are clamped */

/* State of one request while its body arrives. */
struct http_conn {
	char *body;
	size_t len;
	bool too_large; /* body over the limit: discard, answer 413 */
	bool refused; /* refusal: discard the body, answer it at the end */
	struct http_refusal refusal;
	uint64_t dropped; /* bytes of it discarded so far */
	bool has_length; /* Content-Length: length */
	uint64_t length;
	bool responded; /* answered before the body (413 by length) */
	bool started; /* the head was seen by on_request */
	const char *bad_path; /* why the raw path is refused, or NULL */
	/* A change's answer waits, the connection suspended, until the
	 * group commit has written it (commit.h). */
	bool holding, committed;
	int commit_result;
	struct http_response held;
	struct MHD_Connection *conn;
	struct http_listener *l;
};

/* ---- running MHD in the loop ---- */

static void listener_arm(struct http_listener *l)
{
	sd_event *loop = l->srv->d->loop;
	MHD_UNSIGNED_LONG_LONG ms = 0;
	uint64_t now;
	int r;

	if (!l->kick && MHD_get_timeout(l->mhd, &ms) != MHD_YES) {
		(void)sd_event_source_set_enabled(l->timer, SD_EVENT_OFF);
		return;
	} else if (l->kick) {
		ms = 0;
	}
	if (ms > TIMER_MAX_MS)
		ms = TIMER_MAX_MS;
	r = sd_event_now(loop, CLOCK_MONOTONIC, &now);
	if (r >= 0)
		r = sd_event_source_set_time(l->timer, now + ms * 1000);
	if (r >= 0)
		r = sd_event_source_set_enabled(l->timer, SD_EVENT_ONESHOT);
	/* -ESTALE: the loop has finished (shutdown); stop() runs MHD. */
	if (r < 0 && r != -ESTALE)
		log_err("http: %s: cannot arm timer: %s", l->desc,
			strerror(-r));
}

static void listener_run(struct http_listener *l)
{
	l->kick = false;
	l->in_run = true;
	if (MHD_run(l->mhd) != MHD_YES)
		log_warn("http: %s: MHD_run failed", l->desc);
	l->in_run = false;
	listener_arm(l);
}

static int on_mhd_io(sd_event_source *s, int fd, uint32_t revents,
		     void *userdata)
{
	(void)s;
	(void)fd;
	(void)revents;
	listener_run(userdata);
	return 0;
}

static int on_mhd_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	(void)s;
	(void)usec;
	listener_run(userdata);
	return 0;
}

/* A suspended connection was resumed or a new one added: have MHD run
 * soon. During MHD_run() the re-arm at its end sees the flag. */
void http_listener_kick(void *userdata)
{
	struct http_listener *l = userdata;

	l->kick = true;
	if (!l->in_run && !l->srv->stopping)
		listener_arm(l);
}

/* ---- connections ---- */

static struct http_sock *conn_sock(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
		conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

/* MHD starts a connection only when the gate hands it one
 * (l->adding), and ends it when it closes. */
static void on_connection(void *cls, struct MHD_Connection *conn,
			  void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct http_listener *l = cls;
	struct http_sock *hs = *socket_context;

	if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (hs)
			http_gate_release(hs);
		*socket_context = NULL;
		return;
	}
	hs = l->adding;
	l->adding = NULL;
	if (!hs) {
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
			conn, MHD_CONNECTION_INFO_CONNECTION_FD);

		if (ci)
			(void)shutdown(ci->connect_fd, SHUT_RDWR);
		return;
	}
	hs->conn = conn;
	*socket_context = hs;
}

/* ---- credentials ---- */

static void tcp_caller(struct http_listener *l, struct MHD_Connection *conn,
		       struct ctl_caller *c)
{
	const char *auth = MHD_lookup_connection_value(
		conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	const union MHD_ConnectionInfo *ci;
	const char *token = l->srv->d->api_token;
	char addr[INET6_ADDRSTRLEN] = "?";
	char who[sizeof(c->who)];

	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci && ci->client_addr) {
		const void *sa = ci->client_addr;
		const struct sockaddr_in *in = sa;
		const struct sockaddr_in6 *in6 = sa;

		if (in->sin_family == AF_INET)
			inet_ntop(AF_INET, &in->sin_addr, addr, sizeof(addr));
		else if (in6->sin6_family == AF_INET6)
			inet_ntop(AF_INET6, &in6->sin6_addr, addr,
				  sizeof(addr));
	}
	snprintf(who, sizeof(who), "tcp %s", addr);
	auth_bearer_caller(auth, auth ? strlen(auth) : 0, token, who, c);
}

static void unix_caller(struct http_listener *l, struct MHD_Connection *conn,
			struct ctl_caller *c)
{
	const union MHD_ConnectionInfo *ci;
	struct ucred cred;
	socklen_t len = sizeof(cred);

	snprintf(c->who, sizeof(c->who), "unix ?");
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (!ci || getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred,
			      &len) < 0)
		return;
	snprintf(c->who, sizeof(c->who), "unix uid %u pid %d",
		 (unsigned)cred.uid, (int)cred.pid);
	c->credentials_given = true;
	c->authenticated = auth_peer_allowed(cred.uid, cred.gid, geteuid(),
					     l->srv->d->cfg->api.unix_group);
}

/* ---- requests ---- */

static uint64_t max_body(const struct http_listener *l)
{
	const struct config *cfg = l->srv->d->cfg;

	return cfg && cfg->api.max_body_bytes ? cfg->api.max_body_bytes :
						DEFAULT_MAX_BODY;
}

static int reply_too_large(struct http_listener *l, struct http_response *resp)
{
	char detail[96];

	snprintf(detail, sizeof(detail),
		 "request body is larger than %llu bytes (api.max_body_bytes)",
		 (unsigned long long)max_body(l));
	return http_reply_problem(resp, 413, "Content Too Large", detail, NULL,
				  NULL);
}

/* Route @method @url and run its handler; fills @resp. */
static void dispatch(struct http_listener *l, struct http_conn *hc,
		     struct MHD_Connection *conn, const char *url,
		     const char *method, struct http_response *resp)
{
	struct http_request req;
	const struct http_route *rt;
	char detail[400];
	int r;

	memset(&req, 0, sizeof(req));
	req.d = l->srv->d;
	req.conn = conn;
	req.method = method;
	req.path = url;
	req.body = hc->body;
	req.body_len = hc->len;

	if (hc->refused) {
		r = http_reply_problem(resp, (int)hc->refusal.status,
				       hc->refusal.title, hc->refusal.detail,
				       hc->refusal.field, hc->refusal.value);
		goto cleanup;
	}
	if (hc->too_large) {
		r = reply_too_large(l, resp);
		goto cleanup;
	}
	rt = http_route_match(method, url, &req.params);
	if (!rt) {
		if (http_route_allow(url, resp->allow, sizeof(resp->allow))) {
			snprintf(detail, sizeof(detail),
				 "%.16s is not allowed on %.256s (allowed: %s)",
				 method, url, resp->allow);
			r = http_reply_problem(resp, 405, "Method Not Allowed",
					       detail, NULL, NULL);
		} else {
			snprintf(detail, sizeof(detail),
				 "no such resource: %.256s", url);
			r = http_reply_problem(resp, 404, "Not Found", detail,
					       NULL, NULL);
		}
		goto cleanup;
	}
	if (http_method_mutates(method)) {
		if (l->is_unix)
			unix_caller(l, conn, &req.caller);
		else
			tcp_caller(l, conn, &req.caller);
	}
	req.last_event_id = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							"Last-Event-ID");
	req.sse = l->srv->sse;
	req.kick = http_listener_kick;
	req.kick_userdata = l;
	r = rt->handler(&req, resp);
cleanup:
	if (r < 0) {
		log_err("http: %s %s: handler failed: %s", method, url,
			strerror(-r));
		if (resp->stream) {
			MHD_destroy_response(resp->stream);
			resp->stream = NULL;
		}
		if (http_reply_problem(resp, 500, "Internal Server Error",
				       strerror(-r), NULL, NULL) < 0) {
			resp->status = 500;
			resp->content_type = "text/plain";
		}
	}
}

static enum MHD_Result queue(struct http_listener *l,
			     struct MHD_Connection *conn, const char *method,
			     const char *url, struct http_response *resp)
{
	struct MHD_Response *mr = resp->stream;
	bool stream = mr != NULL;
	enum MHD_Result ret;

	if (!mr && resp->body) {
		mr = MHD_create_response_from_buffer(resp->body_len, resp->body,
						     MHD_RESPMEM_MUST_FREE);
		if (mr)
			resp->body = NULL; /* MHD frees it */
	} else if (!mr) {
		mr = MHD_create_response_from_buffer(0, NULL,
						     MHD_RESPMEM_PERSISTENT);
	}
	free(resp->body);
	if (!mr) {
		log_err("http: %s %s: out of memory for the response", method,
			url);
		return MHD_NO; /* MHD closes the connection */
	}
	if (resp->content_type)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE,
					resp->content_type);
	MHD_add_response_header(mr, MHD_HTTP_HEADER_CACHE_CONTROL,
				stream ? "no-cache" : "no-store");
	MHD_add_response_header(mr, "X-Content-Type-Options", "nosniff");
	if (resp->csp)
		MHD_add_response_header(mr, "Content-Security-Policy",
					resp->csp);
	if (stream)
		MHD_add_response_header(mr, "X-Accel-Buffering", "no");
	if (resp->close)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_CONNECTION,
					"close");
	if (resp->status == 405 && resp->allow[0])
		MHD_add_response_header(mr, MHD_HTTP_HEADER_ALLOW, resp->allow);
	if (resp->status == 401 && !l->is_unix)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					"Bearer realm=\"hyperallocd\"");

	if (resp->status >= 500)
		log_err("http: %s %s %s -> %u", l->desc, method, url,
			resp->status);
	else
		log_debug("http: %s %s %s -> %u", l->desc, method, url,
			  resp->status);
	ret = MHD_queue_response(conn, resp->status, mr);
	MHD_destroy_response(mr);
	return ret;
}

/*
 * What MHD decodes must not change what is addressed: an encoded NUL
 * would cut the path short ("/vms/ID%00junk" addresses ID), an encoded
 * slash would add a segment ("/vms/ID%2Fmemory" addresses the memory).
 * Both are refused, judged on the raw request target MHD gives here
 * before it decodes anything. NULL if the target is fine.
 */
static const char *raw_target_refusal(const char *uri)
{
	size_t path_len = strcspn(uri, "?#");

	for (const char *p = uri; (p = strchr(p, '%')); p++) {
		bool in_path = (size_t)(p - uri) < path_len;

		if (p[1] == '0' && p[2] == '0')
			return "the request target contains an encoded NUL "
			       "(%00)";
		if (in_path && p[1] == '2' && (p[2] == 'f' || p[2] == 'F'))
			return "the path contains an encoded slash (%2F): a "
			       "VM id or path segment cannot contain \"/\"";
	}
	return NULL;
}

/* MHD's URI log callback: the first sight of a request, its raw target.
 * The state it returns is the request's *con_cls. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct http_conn *hc = calloc(1, sizeof(*hc));

	(void)cls;
	(void)conn;
	if (hc && uri)
		hc->bad_path = raw_target_refusal(uri);
	return hc;
}

static enum MHD_Result framing_field(void *cls, enum MHD_ValueKind kind,
				     const char *key, size_t key_size,
				     const char *value, size_t value_size)
{
	(void)kind;
	http_framing_field(cls, key, key_size, value ? value : "",
			   value ? value_size : 0);
	return MHD_YES;
}

/* Answer @ref before the body. MHD reads no more of the request and
 * closes the connection after the answer. */
static enum MHD_Result answer_early(struct http_listener *l,
				    struct http_conn *hc,
				    struct MHD_Connection *conn,
				    const char *method, const char *url,
				    const struct http_refusal *ref)
{
	struct http_response resp;
	struct http_sock *hs = conn_sock(conn);

	memset(&resp, 0, sizeof(resp));
	hc->responded = true;
	if (hs)
		hs->body_pending = false;
	if (http_reply_problem(&resp, (int)ref->status, ref->title, ref->detail,
			       ref->field, ref->value) < 0)
		return MHD_NO;
	resp.close = true;
	return queue(l, conn, method, url, &resp);
}

/* The first call for a request: its head is complete, its body (if any)
 * not read yet. Everything that needs no body is judged here. */
static enum MHD_Result on_head(struct http_listener *l, struct http_conn *hc,
			       struct MHD_Connection *conn, const char *url,
			       const char *method, const char *version)
{
	struct http_framing f = { 0 };
	struct http_refusal ref;
	const char *expect, *ctype;
	bool waits, has_body;

	if (hc->bad_path) {
		memset(&ref, 0, sizeof(ref));
		ref.status = 400;
		ref.title = "Bad Request";
		snprintf(ref.detail, sizeof(ref.detail), "%s", hc->bad_path);
		return answer_early(l, hc, conn, method, url, &ref);
	}
	f.http10 = version && strcmp(version, MHD_HTTP_VERSION_1_0) == 0;
	MHD_get_connection_values_n(conn, MHD_HEADER_KIND, framing_field, &f);
	if (http_framing_refused(&f, &ref))
		return answer_early(l, hc, conn, method, url, &ref);
	hc->has_length = f.has_length;
	hc->length = f.length;
	has_body = (f.has_length && f.length > 0) || f.codings;
	expect = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
					     MHD_HTTP_HEADER_EXPECT);
	waits = expect && strcasecmp(expect, "100-continue") == 0;
	/*
	 * A refused body is read into the void and answered at its end:
	 * MHD closes without lingering, and a client still sending would
	 * get a reset instead of the answer. Answered now if the client
	 * waits for "100 Continue" or announces an absurd size.
	 */
	ctype = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
					    MHD_HTTP_HEADER_CONTENT_TYPE);
	if (has_body && http_method_mutates(method) &&
	    http_content_type_refused(ctype, &ref)) {
		if (waits || (f.has_length && f.length > HTTP_DRAIN_MAX))
			return answer_early(l, hc, conn, method, url, &ref);
		hc->refused = true;
		hc->refusal = ref;
		return MHD_YES;
	}
	if (f.has_length && f.length > max_body(l)) {
		hc->too_large = true;
		if (waits || f.length > HTTP_DRAIN_MAX) {
			struct http_response resp;
			struct http_sock *hs = conn_sock(conn);

			memset(&resp, 0, sizeof(resp));
			hc->responded = true;
			if (hs)
				hs->body_pending = false;
			if (reply_too_large(l, &resp) < 0)
				return MHD_NO;
			return queue(l, conn, method, url, &resp);
		}
	}
	return MHD_YES;
}

/* Has the client ended its side of @conn (EOF waiting on the socket)? */
static bool peer_ended(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
		conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	char c;

	return ci && recv(ci->connect_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

/* ---- answers after the group commit ---- */

static void on_committed(void *userdata, int result)
{
	struct http_conn *hc = userdata;

	hc->committed = true;
	hc->commit_result = result;
	if (!hc->holding)
		return; /* answered within commit_wait: hold() sends it */
	MHD_resume_connection(hc->conn);
	http_listener_kick(hc->l);
}

/* The change is applied but not on disk: say so instead of acking it. */
static void fail_uncommitted(struct http_response *resp)
{
	if (resp->status >= 300)
		return; /* the request failed anyway; that answer stands */
	if (http_reply_problem(resp, 500, "Internal Server Error",
			       "the change is applied but the state file "
			       "could not be written, so it would not "
			       "survive a restart; see the daemon's log",
			       NULL, NULL) < 0) {
		free(resp->body);
		resp->body = NULL;
		resp->status = 500;
		resp->content_type = "text/plain";
	}
}

/*
 * The answer @resp to a change waits for the state file: keep it and
 * suspend the connection until on_committed. false if it cannot wait
 * (no memory): then the commit is made now and @resp goes out at once.
 */
static bool hold(struct http_listener *l, struct http_conn *hc,
		 struct MHD_Connection *conn, struct http_response *resp)
{
	hc->conn = conn;
	hc->l = l;
	hc->committed = false;
	hc->holding = false;
	if (commit_wait(l->srv->d->commit, on_committed, hc) < 0) {
		if (commit_now(l->srv->d->commit) < 0)
			fail_uncommitted(resp);
		return false;
	}
	if (hc->committed) { /* written already (no deferred write) */
		if (hc->commit_result < 0)
			fail_uncommitted(resp);
		return false;
	}
	hc->held = *resp;
	hc->holding = true;
	l->srv->held++;
	MHD_suspend_connection(conn);
	return true;
}

static enum MHD_Result answer_held(struct http_listener *l,
				   struct http_conn *hc,
				   struct MHD_Connection *conn,
				   const char *method, const char *url)
{
	struct http_response resp = hc->held;

	if (!hc->committed)
		return MHD_YES; /* not yet: MHD asks again after the resume */
	hc->holding = false;
	l->srv->held--;
	memset(&hc->held, 0, sizeof(hc->held));
	if (hc->commit_result < 0)
		fail_uncommitted(&resp);
	return queue(l, conn, method, url, &resp);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct http_listener *l = cls;
	struct http_conn *hc = *con_cls;
	struct http_response resp;
	uint64_t limit = max_body(l);
	struct http_sock *hs;
	char *b;

	if (!hc || !hc->started) {
		if (!hc)
			hc = calloc(1, sizeof(*hc));
		if (!hc)
			return MHD_NO;
		*con_cls = hc;
		hc->started = true;
		hs = conn_sock(conn);
		if (hs) {
			hs->in_request = true; /* the head is complete */
			hs->body_pending = true;
		}
		return on_head(l, hc, conn, url, method, version);
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		if (hc->responded)
			return MHD_YES;
		if (hc->refused || hc->too_large || hc->len + n > limit) {
			/* Drop what came and what comes, answer at the
			 * end; give up on a client that keeps going. */
			if (!hc->refused)
				hc->too_large = true;
			hc->dropped += n + hc->len;
			free(hc->body);
			hc->body = NULL;
			hc->len = 0;
			if (hc->dropped > HTTP_DRAIN_MAX)
				return MHD_NO;
		} else {
			b = realloc(hc->body, hc->len + n + 1);
			if (!b)
				return MHD_NO;
			memcpy(b + hc->len, upload_data, n);
			hc->len += n;
			b[hc->len] = '\0';
			hc->body = b;
		}
		/* Short of its length with the client's end behind it, the
		 * body can never be complete; MHD, woken edge-triggered by
		 * both at once, would wait for its idle timeout. */
		if (hc->has_length && hc->len + hc->dropped < hc->length &&
		    peer_ended(conn))
			return MHD_NO;
		return MHD_YES;
	}
	if (hc->responded)
		return MHD_YES;
	if (hc->holding)
		return answer_held(l, hc, conn, method, url);
	hs = conn_sock(conn);
	if (hs)
		hs->body_pending = false;
	memset(&resp, 0, sizeof(resp));
	dispatch(l, hc, conn, url, method, &resp);
	/* A change is answered once it is on disk (a refusal changed
	 * nothing: it goes out at once). */
	if (http_method_mutates(method) && resp.status < 300 &&
	    commit_pending(l->srv->d->commit) && hold(l, hc, conn, &resp))
		return MHD_YES;
	return queue(l, conn, method, url, &resp);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_listener *l = cls;
	struct http_conn *hc = *con_cls;
	struct http_sock *hs = conn_sock(conn);

	(void)toe;
	/* The next request's head must come within the header timeout. */
	if (hs) {
		hs->in_request = false;
		hs->body_pending = false;
		hs->since = http_loop_now(l);
	}
	if (hc) {
		if (hc->holding) {
			if (!hc->committed)
				commit_forget(l->srv->d->commit, hc);
			l->srv->held--;
		}
		free(hc->body);
		free(hc->held.body);
		free(hc);
		*con_cls = NULL;
	}
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct http_listener *l = cls;
	char line[512];
	size_t n;

	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	/* A client that went away is routine, not a warning. Nor is a
	 * unix socket without TCP options: MHD cannot tell it from TCP
	 * when it did not accept it itself, and tries them per answer. */
	if (strstr(line, "no longer available") ||
	    strstr(line, "closed by remote") || strstr(line, "reset by peer") ||
	    strstr(line, "incomplete request") ||
	    (l->is_unix &&
	     (strstr(line, "TCP_NODELAY") || strstr(line, "TCP_CORK") ||
	      strstr(line, "push the data"))))
		log_debug("http: %s: %s", l->desc, line);
	else if (strstr(line, "Error processing request")) {
		/* One of MHD's own answers to a malformed request (after the
		 * first of a connection): any client can ask for one. */
		uint64_t skipped;

		if (http_rate_note_due(l, &l->note_mhd, &skipped))
			log_info("http: %s: %s (%llu such lines not logged)",
				 l->desc, line, (unsigned long long)skipped);
	} else {
		log_warn("http: %s: %s", l->desc, line);
	}
}

/* ---- listeners ---- */

static void listener_free(struct http_listener *l)
{
	if (!l)
		return;
	http_gate_stop(l);
	sd_event_source_disable_unref(l->io);
	sd_event_source_disable_unref(l->timer);
	/* Closes MHD's connections, each through on_connection. */
	if (l->mhd)
		MHD_stop_daemon(l->mhd);
	if (l->fd >= 0)
		close(l->fd);
	if (l->unix_path) {
		unlink(l->unix_path);
		free(l->unix_path);
	}
	free(l);
}

/* Listen on @fd (owned by the listener from here on, also on failure):
 * the gate on it, an MHD daemon behind, both in the loop. */
static int listener_add(struct http_server *s, int fd, bool is_unix,
			bool activated, const char *path)
{
	struct http_listener *l;
	const union MHD_DaemonInfo *info;
	int r;

	if (s->n == HTTP_LISTENERS_MAX) {
		close(fd);
		return -E2BIG;
	}
	l = calloc(1, sizeof(*l));
	if (!l) {
		close(fd);
		return -ENOMEM;
	}
	l->srv = s;
	l->fd = fd;
	l->is_unix = is_unix;
	l->activated = activated;
	if (is_unix) {
		snprintf(l->desc, sizeof(l->desc), "unix %s",
			 path ? path : "(activated)");
	} else {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		char host[INET6_ADDRSTRLEN] = "?";
		unsigned port = 0;

		if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
			if (ss.ss_family == AF_INET) {
				struct sockaddr_in *in = (void *)&ss;

				inet_ntop(AF_INET, &in->sin_addr, host,
					  sizeof(host));
				port = ntohs(in->sin_port);
			} else if (ss.ss_family == AF_INET6) {
				struct sockaddr_in6 *in6 = (void *)&ss;

				inet_ntop(AF_INET6, &in6->sin6_addr, host,
					  sizeof(host));
				port = ntohs(in6->sin6_port);
			}
		}
		snprintf(l->desc, sizeof(l->desc), "tcp %s:%u", host, port);
	}
	/* Only a socket we created is ours to unlink at stop. */
	if (path && !activated) {
		l->unix_path = strdup(path);
		if (!l->unix_path) {
			close(fd);
			unlink(path);
			free(l);
			return -ENOMEM;
		}
	}

	/* accept() in a loop until EAGAIN: a socket systemd passed may
	 * be blocking. */
	r = fcntl(fd, F_GETFL);
	if (r < 0 || fcntl(fd, F_SETFL, r | O_NONBLOCK) < 0) {
		r = -errno;
		log_err("http: %s: cannot make the socket non-blocking: %s",
			l->desc, strerror(-r));
		listener_free(l);
		return r;
	}
	/* The limits per client and per listener are the gate's. */
	l->mhd = MHD_start_daemon(
		MHD_USE_EPOLL | MHD_USE_NO_LISTEN_SOCKET |
			MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG,
		0, NULL, NULL, on_request, l,
		/* first, so that MHD reports everything through it */
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, l,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, l,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, l,
		MHD_OPTION_URI_LOG_CALLBACK, on_uri, l,
		MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned int)http_cfg_idle_timeout_s(l),
		MHD_OPTION_CONNECTION_LIMIT,
		(unsigned int)http_cfg_connections_max(l), MHD_OPTION_END);
	if (!l->mhd) {
		log_err("http: %s: cannot start libmicrohttpd", l->desc);
		listener_free(l);
		return -EIO;
	}
	info = MHD_get_daemon_info(l->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info) {
		r = -EIO;
		goto cleanup;
	}
	r = sd_event_add_io(s->d->loop, &l->io, info->epoll_fd, EPOLLIN,
			    on_mhd_io, l);
	if (r < 0)
		goto cleanup;
	(void)sd_event_source_set_description(l->io, "http-io");
	r = sd_event_add_time(s->d->loop, &l->timer, CLOCK_MONOTONIC, 0, 1000,
			      on_mhd_timer, l);
	if (r < 0)
		goto cleanup;
	(void)sd_event_source_set_description(l->timer, "http-timer");
	r = http_gate_start(l);
	if (r < 0)
		goto cleanup;
	listener_arm(l);
	s->l[s->n++] = l;
	log_info("http: listening on %s%s", l->desc,
		 activated ? " (socket activation)" : "");
	return 0;
cleanup:
	log_err("http: %s: cannot hook into the event loop: %s", l->desc,
		strerror(-r));
	listener_free(l);
	return r;
}

int http_listen_fd_kind(int fd, const char *name)
{
	bool unnamed = !name || !*name || strcmp(name, "unknown") == 0;

	if (!unnamed && strcmp(name, "http") != 0 &&
	    strcmp(name, "http-unix") != 0)
		return HTTP_LISTEN_IGNORE;
	if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0)
		return -ENOTSOCK;
	if (!unnamed)
		return strcmp(name, "http") == 0 ? HTTP_LISTEN_TCP :
						   HTTP_LISTEN_UNIX;
	if (sd_is_socket(fd, AF_UNIX, SOCK_STREAM, 1) > 0)
		return HTTP_LISTEN_UNIX;
	return HTTP_LISTEN_TCP;
}

/* Take the sockets systemd passed for us; say which kinds came. 0 or
 * -errno. */
static int add_activated(struct http_server *s, bool *ret_tcp, bool *ret_unix)
{
	char **names = NULL;
	int n, r = 0;

	/* Keep the environment: other servers (gRPC) look for their own
	 * names in it. */
	n = sd_listen_fds_with_names(0, &names);
	if (n <= 0)
		return n;
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		int kind = http_listen_fd_kind(fd, names ? names[i] : NULL);

		if (kind == HTTP_LISTEN_IGNORE)
			continue;
		if (kind < 0) {
			log_err("http: socket activation fd %d (%s) is not a "
				"listening stream socket",
				fd, names ? names[i] : "unnamed");
			r = kind;
			break;
		}
		r = listener_add(s, fd, kind == HTTP_LISTEN_UNIX, true, NULL);
		if (r < 0)
			break;
		if (kind == HTTP_LISTEN_UNIX)
			*ret_unix = true;
		else
			*ret_tcp = true;
	}
	for (int i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
	return r < 0 ? r : 0;
}

int http_server_start(struct daemon *d, struct http_server **ret)
{
	const struct config *cfg = d->cfg;
	bool have_tcp = false, have_unix = false;
	struct http_server *s;
	int fd, r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->d = d;
	r = sse_hub_new(d, &s->sse);
	if (r < 0) {
		log_err("http: cannot set up event streams: %s", strerror(-r));
		goto cleanup;
	}
	r = add_activated(s, &have_tcp, &have_unix);
	if (r < 0)
		goto cleanup;
	/* What systemd did not pass, we open ourselves. */
	if (!have_tcp && cfg && cfg->api.tcp && *cfg->api.tcp) {
		r = listen_tcp("api.tcp", cfg->api.tcp, &fd);
		if (r < 0)
			goto cleanup;
		r = listener_add(s, fd, false, false, NULL);
		if (r < 0)
			goto cleanup;
	}
	if (!have_unix && cfg && cfg->api.unix_path && *cfg->api.unix_path) {
		r = listen_unix("api.unix", cfg->api.unix_path,
				cfg->api.unix_group, SOCK_STREAM, &fd);
		if (r < 0)
			goto cleanup;
		r = listener_add(s, fd, true, false, cfg->api.unix_path);
		if (r < 0)
			goto cleanup;
	}
	if (s->n == 0) {
		log_err("http: nothing to listen on (api.tcp and "
			"api.unix_path are unset)");
		r = -ENOENT;
		goto cleanup;
	}
	*ret = s;
	return 0;
cleanup:
	http_server_stop(s);
	return r;
}

void http_server_stop(struct http_server *s)
{
	if (!s)
		return;
	s->stopping = true;
	/* Changes waiting for the state file are written and answered;
	 * every stream sends its end, so clients see a clean close rather
	 * than a reset. MHD must not stop with suspended connections. */
	(void)commit_now(s->d->commit);
	sse_hub_close_all(s->sse);
	for (int i = 0;
	     i < STOP_RUNS && (sse_hub_streams(s->sse) > 0 || s->held > 0); i++)
		for (size_t j = 0; j < s->n; j++)
			(void)MHD_run_wait(s->l[j]->mhd, 10);
	for (size_t j = 0; j < s->n; j++)
		listener_free(s->l[j]);
	sse_hub_free(s->sse);
	free(s);
}

uint16_t http_server_tcp_port(const struct http_server *s)
{
	for (size_t i = 0; s && i < s->n; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);

		if (s->l[i]->is_unix ||
		    getsockname(s->l[i]->fd, (struct sockaddr *)&ss, &len) < 0)
			continue;
		if (ss.ss_family == AF_INET)
			return ntohs(((struct sockaddr_in *)&ss)->sin_port);
		if (ss.ss_family == AF_INET6)
			return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	return 0;
}

unsigned http_server_sse_streams(const struct http_server *s)
{
	return s ? (unsigned)sse_hub_streams(s->sse) : 0;
}

void http_server_set_keepalive(struct http_server *s, uint64_t usec)
{
	sse_hub_set_keepalive(s->sse, usec);
}
