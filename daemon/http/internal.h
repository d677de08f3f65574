/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What http/server.c (libmicrohttpd on the loop, requests) and
 * http/gate.c (the listening sockets, the connections until their first
 * request head is judged, limits and timeouts) share. Loop thread only.
 */
#ifndef HA_HTTP_INTERNAL_H
#define HA_HTTP_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "http/head.h"
#include "http/limits.h"

struct MHD_Connection;
struct MHD_Daemon;
struct daemon;
struct sse_hub;

/* A log line that could come once per connection or per accept: said
 * once, then at most every HTTP_NOTE_USEC with the count in between. */
#define HTTP_NOTE_USEC (10ull * 1000 * 1000)

struct rate_note {
	uint64_t last; /* CLOCK_MONOTONIC usec of the last line, 0 = never */
	uint64_t suppressed;
};

/* One accepted socket, from accept() to close: the gate's until its
 * first request head is judged (conn NULL), then MHD's (its socket
 * context). */
struct http_sock {
	struct http_sock *prev, *next;
	struct http_listener *l;
	struct MHD_Connection *conn; /* NULL while the gate has it */
	int fd; /* -1 once MHD has closed it */
	sd_event_source *io; /* the gate's watch, while it has the socket */
	struct sockaddr_storage addr;
	socklen_t addr_len;
	uint64_t since; /* usec: connected, or the last request ended */
	uint64_t active; /* usec: the last new byte the gate saw */
	size_t seen; /* bytes of the first head the gate has seen */
	uint64_t closing; /* usec the gate answered and shut it; 0: not */
	bool in_request; /* head complete, request not yet finished */
	bool body_pending; /* ...and its body not complete yet */
	bool shut; /* shut down by us: refused, too slow, cut short */
	bool has_uid;
	uid_t uid; /* unix peer */
};

struct http_listener {
	struct http_server *srv;
	bool is_unix;
	bool activated; /* fd came from systemd */
	char *unix_path; /* socket file we created (unlinked at stop) */
	int fd; /* the listening socket: ours, not MHD's */
	struct MHD_Daemon *mhd;
	sd_event_source *io, *timer; /* MHD's epoll fd, MHD's timeout */
	bool in_run, kick;
	sd_event_source *accept_io, *accept_timer, *sweep;
	bool at_limit; /* api.connections_max open: accept_io off */
	unsigned backoff_ms; /* accept back-off, 0 = none */
	struct http_sock *socks; /* every open connection */
	unsigned n_socks;
	struct http_sock *adding; /* being handed to MHD right now */
	struct rate_note note_accept, note_client, note_header, note_refused,
		note_mhd;
	char desc[160]; /* "tcp 127.0.0.1:8080", for logs */
	char peek[HTTP_HEAD_MAX]; /* the gate's look at a first head */
};

struct http_server {
	struct daemon *d;
	struct http_listener *l[HTTP_LISTENERS_MAX];
	size_t n;
	struct sse_hub *sse;
	size_t held; /* answers waiting for the group commit */
	bool stopping; /* in http_server_stop: no more timers */
};

/* ---- http/gate.c ---- */

/* Listen on @l->fd: accept, the gate, the sweep of timeouts. 0 or
 * -errno. */
int http_gate_start(struct http_listener *l);

/* Close every connection the gate still has and stop its sources (not
 * the listening fd). Accepts a listener that never started. */
void http_gate_stop(struct http_listener *l);

/* MHD closed @hs's connection (its fd is gone): forget it. */
void http_gate_release(struct http_sock *hs);

/* Shut @hs down (shutdown(2)): MHD sees the end and closes it. */
void http_sock_shut(struct http_sock *hs);

/* Write a whole problem+json answer for @ref on @fd, with "Connection:
 * close", for a request MHD is not answering. 0 or -errno. */
int http_raw_answer(int fd, const struct http_refusal *ref);

uint64_t http_loop_now(const struct http_listener *l);

/* Whether to log now; on yes, *suppressed is how many were skipped. */
bool http_rate_note_due(const struct http_listener *l, struct rate_note *n,
			uint64_t *suppressed);

/* api.* settings with their defaults. */
uint64_t http_cfg_header_timeout_s(const struct http_listener *l);
uint64_t http_cfg_idle_timeout_s(const struct http_listener *l);
unsigned http_cfg_connections_max(const struct http_listener *l);
unsigned http_cfg_per_client(const struct http_listener *l);

/* ---- http/server.c ---- */

/* Have MHD run soon (a connection was added or resumed). */
void http_listener_kick(void *listener);

#endif
