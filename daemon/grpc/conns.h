/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The connections a gRPC listener handed to gRPC core, for its limits
 * (grpc.connections_max, grpc.connections_per_client).
 *
 * After grpc_server_add_channel_from_fd() gRPC core owns the fd and
 * closes it when the connection ends, on its own threads and without
 * telling us. So each connection is remembered by its fd and the inode
 * fstat() gave at hand-over: it is live while fstat() of that fd still
 * gives the same device and inode. A closed fd gives EBADF, and an fd
 * number used again holds another inode (a socket's inode is unique
 * while the socket exists).
 *
 * A leaf: includes nothing of ours.
 */
#ifndef HA_GRPC_CONNS_H
#define HA_GRPC_CONNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Who a connection is from: an IP address on TCP, a peer uid on a unix
 * socket (where every peer has the same address). */
struct grpcd_client {
	bool is_uid;
	uid_t uid;
	sa_family_t family; /* AF_INET, AF_INET6; 0: unknown */
	uint8_t addr[16]; /* the first 4 bytes for AF_INET */
};

struct grpcd_conn {
	int fd;
	dev_t dev;
	ino_t ino;
	struct grpcd_client client;
};

/* Zero-initialised: empty. */
struct grpcd_conns {
	struct grpcd_conn *v;
	size_t n, cap;
};

enum grpcd_admit {
	GRPCD_ADMIT_OK,
	GRPCD_ADMIT_OVER_MAX, /* the listener has @max connections */
	GRPCD_ADMIT_OVER_CLIENT, /* the client has @per_client of them */
};

/* The client of a peer address (AF_INET, AF_INET6; any other family is
 * one client of its own, "unknown"). */
void grpcd_client_from_addr(const struct sockaddr_storage *ss,
			    struct grpcd_client *ret);
/* The client of a unix peer by its uid. */
void grpcd_client_from_uid(uid_t uid, struct grpcd_client *ret);
bool grpcd_client_equal(const struct grpcd_client *a,
			const struct grpcd_client *b);
/* "127.0.0.1", "::1", "uid 1000", for logs, into @buf of @len bytes.
 * Returns @buf. */
const char *grpcd_client_desc(const struct grpcd_client *c, char *buf,
			      size_t len);

/* Forget every connection whose fd no longer holds the inode it had.
 * Returns how many were forgotten. */
size_t grpcd_conns_prune(struct grpcd_conns *t);

/*
 * May a new connection of @c join @t (itself not in @t yet)? Pure: the
 * caller prunes first. *ret_same gets how many connections of @c @t
 * holds. GRPCD_ADMIT_OVER_MAX when @t holds @max or more, else
 * GRPCD_ADMIT_OVER_CLIENT when @c has @per_client or more, else
 * GRPCD_ADMIT_OK.
 */
enum grpcd_admit grpcd_conns_judge(const struct grpcd_conns *t,
				   const struct grpcd_client *c, size_t max,
				   size_t per_client, size_t *ret_same);

/* Remember connection @fd of @c, with its inode now (call it before the
 * fd is handed over). 0, the -errno of fstat(), or -ENOMEM. */
int grpcd_conns_add(struct grpcd_conns *t, int fd,
		    const struct grpcd_client *c);

/* Forget everything and free the table (the fds are not touched). */
void grpcd_conns_clear(struct grpcd_conns *t);

#endif
