/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The client side of Server-Sent Events, for hactl watch: a parser fed
 * the body of GET /events piece by piece as it arrives (lines ending in
 * "\n" or "\r\n"; "id:", "event:", "retry:" and "data:" fields; comments
 * such as keepalives ignored) that hands each complete event to a
 * callback and remembers the last id and retry for a reconnect.
 */
#ifndef HA_HACTL_SSE_H
#define HA_HACTL_SSE_H

#include <stddef.h>

/* Called for each event that carried data: @event is its "event:" field
 * ("" for none), @data its "data:" lines joined by "\n". */
typedef void (*hactl_sse_event_fn)(const char *event, const char *data,
				   void *userdata);

/* Zero it, then set on_event (and userdata); the caller may set last_id
 * and retry_ms, reset len before each new connection, and frees data when
 * done. Large (a 64 KiB line buffer): allocate it. */
struct hactl_sse {
	char line[65536]; /* the line being read; longer lines are cut */
	size_t len;
	char event[64]; /* the event being read */
	char *data;
	size_t data_len;
	char last_id[48]; /* the last "id:" seen: RUN-SEQ */
	unsigned retry_ms; /* the last "retry:" seen */
	hactl_sse_event_fn on_event;
	void *userdata;
};

/* An http_client_data_fn: feed @len bytes of the stream to the struct
 * hactl_sse @sse. Always returns 0 (the stream goes on). */
int hactl_sse_data(const char *data, size_t len, void *sse);

#endif
