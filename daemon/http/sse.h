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

#include <stdbool.h>
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
#define SSE_SAMPLE_USEC	   (1000000ull) /* samples frames, when asked for */

/* Subscribe to @d's bus and arm the keepalive timer on @d's loop.
 * 0, -ENOMEM, -ENOSPC (no bus slot) or an sd-event error. */
int sse_hub_new(struct daemon *d, struct sse_hub **ret);

/* Unsubscribe and free. Streams still open are detached (their
 * connections must be gone or about to be closed). Accepts NULL. */
void sse_hub_free(struct sse_hub *h);

/*
 * A response streaming events to @conn, starting after @last_event_id
 * (the request's Last-Event-ID header, or NULL for new events only),
 * and with @samples a "samples" frame every SSE_SAMPLE_USEC besides: the
 * host and every VM's memory now (sse_format_samples). Samples have no id
 * and are not kept: a client that reconnects gets the next one.
 * @kick(@kick_userdata) is called whenever the stream resumed its
 * connection. Returns 0 and a response for MHD_queue_response (the
 * caller drops its reference after queueing), -EBUSY when
 * SSE_STREAMS_MAX streams are open, -ENOMEM.
 */
int sse_stream_new(struct sse_hub *h, struct MHD_Connection *conn,
		   const char *last_event_id, bool samples,
		   void (*kick)(void *), void *kick_userdata,
		   struct MHD_Response **ret);

/* End every stream after what it has pending (server shutdown). New
 * streams are refused afterwards. */
void sse_hub_close_all(struct sse_hub *h);

/* Number of open streams. */
size_t sse_hub_streams(const struct sse_hub *h);

/* Change the keepalive period (tests). */
void sse_hub_set_keepalive(struct sse_hub *h, uint64_t usec);

/*
 * The first sequence number a stream sends, given its Last-Event-ID (an
 * id this daemon sent, "<run>-<seq>"):
 *   - none, or not an id: new events only;
 *   - an id of this run: the events after it;
 *   - an id of another run (the daemon restarted since): every event of
 *     this run still in the ring, so that a client resuming across a
 *     restart loses none of the new run's first events;
 *   - a bare number (the ids of earlier versions): the events after it,
 *     or all that are kept if it is from the future.
 * Pure.
 */
uint64_t sse_first_seq(const struct event_bus *bus, const char *last_event_id);

/* "event: samples\ndata: {"type":"samples","time":...,"host":{GET /host},
 * "vms":[{"id":...,"mechanism":...,"state":...,"memory":{GET
 * /vms/{id}/memory}}]}\n\n" of
 * @d now, malloc'd; NULL on ENOMEM. */
char *sse_format_samples(struct daemon *d, size_t *ret_len);

/* "id: RUN-SEQ\nevent: TYPE\ndata: JSON\n\n", malloc'd; NULL on
 * ENOMEM. */
char *sse_format_event(const struct event *ev, size_t *ret_len);

#endif
