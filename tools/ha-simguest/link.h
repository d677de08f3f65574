/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The simulated guest's side of the sim protocol (proto/sim_proto.h):
 * one SOCK_SEQPACKET connection to the daemon, shared by every thread.
 *
 * Requests (INSTALL, REPORT) are sent under one mutex; a reader thread
 * receives the replies and hands each to the request with its seq. When
 * the connection is lost, requests wait; the reader reconnects with
 * backoff (100 ms doubling to 2 s), says HELLO again with the same memfd,
 * name and uuid, and the waiting requests are sent again (the daemon
 * rebuilds its state from the shared words, so repeating an install or a
 * report is harmless). Without reconnecting, a lost connection fails every
 * request and link_failed() becomes true.
 */
#ifndef SG_LINK_H
#define SG_LINK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "sim_proto.h"

struct link_req;

struct link {
	char path[108]; /* sun_path */
	int memfd; /* guest RAM, sent with every HELLO; not owned */
	struct sim_hello hello;
	bool reconnect;
	bool initialized; /* between link_open() and link_close() */

	pthread_mutex_t lock; /* everything below, and sending */
	pthread_cond_t cond; /* CLOCK_MONOTONIC; any state change */
	int fd; /* connected socket, -1 while down */
	uint64_t gen; /* connections made so far */
	uint64_t seq; /* last request number */
	struct link_req *pending;
	bool stopping; /* shutting down: no reconnect, waits give up */
	uint64_t stop_deadline_ns;
	bool failed; /* lost and not reconnecting */
	char id[SIM_NAME_MAX]; /* from the last WELCOME */

	int wake_fd; /* eventfd: tells the reader to exit */
	pthread_t reader;
	bool reader_started;
	atomic_uint_fast64_t reconnects;
};

/*
 * Connect to the daemon at @path, send HELLO (@hello's header is filled
 * in here) with @memfd, and wait for WELCOME. While the socket does not
 * exist or refuses connections, retry for up to @connect_timeout_ms.
 * Then start the reader thread.
 * Returns 0; -EPROTO (or the daemon's code) if it answered ERROR, with
 * its message in @err; -ETIMEDOUT if it did not answer; -errno of
 * socket/connect/sendmsg with the reason in @err. On error @l needs no
 * link_close().
 */
int link_open(struct link *l, const char *path, int memfd,
	      const struct sim_hello *hello, bool reconnect,
	      unsigned connect_timeout_ms, char *err, size_t errlen);

/*
 * Ask the host to install huge frame @huge and wait for INSTALLED.
 * Returns the host's status (0 or a negative HA_E* code); -ECANCELED if
 * the link is stopping while disconnected, -ETIMEDOUT if it is stopping
 * and the reply did not come in time, -ENOTCONN if the connection was
 * lost for good.
 */
int link_install(struct link *l, uint64_t huge);

/*
 * Report @count (1..SIM_REPORT_MAX) huge frames held by the caller and
 * wait for REPORTED. Returns the host's status and the number of frames
 * it discarded in *ret_discarded, or an error as for link_install().
 */
int link_report(struct link *l, const uint64_t *huge, uint32_t count,
		uint32_t *ret_discarded);

/* Send STATUS (its header is filled in) without blocking. Returns 0,
 * -ENOTCONN while disconnected, -EAGAIN if the socket is full. */
int link_send_status(struct link *l, struct sim_status *st);

/* Send BYE without blocking; errors as for link_send_status(). */
int link_send_bye(struct link *l);

/*
 * Shutting down: stop reconnecting; requests waiting for a connection
 * return -ECANCELED now, those already sent wait at most @grace_ms more.
 */
void link_begin_stop(struct link *l, unsigned grace_ms);

/* Lost for good (reconnecting disabled)? */
bool link_failed(struct link *l);

/* Stop the reader and close the connection (NULL allowed). */
void link_close(struct link *l);

#endif
