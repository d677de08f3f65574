/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Listening sockets for the daemon's servers (HTTP, sim guests). */
#ifndef HA_LISTEN_H
#define HA_LISTEN_H

/*
 * Listen on TCP "host:port" ("[v6]:port", ":port" for any address).
 * @what names the setting in log messages. 0 and *ret_fd (non-blocking,
 * close-on-exec), or -errno (logged).
 */
int listen_tcp(const char *what, const char *spec, int *ret_fd);

/*
 * Listen on a unix socket of @type (SOCK_STREAM, SOCK_SEQPACKET) at
 * @path, mode 0660, owned by @group if given. A stale socket file nobody
 * answers on is replaced; one a running process answers on is not.
 * 0 and *ret_fd, or -errno (logged).
 */
int listen_unix(const char *what, const char *path, const char *group, int type,
		int *ret_fd);

#endif
