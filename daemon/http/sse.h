/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Server-Sent Events on the event bus (GET /events). One hub per HTTP
 * server subscribes to the bus once and wakes the streams; each stream
 * reads the bus's ring directly from its own position, so a slow client
 * costs no memory beyond one write buffer and a client reconnecting with
 * Last-Event-ID gets what it missed while it is still in the ring.
 *
 * libmicrohttpd runs in the daemon's loop: a stream with nothing to send
 * suspends its connection; an event or the keepalive timer resumes it and
 * calls the kick function it was given, so the server runs MHD promptly.
 * Loop thread only.
 */
#ifndef HA_HTTP_SSE_H
#define HA_HTTP_SSE_H

#include <stddef.h>
#include <stdint.h>

#include "events.h"

struct daemon;
struct sse_hub;
struct MHD_Connection;
struct MHD_Response;

#define SSE_KEEPALIVE_USEC (15ull * 1000000) /* ": keepalive" period */
#define SSE_STREAMS_MAX	   128
#define SSE_RETRY_MS	   3000 /* reconnect delay suggested to clients */

/* Subscribe to @d's bus and arm the keepalive timer on @d's loop.
 * 0, -ENOMEM, -ENOSPC (no bus slot) or an sd-event error. */
int sse_hub_new(struct daemon *d, struct sse_hub **ret);

/* Unsubscribe and free. Streams still open are detached (their
 * connections must be gone or about to be closed). Accepts NULL. */
void sse_hub_free(struct sse_hub *h);

/*
 * A response streaming events to @conn, starting after @last_event_id
 * (the request's Last-Event-ID header, or NULL for new events only).
 * @kick(@kick_userdata) is called whenever the stream resumed its
 * connection. Returns 0 and a response for MHD_queue_response (the
 * caller drops its reference after queueing), -EBUSY when
 * SSE_STREAMS_MAX streams are open, -ENOMEM.
 */
int sse_stream_new(struct sse_hub *h, struct MHD_Connection *conn,
		   const char *last_event_id, void (*kick)(void *),
		   void *kick_userdata, struct MHD_Response **ret);

/* End every stream after what it has pending (server shutdown). New
 * streams are refused afterwards. */
void sse_hub_close_all(struct sse_hub *h);

/* Number of open streams. */
size_t sse_hub_streams(const struct sse_hub *h);

/* Change the keepalive period (tests). */
void sse_hub_set_keepalive(struct sse_hub *h, uint64_t usec);

/* The first sequence number a stream sends, given its Last-Event-ID:
 * new events only without one (or if it is not a number), the next one
 * after it, or from the oldest kept event if it is from the future (the
 * daemon restarted and its numbering with it). Pure. */
uint64_t sse_first_seq(const struct event_bus *bus, const char *last_event_id);

/* "id: N\nevent: TYPE\ndata: JSON\n\n", malloc'd; NULL on ENOMEM. */
char *sse_format_event(const struct event *ev, size_t *ret_len);

#endif
