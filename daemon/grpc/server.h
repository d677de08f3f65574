/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The gRPC API server (proto/hyperalloc.proto, docs/api.md "gRPC"): gRPC
 * core (the C library) for transport, protobuf-c for messages, every
 * request carried out by the ctl_* calls behind the HTTP API too.
 *
 * Threads: gRPC core runs its own threads, and I/O only makes progress
 * while someone waits on the completion queue. A pump thread does that
 * and nothing else: it moves each completion (tag, ok) into a queue under
 * a mutex and wakes the loop through an eventfd. The loop thread drains
 * the queue and runs every call's state machine, so daemon state is only
 * ever touched by the loop; the loop never blocks on gRPC.
 *
 * Callers: the daemon accepts every connection itself (on sockets made
 * by listen.c) and hands it to one of two gRPC core servers with
 * grpc_server_add_channel_from_fd(). Unix peers whose SO_PEERCRED is
 * trusted (root, the daemon's user, api.unix_group) go to the server
 * whose calls may change settings; everyone else, TCP clients included,
 * to the one that wants "authorization: Bearer <token>" metadata (the
 * HTTP API's token). Trust is bound to the connection when it is
 * accepted, never looked up per call. A connection over the listener's
 * grpc.connections_max, or over grpc.connections_per_client of its
 * client, is closed at once instead (grpc/conns.h).
 *
 * Symbols are prefixed grpcd_: grpc_ is gRPC core's namespace (it has
 * its own grpc_server_start). daemon.h's `struct grpcd *grpc` is
 * private to this module.
 */
#ifndef HA_GRPC_SERVER_H
#define HA_GRPC_SERVER_H

struct daemon;
struct grpcd;

/*
 * Serve the gRPC API for @d: TCP on d->cfg->grpc.tcp ("host:port",
 * "[v6]:port", ":port" for every address) and the unix socket
 * d->cfg->grpc.unix_path (mode 0660, group api.unix_group if set; see
 * listen_unix() for stale files); either may be NULL, both NULL disables
 * gRPC (0 and *ret NULL). Returns 0 and *ret, or -errno after logging
 * what failed: the errors of listen_tcp() and listen_unix() (-EADDRINUSE,
 * -EINVAL, ...), -ENOMEM, or an sd-event or thread error.
 */
int grpcd_start(struct daemon *d, struct grpcd **ret);

/*
 * Stop: refuse new connections, let each WatchEvents stream send the
 * events it still owes and end with status UNAVAILABLE ("hyperallocd is
 * shutting down"), finish the calls in flight (for at most 1 s, then
 * cancel them), stop gRPC core and free everything. Runs on the loop
 * thread after the loop has exited; accepts NULL.
 */
void grpcd_stop(struct grpcd *g);

#endif
