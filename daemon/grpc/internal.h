/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Internals of the gRPC server shared by grpc/server.c (lifecycle,
 * completion queue pump, listeners, shutdown), grpc/calls.c (the state
 * machine of one call, WatchEvents streams) and grpc/methods.c (the method
 * table and unary handlers). Not for other modules: they use
 * grpc/server.h.
 *
 * Everything here belongs to the loop thread, except the members marked
 * "pump" which the pump thread touches under @lock.
 */
#ifndef HA_GRPC_INTERNAL_H
#define HA_GRPC_INTERNAL_H

#include <grpc/grpc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "ctl.h"
#include "grpc/conns.h"
#include "grpc/map.h"
#include "ratelimit.h"

struct daemon;

/* Which gRPC core server a call came in on; it decides how the caller
 * is authenticated. */
enum grpcd_origin {
	GRPCD_TOKEN = 0, /* TCP, and unix peers not trusted by credentials:
			  * "authorization: Bearer <token>" metadata */
	GRPCD_PEER, /* unix peers trusted by SO_PEERCRED at accept */
	GRPCD_ORIGINS,
};

#define GRPCD_REQUESTS	  8 /* request_call posted per server at any time */
#define GRPCD_STREAMS_MAX 64 /* WatchEvents streams open at once */
#define GRPCD_PEER_FDS	  1024 /* peers described per connection fd (logs) */
#define GRPCD_PEER_LEN	  56 /* "tcp [v6 address]:port", "unix uid N" */
#define GRPCD_SERVICE_LEN 128 /* a service name asked about, NUL included */
/* Defaults of grpc.connections_max and grpc.connections_per_client. */
#define GRPCD_CONNECTIONS_MAX 256 /* per listener */
#define GRPCD_PER_CLIENT_MAX  32 /* per IP address (TCP), per uid (unix) */
#define GRPCD_NOTE_USEC	      (10ull * 1000 * 1000) /* a refusal's log line */

enum grpcd_tag_kind {
	GRPCD_TAG_OPS, /* the call's one batch in flight completed */
	GRPCD_TAG_CLOSE, /* RECV_CLOSE_ON_SERVER: the call is over */
	GRPCD_TAG_SHUTDOWN, /* a server finished shutting down */
};

/* What the completion queue hands back. */
struct grpcd_tag {
	enum grpcd_tag_kind kind;
	struct grpcd_call *call; /* OPS, CLOSE */
	enum grpcd_origin origin; /* SHUTDOWN */
};

enum grpcd_phase {
	GRPCD_REQUESTED, /* waiting in grpc_server_request_call */
	GRPCD_READING, /* initial metadata out, request message in */
	GRPCD_STREAMING, /* WatchEvents, Health.Watch: sending */
	GRPCD_EXCHANGING, /* bidi: an answer out, the next request in */
	GRPCD_FINISHING, /* status (and answer) out */
};

struct grpcd_method;

struct grpcd_call {
	struct grpcd *g;
	enum grpcd_origin origin;
	enum grpcd_phase phase;
	const struct grpcd_method *method;

	grpc_call *call;
	grpc_call_details details;
	grpc_metadata_array md;
	grpc_byte_buffer *recv, *send;
	int cancelled; /* RECV_CLOSE_ON_SERVER output */
	grpc_slice status_msg;
	grpc_metadata trailer[2]; /* hyperalloc-field, hyperalloc-value */
	size_t n_trailer;
	bool has_status_msg;
	bool md_sent; /* SEND_INITIAL_METADATA started */

	struct grpcd_tag ops_tag, close_tag;
	bool ops_busy; /* a batch other than close is in flight */
	bool close_busy; /* its own RECV_CLOSE_ON_SERVER batch is in flight */
	bool close_started; /* RECV_CLOSE_ON_SERVER asked for, in any batch */

	/* WatchEvents and Health.Watch */
	bool stream; /* counted in g->n_streams */
	uint64_t next_seq; /* next event to send */
	bool ending; /* daemon stopping: flush, then UNAVAILABLE */
	int health_sent; /* status last sent, -1 before the first */
	char health_service[GRPCD_SERVICE_LEN];

	struct grpcd_call *prev, *next; /* in g->calls */
};

struct grpcd {
	struct daemon *d;
	grpc_completion_queue *cq;
	grpc_server *srv[GRPCD_ORIGINS];
	bool srv_started[GRPCD_ORIGINS];
	struct grpcd_tag shutdown_tag[GRPCD_ORIGINS];
	bool shutdown_done[GRPCD_ORIGINS];
	bool grpc_inited;

	/* The pump thread moves completions to @queue and wakes the loop
	 * through @efd. */
	pthread_t pump;
	bool pump_started;
	pthread_mutex_t lock;
	struct grpcd_completion *queue; /* pump; under @lock */
	size_t n_queue, cap_queue; /* pump; under @lock */
	bool wake_pending; /* pump; under @lock */
	struct grpcd_completion *spare; /* the loop's array */
	size_t cap_spare;
	int efd;
	sd_event_source *efd_src;

	/* Listeners: connections are accepted here and handed to gRPC
	 * core; @peer describes each by its fd, for logs. */
	struct grpcd_listener {
		struct grpcd *g;
		int fd;
		bool is_unix;
		char desc[160]; /* "tcp 127.0.0.1:8081", for logs */
		sd_event_source *src;
		/* accept() lacked fds: off until this timer */
		sd_event_source *backoff;
		unsigned backoff_ms;
		uint64_t note_usec, note_skipped; /* its log line */
		/* The connections handed over, and their limits (read at
		 * start); over one a connection is closed at once. */
		struct grpcd_conns conns;
		size_t connections_max, per_client;
		struct ratelimit note_max, note_client; /* refusals */
	} listeners[2];
	size_t n_listeners;
	char *unix_path; /* the socket file we created */
	char peer[GRPCD_PEER_FDS][GRPCD_PEER_LEN];

	struct grpcd_call *calls;
	size_t n_calls, n_streams;
	int sub; /* event bus subscription, -1 if none */
	bool stopping;
};

struct grpcd_completion {
	void *tag;
	bool ok;
};

/* A unary handler: map the request to ctl calls and the result to the
 * answer. 0 and *resp, or -errno with *err set (an err left at ERROR_OK
 * means INTERNAL). */
typedef int (*grpcd_unary_fn)(struct daemon *d, const struct ctl_caller *caller,
			      const uint8_t *req, size_t len,
			      struct grpcd_buf *resp, struct error *err);

/* A streaming request handler: one answer message per request message
 * (server reflection). 0 and *resp, or -errno with *err set as above;
 * an error ends the call with its status. */
typedef int (*grpcd_each_fn)(struct daemon *d, const uint8_t *req, size_t len,
			     struct grpcd_buf *resp, struct error *err);

enum grpcd_kind {
	GRPCD_UNARY, /* one request, one answer: .unary */
	GRPCD_EVENTS, /* WatchEvents: the event bus, until the client goes */
	GRPCD_HEALTH_WATCH, /* Health.Watch: the status, then each change */
	GRPCD_BIDI, /* requests and answers in turn: .each */
};

struct grpcd_method {
	const char *path; /* "/hyperalloc.v1.HyperAlloc/ListVMs" */
	enum grpcd_kind kind;
	grpcd_unary_fn unary;
	grpcd_each_fn each;
};

/* grpc/methods.c: the method named by @path (@len bytes), or NULL. */
const struct grpcd_method *grpcd_method_find(const char *path, size_t len);
/* Does the server serve a method of @service ("hyperalloc.v1.HyperAlloc")? */
bool grpcd_service_served(const char *service);
/* "" (the daemon as a whole), then the name of each service served, into
 * @names (at most @max). Returns how many. */
size_t grpcd_services(char (*names)[GRPCD_SERVICE_LEN], size_t max);

/* grpc/health.c: the standard health service (grpc.health.v1.Health). */

/* Check: SERVING, NOT_SERVING while the daemon stops, NOT_FOUND for a
 * service it does not serve. */
int grpcd_health_check(struct daemon *d, const struct ctl_caller *caller,
		       const uint8_t *req, size_t len, struct grpcd_buf *resp,
		       struct error *err);
/* List: every service of grpcd_services with its status. */
int grpcd_health_list(struct daemon *d, const struct ctl_caller *caller,
		      const uint8_t *req, size_t len, struct grpcd_buf *resp,
		      struct error *err);
/* Watch's request: the service asked for into @service (at least
 * GRPCD_SERVICE_LEN bytes). 0, or -EINVAL with *err. */
int grpcd_health_parse(const uint8_t *req, size_t len, char *service,
		       struct error *err);
/* The status of @service now (a HealthCheckResponse.ServingStatus:
 * SERVICE_UNKNOWN for one not served), NOT_SERVING once @stopping. */
int grpcd_health_status(const struct daemon *d, const char *service,
			bool stopping);
/* A HealthCheckResponse with @status. 0 or -ENOMEM. */
int grpcd_health_pack(int status, struct grpcd_buf *resp);

/* grpc/reflection.c: server reflection, v1 and v1alpha (the same
 * messages). One ServerReflectionResponse per request, from the
 * descriptors of proto/ embedded at build time. */
int grpcd_reflection_info(struct daemon *d, const uint8_t *req, size_t len,
			  struct grpcd_buf *resp, struct error *err);

/* grpc/calls.c */

/* Post one grpc_server_request_call on @o's server. 0, -ENOMEM, -EIO. */
int grpcd_request(struct grpcd *g, enum grpcd_origin o);
/* A completion of @t's call. */
void grpcd_call_done(struct grpcd_tag *t, bool ok);
/* An event was published: wake idle streams. */
void grpcd_streams_wake(struct grpcd *g);
/* Daemon stopping: each stream sends what it owes, then UNAVAILABLE. */
void grpcd_streams_end(struct grpcd *g);

/* grpc/server.c: who is on connection fd @fd ("tcp 127.0.0.1:4000",
 * "unix uid 0"), or NULL. */
const char *grpcd_peer_desc(const struct grpcd *g, int fd);

#endif
