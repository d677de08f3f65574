// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The HTTP listeners' own side of every connection (see http/internal.h):
 * accept(), the limits, the back-off when fds run out, the gate in front
 * of libmicrohttpd, and the timeouts.
 *
 * The listening sockets are ours, not MHD's (MHD_USE_NO_LISTEN_SOCKET).
 * At api.connections_max open connections a listener stops accepting
 * (the kernel's backlog holds the rest) and starts again as soon as one
 * closes, so it can never wedge. A client over api.connections_per_client
 * (per IP address on TCP, per peer uid on the unix socket) is closed at
 * once. accept() failing for want of fds backs off (50 ms doubling to 2
 * s) instead of spinning, and says so at most every 10 s.
 *
 * The gate: libmicrohttpd 0.9.75 answers a malformed request head in
 * HTML, holds a connection whose bytes never form a request line (a TLS
 * handshake) until a timeout, and takes framing two parsers could read
 * differently. So a new connection is not handed to MHD at once: its
 * socket is watched here (edge-triggered) until its first request head
 * is complete, peeked at (MSG_PEEK: nothing is consumed) and judged by
 * http_head_check(). A refused head is answered here with a problem+json
 * object and the connection closed; a good one goes to MHD
 * (MHD_add_connection), which reads the same bytes again. The heads of
 * later requests on a kept-alive connection are MHD's to parse; their
 * framing is checked in the access handler (docs/security.md says what
 * that leaves to MHD).
 *
 * Timeouts, checked by a sweep every second: api.idle_timeout_s without
 * a byte (MHD's own timeout once it has the connection),
 * api.header_timeout_s from the connect, or the end of the previous
 * request, to a complete request head however slowly it trickles in; a
 * request whose body can no longer come (the client shut its side) is
 * cut off rather than held.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "http/internal.h"
#include "http/json.h"
#include "log.h"

#define SWEEP_USEC     (1000ull * 1000) /* timeouts are checked this often */
#define LINGER_USEC    (1000ull * 1000) /* a refused one is read this long */
#define BACKOFF_MIN_MS 50 /* accept back-off after EMFILE/ENFILE... */
#define BACKOFF_MAX_MS 2000 /* ...doubling up to this */
#define ACCEPT_BATCH   64 /* accepts per wakeup, then others get a turn */

uint64_t http_loop_now(const struct http_listener *l)
{
	uint64_t now = 0;

	if (sd_event_now(l->srv->d->loop, CLOCK_MONOTONIC, &now) < 0)
		now = 0;
	return now;
}

bool http_rate_note_due(const struct http_listener *l, struct rate_note *n,
			uint64_t *suppressed)
{
	uint64_t now = http_loop_now(l);

	if (n->last && now - n->last < HTTP_NOTE_USEC) {
		n->suppressed++;
		return false;
	}
	*suppressed = n->suppressed;
	n->suppressed = 0;
	n->last = now ? now : 1;
	return true;
}

static uint64_t cfg_or(uint64_t v, uint64_t dflt)
{
	return v ? v : dflt;
}

uint64_t http_cfg_header_timeout_s(const struct http_listener *l)
{
	const struct config *cfg = l->srv->d->cfg;

	return cfg_or(cfg ? cfg->api.header_timeout_s : 0,
		      HTTP_HEADER_TIMEOUT_S);
}

uint64_t http_cfg_idle_timeout_s(const struct http_listener *l)
{
	const struct config *cfg = l->srv->d->cfg;

	return cfg_or(cfg ? cfg->api.idle_timeout_s : 0, HTTP_IDLE_TIMEOUT_S);
}

unsigned http_cfg_connections_max(const struct http_listener *l)
{
	const struct config *cfg = l->srv->d->cfg;

	return (unsigned)cfg_or(cfg ? cfg->api.connections_max : 0,
				HTTP_CONNECTIONS_MAX);
}

unsigned http_cfg_per_client(const struct http_listener *l)
{
	const struct config *cfg = l->srv->d->cfg;

	return (unsigned)cfg_or(cfg ? cfg->api.connections_per_client : 0,
				HTTP_PER_CLIENT_MAX);
}

/* ---- answers of our own ---- */

int http_raw_answer(int fd, const struct http_refusal *ref)
{
	size_t body_len = 0, len, off = 0;
	char *body, *msg, date[64] = "";
	time_t t = time(NULL);
	struct tm tm;
	int n, r = 0;

	if (gmtime_r(&t, &tm))
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);

	body = json_dump_free(json_problem((int)ref->status, ref->title,
					   ref->detail, ref->field, ref->value),
			      &body_len);
	if (!body)
		return -ENOMEM;
	n = asprintf(&msg,
		     "HTTP/1.1 %u %s\r\n"
		     "Date: %s\r\n"
		     "Content-Type: application/problem+json\r\n"
		     "Content-Length: %zu\r\n"
		     "Connection: close\r\n"
		     "Cache-Control: no-store\r\n"
		     "X-Content-Type-Options: nosniff\r\n"
		     "\r\n%s",
		     ref->status, ref->title, date, body_len, body);
	free(body);
	if (n < 0)
		return -ENOMEM;
	/* A few hundred bytes into an empty socket buffer: all at once. */
	for (len = (size_t)n; off < len;) {
		ssize_t w = send(fd, msg + off, len - off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			r = w < 0 ? -errno : -EIO;
			break;
		}
		off += (size_t)w;
	}
	free(msg);
	return r;
}

/* ---- connections ---- */

static void accept_resume(struct http_listener *l);

static void sock_free(struct http_sock *hs)
{
	struct http_listener *l = hs->l;

	if (hs->prev)
		hs->prev->next = hs->next;
	else
		l->socks = hs->next;
	if (hs->next)
		hs->next->prev = hs->prev;
	l->n_socks--;
	sd_event_source_disable_unref(hs->io);
	if (hs->fd >= 0)
		close(hs->fd);
	free(hs);
	accept_resume(l);
}

void http_gate_release(struct http_sock *hs)
{
	hs->fd = -1; /* MHD closes it */
	sock_free(hs);
}

void http_sock_shut(struct http_sock *hs)
{
	if (hs->shut)
		return;
	hs->shut = true;
	(void)shutdown(hs->fd, SHUT_RDWR);
}

/* Read and drop what a refused client still sends, until its end: a
 * close with unread bytes would send a reset, and the client could lose
 * the answer before reading it. */
static void drain(struct http_sock *hs)
{
	char buf[4096];
	ssize_t n;

	do
		n = recv(hs->fd, buf, sizeof(buf), MSG_DONTWAIT);
	while (n > 0 || (n < 0 && errno == EINTR));
	if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
		sock_free(hs);
}

static const char *sock_peer(const struct http_sock *hs, char *buf, size_t len)
{
	const struct sockaddr_in *in = (const void *)&hs->addr;
	const struct sockaddr_in6 *in6 = (const void *)&hs->addr;
	char a[INET6_ADDRSTRLEN] = "?";

	if (hs->has_uid) {
		snprintf(buf, len, "uid %u", (unsigned)hs->uid);
		return buf;
	}
	if (hs->addr.ss_family == AF_INET)
		inet_ntop(AF_INET, &in->sin_addr, a, sizeof(a));
	else if (hs->addr.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &in6->sin6_addr, a, sizeof(a));
	snprintf(buf, len, "%s", a);
	return buf;
}

/* Answer @ref on a socket the gate has, then let the client read it. */
static void gate_refuse(struct http_sock *hs, const struct http_refusal *ref)
{
	struct http_listener *l = hs->l;
	uint64_t skipped;
	char who[64];

	if (http_rate_note_due(l, &l->note_refused, &skipped))
		log_info("http: %s: %s: refused a request head: %u %s "
			 "(%llu such refusals not logged)",
			 l->desc, sock_peer(hs, who, sizeof(who)), ref->status,
			 ref->detail, (unsigned long long)skipped);
	else
		log_debug("http: %s: %s: refused a request head: %u %s",
			  l->desc, sock_peer(hs, who, sizeof(who)), ref->status,
			  ref->detail);
	if (http_raw_answer(hs->fd, ref) < 0) {
		sock_free(hs);
		return;
	}
	(void)shutdown(hs->fd, SHUT_WR);
	hs->closing = http_loop_now(l) ? http_loop_now(l) : 1;
	drain(hs);
}

/* The head is fine: give the connection to MHD, which reads it again. */
static void gate_pass(struct http_sock *hs)
{
	struct http_listener *l = hs->l;
	enum MHD_Result ok;
	uint64_t skipped;

	hs->io = sd_event_source_disable_unref(hs->io);
	l->adding = hs;
	ok = MHD_add_connection(l->mhd, hs->fd, (struct sockaddr *)&hs->addr,
				hs->addr_len);
	if (l->adding == hs) {
		/* MHD never started it, and has closed the fd. */
		l->adding = NULL;
		hs->fd = -1;
		sock_free(hs);
	}
	if (ok != MHD_YES && http_rate_note_due(l, &l->note_accept, &skipped))
		log_warn("http: %s: libmicrohttpd did not take a connection: "
			 "%s (%llu such lines not logged)",
			 l->desc, strerror(errno), (unsigned long long)skipped);
	http_listener_kick(l);
}

static int on_gate(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct http_sock *hs = userdata;
	struct http_listener *l = hs->l;
	struct http_refusal ref;
	enum http_head_verdict v;
	ssize_t n;

	(void)s;
	if (hs->closing) {
		drain(hs);
		return 0;
	}
	n = recv(fd, l->peek, sizeof(l->peek), MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 &&
	    (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	if (n <= 0) {
		/* Gone before a request: nothing to answer. */
		sock_free(hs);
		return 0;
	}
	if ((size_t)n != hs->seen) {
		hs->seen = (size_t)n;
		hs->active = http_loop_now(l);
	}
	v = http_head_check(l->peek, (size_t)n, &ref);
	if (v == HTTP_HEAD_MORE && (revents & (EPOLLRDHUP | EPOLLHUP))) {
		memset(&ref, 0, sizeof(ref));
		ref.status = 400;
		ref.title = "Bad Request";
		snprintf(ref.detail, sizeof(ref.detail),
			 "the client ended its side after %zd bytes, before "
			 "the request head was complete",
			 n);
		v = HTTP_HEAD_REFUSED;
	}
	if (v == HTTP_HEAD_REFUSED)
		gate_refuse(hs, &ref);
	else if (v == HTTP_HEAD_OK)
		gate_pass(hs);
	return 0;
}

static bool same_client(const struct http_sock *a, const struct http_sock *b)
{
	const struct sockaddr_in *a4 = (const void *)&a->addr,
				 *b4 = (const void *)&b->addr;
	const struct sockaddr_in6 *a6 = (const void *)&a->addr,
				  *b6 = (const void *)&b->addr;

	if (a->has_uid || b->has_uid)
		return a->has_uid && b->has_uid && a->uid == b->uid;
	if (a->addr.ss_family != b->addr.ss_family)
		return false;
	if (a->addr.ss_family == AF_INET)
		return a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	if (a->addr.ss_family == AF_INET6)
		return memcmp(&a6->sin6_addr, &b6->sin6_addr,
			      sizeof(a6->sin6_addr)) == 0;
	return false;
}

/* Is @hs's client over its share (itself not counted)? */
static bool over_share(struct http_listener *l, struct http_sock *hs,
		       unsigned *ret_same)
{
	unsigned same = 0;

	for (struct http_sock *o = l->socks; o; o = o->next)
		if (o != hs && !o->shut && same_client(o, hs))
			same++;
	*ret_same = same;
	return same >= http_cfg_per_client(l);
}

static void sock_new(struct http_listener *l, int fd,
		     const struct sockaddr_storage *ss, socklen_t len)
{
	struct http_sock *hs = calloc(1, sizeof(*hs));
	uint64_t skipped;
	unsigned same;
	char who[64];
	int r;

	if (!hs) {
		close(fd);
		return;
	}
	hs->l = l;
	hs->fd = fd;
	memcpy(&hs->addr, ss, len);
	hs->addr_len = len;
	hs->since = hs->active = http_loop_now(l);
	hs->next = l->socks;
	if (l->socks)
		l->socks->prev = hs;
	l->socks = hs;
	l->n_socks++;
	if (l->is_unix) {
		struct ucred cred;
		socklen_t clen = sizeof(cred);

		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) ==
		    0) {
			hs->has_uid = true;
			hs->uid = cred.uid;
		}
	}
	if (over_share(l, hs, &same)) {
		if (http_rate_note_due(l, &l->note_client, &skipped))
			log_warn("http: %s: %s has %u connections "
				 "(api.connections_per_client), refusing more "
				 "(%llu refusals not logged)",
				 l->desc, sock_peer(hs, who, sizeof(who)), same,
				 (unsigned long long)skipped);
		sock_free(hs);
		return;
	}
	/* Edge-triggered: the gate peeks without reading, so the socket
	 * stays readable; only new bytes are news. Bytes that are there
	 * already are reported when it is added. */
	r = sd_event_add_io(l->srv->d->loop, &hs->io, fd,
			    EPOLLIN | EPOLLRDHUP | EPOLLET, on_gate, hs);
	if (r < 0) {
		log_warn("http: %s: cannot watch a connection: %s", l->desc,
			 strerror(-r));
		sock_free(hs);
		return;
	}
	(void)sd_event_source_set_description(hs->io, "http-gate");
}

/* ---- accepting ---- */

static void accept_backoff(struct http_listener *l, int err)
{
	uint64_t skipped, now = http_loop_now(l);

	l->backoff_ms = l->backoff_ms ? l->backoff_ms * 2 : BACKOFF_MIN_MS;
	if (l->backoff_ms > BACKOFF_MAX_MS)
		l->backoff_ms = BACKOFF_MAX_MS;
	(void)sd_event_source_set_enabled(l->accept_io, SD_EVENT_OFF);
	(void)sd_event_source_set_time(l->accept_timer,
				       now + l->backoff_ms * 1000ull);
	(void)sd_event_source_set_enabled(l->accept_timer, SD_EVENT_ONESHOT);
	if (http_rate_note_due(l, &l->note_accept, &skipped))
		log_warn("http: %s: cannot accept: %s (backing off; %llu such "
			 "lines not logged)",
			 l->desc, strerror(err), (unsigned long long)skipped);
}

/* A connection closed, or a back-off ended: accept again if allowed. */
static void accept_resume(struct http_listener *l)
{
	if (l->srv->stopping || !l->accept_io)
		return;
	if (l->at_limit && l->n_socks < http_cfg_connections_max(l))
		l->at_limit = false;
	if (!l->at_limit && !sd_event_source_get_enabled(l->accept_timer, NULL))
		(void)sd_event_source_set_enabled(l->accept_io, SD_EVENT_ON);
}

static int on_accept_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	(void)s;
	(void)usec;
	accept_resume(userdata);
	return 0;
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents,
		     void *userdata)
{
	struct http_listener *l = userdata;

	(void)s;
	(void)revents;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int c;

		if (l->n_socks >= http_cfg_connections_max(l)) {
			/* Until one closes (accept_resume). */
			l->at_limit = true;
			(void)sd_event_source_set_enabled(l->accept_io,
							  SD_EVENT_OFF);
			return 0;
		}
		memset(&ss, 0, sizeof(ss));
		c = accept4(fd, (struct sockaddr *)&ss, &len,
			    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EPROTO)
				continue;
			/* EMFILE, ENFILE, ENOBUFS, ENOMEM, or worse: the
			 * socket stays readable; do not spin on it. */
			accept_backoff(l, errno);
			return 0;
		}
		l->backoff_ms = 0;
		sock_new(l, c, &ss, len);
	}
	return 0;
}

/* ---- timeouts ---- */

/* An idle or overdue connection of the gate's: silence if it sent
 * nothing, else a 408. */
static void gate_timeout(struct http_sock *hs, const char *setting,
			 uint64_t seconds, bool whole_head)
{
	struct http_refusal ref = { .status = 408, .title = "Request Timeout" };

	if (!hs->seen) {
		sock_free(hs);
		return;
	}
	snprintf(ref.detail, sizeof(ref.detail),
		 whole_head ? "the request head did not come within %llu s "
			      "(%s)" :
			      "no byte of the request head for %llu s (%s)",
		 (unsigned long long)seconds, setting);
	gate_refuse(hs, &ref);
}

/* Has the client of @hs ended its side (EOF waiting on the socket)? */
static bool peer_ended(const struct http_sock *hs)
{
	char c;

	return recv(hs->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

static int on_sweep(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct http_listener *l = userdata;
	uint64_t head_s = http_cfg_header_timeout_s(l);
	uint64_t idle_s = http_cfg_idle_timeout_s(l);
	uint64_t head = head_s * 1000000ull, idle = idle_s * 1000000ull;
	unsigned n = 0, cut = 0;
	struct http_sock *hs, *next;
	uint64_t skipped;

	(void)usec;
	/* @usec is when the sweep was due, which can be before a
	 * connection accepted in this same iteration: compare with now. */
	uint64_t now = http_loop_now(l);

	for (hs = l->socks; hs; hs = next) {
		next = hs->next;
		if (hs->shut || now < hs->since)
			continue;
		if (!hs->conn) {
			if (hs->closing) {
				if (now - hs->closing >= LINGER_USEC)
					sock_free(hs);
			} else if (now - hs->since >= head) {
				n++;
				gate_timeout(hs, "api.header_timeout_s", head_s,
					     true);
			} else if (now >= hs->active &&
				   now - hs->active >= idle) {
				gate_timeout(hs, "api.idle_timeout_s", idle_s,
					     false);
			}
			continue;
		}
		if (!hs->in_request && now - hs->since >= head) {
			http_sock_shut(hs);
			n++;
		} else if (hs->in_request && hs->body_pending &&
			   peer_ended(hs)) {
			/* The body can never be complete: MHD, woken
			 * edge-triggered by bytes and end together, would
			 * wait for its idle timeout. */
			http_sock_shut(hs);
			cut++;
		}
	}
	if (n && http_rate_note_due(l, &l->note_header, &skipped))
		log_info("http: %s: closed %u connections without a request "
			 "head within %llu s (api.header_timeout_s; %llu such "
			 "sweeps not logged)",
			 l->desc, n, (unsigned long long)head_s,
			 (unsigned long long)skipped);
	if (cut)
		log_debug("http: %s: closed %u connections whose client ended "
			  "before the request body",
			  l->desc, cut);
	if (n || cut)
		http_listener_kick(l);
	(void)sd_event_source_set_time(s, now + SWEEP_USEC);
	return 0;
}

/* ---- start, stop ---- */

int http_gate_start(struct http_listener *l)
{
	sd_event *loop = l->srv->d->loop;
	uint64_t now;
	int r;

	r = sd_event_add_io(loop, &l->accept_io, l->fd, EPOLLIN, on_accept, l);
	if (r < 0)
		return r;
	(void)sd_event_source_set_description(l->accept_io, "http-accept");
	r = sd_event_add_time(loop, &l->accept_timer, CLOCK_MONOTONIC, 0, 1000,
			      on_accept_timer, l);
	if (r < 0)
		return r;
	(void)sd_event_source_set_enabled(l->accept_timer, SD_EVENT_OFF);
	(void)sd_event_source_set_description(l->accept_timer,
					      "http-accept-backoff");
	r = sd_event_now(loop, CLOCK_MONOTONIC, &now);
	if (r < 0)
		return r;
	r = sd_event_add_time(loop, &l->sweep, CLOCK_MONOTONIC,
			      now + SWEEP_USEC, 100 * 1000, on_sweep, l);
	if (r < 0)
		return r;
	(void)sd_event_source_set_description(l->sweep, "http-sweep");
	return sd_event_source_set_enabled(l->sweep, SD_EVENT_ON);
}

void http_gate_stop(struct http_listener *l)
{
	struct http_sock *hs, *next;

	l->accept_io = sd_event_source_disable_unref(l->accept_io);
	l->accept_timer = sd_event_source_disable_unref(l->accept_timer);
	l->sweep = sd_event_source_disable_unref(l->sweep);
	for (hs = l->socks; hs; hs = next) {
		next = hs->next;
		if (!hs->conn)
			sock_free(hs);
	}
}
