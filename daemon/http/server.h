/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The HTTP/JSON API server (docs/api.md): listeners, libmicrohttpd in the
 * daemon's sd-event loop, request bodies, routing, transport credentials.
 *
 * One MHD daemon per listening socket, each in external-epoll mode: its
 * epoll fd is an sd-event io source that calls MHD_run(), and a timer is
 * re-armed from MHD_get_timeout() after every run. No thread of MHD's
 * own; every callback runs on the loop thread. Loop thread only.
 */
#ifndef HA_HTTP_SERVER_H
#define HA_HTTP_SERVER_H

#include <stdint.h>

#include "http/limits.h"

struct daemon;
struct http_server;

/*
 * Start serving @d's API on d->loop. Sockets passed by systemd socket
 * activation are used when there are any for us (LISTEN_FDNAMES "http"
 * is the TCP listener, "http-unix" the unix one; an unnamed fd is unix if
 * it is AF_UNIX, TCP otherwise; fds with other names are left alone for
 * other servers). A kind of listener systemd did not pass is opened from
 * the configuration: d->cfg->api.tcp ("host:port", "[v6]:port", ":port")
 * and d->cfg->api.unix_path (a stale socket file is replaced; mode 0660,
 * group api.unix_group if set).
 * Returns 0 and *ret, or -errno after logging what failed: -EINVAL (bad
 * address, unknown group), -EADDRINUSE (a live daemon owns the unix
 * socket), -EEXIST (the unix path is not a socket), -ENOENT (nothing to
 * listen on), or a socket error.
 */
int http_server_start(struct daemon *d, struct http_server **ret);

/* End SSE streams (each gets the end of its chunked body), close every
 * connection and listener, remove the unix socket file we created, free.
 * Runs MHD for at most 0.5 s per listener to flush the streams. Accepts
 * NULL. */
void http_server_stop(struct http_server *s);

/* The port of the first TCP listener (to find an ephemeral port), or 0. */
uint16_t http_server_tcp_port(const struct http_server *s);

/* Number of open SSE streams (metrics, tests). */
unsigned http_server_sse_streams(const struct http_server *s);

/* Change the SSE keepalive period (tests). */
void http_server_set_keepalive(struct http_server *s, uint64_t usec);

enum http_listen_kind {
	HTTP_LISTEN_IGNORE = 0, /* not ours (another server's name) */
	HTTP_LISTEN_TCP,
	HTTP_LISTEN_UNIX,
};

/* How socket activation fd @fd named @name (NULL or "unknown" when
 * unnamed) is used. -ENOTSOCK if @fd is not a listening stream socket. */
int http_listen_fd_kind(int fd, const char *name);

#endif
