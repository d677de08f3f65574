// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Server-Sent Events streams (see sse.h). A stream is the content reader
 * of one MHD response: it formats events from the bus's ring into a small
 * buffer; with nothing to send it suspends its connection and returns 0,
 * and the hub resumes it when an event is published or the keepalive
 * timer fires.
 */
#include "http/sse.h"

#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "ctl.h"
#include "daemon.h"
#include "http/json.h"

#define FILL_EVENTS_MAX 64 /* events formatted per refill */

struct sse_stream {
	struct sse_hub *hub; /* NULL once the hub is gone */
	struct MHD_Connection *conn;
	void (*kick)(void *userdata);
	void *kick_userdata;
	uint64_t next_seq; /* next event to send */
	char *buf;
	size_t len, off; /* bytes in buf, bytes already handed to MHD */
	bool hello_sent, suspended, keepalive_due, closing;
	bool samples, sample_due; /* asked for samples; one is owed */
	struct sse_stream *prev, *next;
};

struct sse_hub {
	struct daemon *d;
	int sub; /* bus subscription, -1 if none */
	sd_event_source *keepalive;
	uint64_t keepalive_usec;
	sd_event_source *sampler; /* armed while n_samples > 0 */
	size_t n_samples; /* streams that asked for samples */
	struct sse_stream *head;
	size_t count;
	bool closing;
};

/* Parse a decimal sequence number filling all of @s..@end. */
static bool parse_seq(const char *s, const char *end, uint64_t *ret)
{
	uint64_t v = 0;

	if (s == end || end - s > 20)
		return false;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*ret = v;
	return true;
}

uint64_t sse_first_seq(const struct event_bus *bus, const char *last_event_id)
{
	uint64_t next = event_next_seq(bus), last;
	const char *dash, *end;

	if (!last_event_id)
		return next;
	end = last_event_id + strlen(last_event_id);
	dash = strchr(last_event_id, '-');
	if (!dash) {
		/* An id of an earlier version: a number per run only. */
		if (!parse_seq(last_event_id, end, &last))
			return next;
		return last >= next ? 1 : last + 1;
	}
	if ((size_t)(dash - last_event_id) != EVENT_RUN_LEN - 1 ||
	    !parse_seq(dash + 1, end, &last))
		return next;
	if (memcmp(last_event_id, bus->run, EVENT_RUN_LEN - 1) != 0)
		return 1; /* another run: all of this one we still have */
	return last >= next ? next : last + 1;
}

char *sse_format_event(const struct event *ev, size_t *ret_len)
{
	char *data = json_dump_free(json_event(ev), NULL), *out = NULL;
	char id[EVENT_ID_LEN];
	int n;

	if (!data)
		return NULL;
	n = asprintf(&out, "id: %s\nevent: %s\ndata: %s\n\n",
		     event_format_id(ev, id, sizeof(id)),
		     event_type_to_string(ev->type), data);
	free(data);
	if (n < 0)
		return NULL;
	if (ret_len)
		*ret_len = (size_t)n;
	return out;
}

char *sse_format_samples(struct daemon *d, size_t *ret_len)
{
	json_t *o = json_object(), *vms = json_array();
	char when[32], *data, *out = NULL;
	struct timespec ts;
	struct ctl_host h;
	bool ok = o && vms;
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	ctl_host_get(d, &h);
	vm_foreach(vm, &d->vms) {
		json_t *v = json_pack("{s:s, s:s, s:s, s:o*}", "id", vm->id,
				      "mechanism",
				      vm_mechanism_to_string(vm->mechanism),
				      "state", vm_state_to_string(vm->state),
				      "memory", json_vm_memory(vm));

		ok = ok && v && json_array_append_new(vms, v) == 0;
	}
	if (ok)
		ok = json_object_set_new(o, "type", json_string("samples")) ==
			     0 &&
		     json_object_set_new(
			     o, "time",
			     json_string(event_format_time(
				     (uint64_t)ts.tv_sec * 1000000 +
					     (uint64_t)ts.tv_nsec / 1000,
				     when, sizeof(when)))) == 0 &&
		     json_object_set_new(o, "host", json_host(&h)) == 0 &&
		     json_object_set(o, "vms", vms) == 0;
	json_decref(vms);
	data = ok ? json_dump_free(o, NULL) : (json_decref(o), NULL);
	if (!data)
		return NULL;
	n = asprintf(&out, "event: samples\ndata: %s\n\n", data);
	free(data);
	if (n < 0)
		return NULL;
	if (ret_len)
		*ret_len = (size_t)n;
	return out;
}

/* Append @n bytes; false on ENOMEM. */
static bool stream_append(struct sse_stream *s, const char *text, size_t n)
{
	char *b = realloc(s->buf, s->len + n + 1);

	if (!b)
		return false;
	memcpy(b + s->len, text, n);
	s->len += n;
	b[s->len] = '\0';
	s->buf = b;
	return true;
}

/* Format what the stream owes its client into its (empty) buffer. */
static bool stream_fill(struct sse_stream *s)
{
	const struct event_bus *bus = &s->hub->d->bus;
	uint64_t next = event_next_seq(bus);
	uint64_t oldest = next > EVENT_RING ? next - EVENT_RING : 1;
	char line[96];
	int n;

	if (!s->hello_sent) {
		n = snprintf(line, sizeof(line), "retry: %d\n\n", SSE_RETRY_MS);
		if (!stream_append(s, line, (size_t)n))
			return false;
		s->hello_sent = true;
	}
	if (s->next_seq < oldest) {
		/* The client fell behind the ring: say so, then go on. */
		n = snprintf(line, sizeof(line),
			     ": %" PRIu64 " events lost\n\n",
			     oldest - s->next_seq);
		if (!stream_append(s, line, (size_t)n))
			return false;
		s->next_seq = oldest;
	}
	for (int i = 0; i < FILL_EVENTS_MAX && s->next_seq < next; i++) {
		const struct event *ev = event_get(bus, s->next_seq++);
		size_t len;
		char *text;
		bool ok;

		if (!ev)
			continue;
		text = sse_format_event(ev, &len);
		ok = text && stream_append(s, text, len);
		free(text);
		if (!ok)
			return false;
	}
	if (s->sample_due) {
		size_t len;
		char *text = sse_format_samples(s->hub->d, &len);
		bool ok = text && stream_append(s, text, len);

		free(text);
		if (!ok)
			return false;
		s->sample_due = false;
	}
	if (s->keepalive_due && s->len == 0 &&
	    !stream_append(s, ": keepalive\n\n", 13))
		return false;
	s->keepalive_due = false;
	return true;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct sse_stream *s = cls;
	size_t n;

	(void)pos;
	if (!s->hub)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (s->off == s->len) {
		s->off = s->len = 0;
		if (!stream_fill(s))
			return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	if (s->off < s->len) {
		n = s->len - s->off < max ? s->len - s->off : max;
		memcpy(buf, s->buf + s->off, n);
		s->off += n;
		return (ssize_t)n;
	}
	if (s->closing)
		return MHD_CONTENT_READER_END_OF_STREAM;
	/* Nothing to say: park the connection until the hub wakes us.
	 * Returning 0 after suspending is how MHD expects it. */
	s->suspended = true;
	MHD_suspend_connection(s->conn);
	return 0;
}

static void stream_wake(struct sse_stream *s)
{
	if (!s->suspended)
		return;
	s->suspended = false;
	MHD_resume_connection(s->conn);
	if (s->kick)
		s->kick(s->kick_userdata);
}

/* MHD is done with the response: the connection closed or the stream
 * ended. */
static void stream_free(void *cls)
{
	struct sse_stream *s = cls;
	struct sse_hub *h = s->hub;

	if (h) {
		if (s->samples)
			h->n_samples--;
		if (s->prev)
			s->prev->next = s->next;
		else
			h->head = s->next;
		if (s->next)
			s->next->prev = s->prev;
		h->count--;
	}
	free(s->buf);
	free(s);
}

static void sampler_arm(struct sse_hub *h)
{
	uint64_t now;

	if (sd_event_now(h->d->loop, CLOCK_MONOTONIC, &now) >= 0 &&
	    sd_event_source_set_time(h->sampler, now + SSE_SAMPLE_USEC) >= 0)
		(void)sd_event_source_set_enabled(h->sampler, SD_EVENT_ONESHOT);
}

int sse_stream_new(struct sse_hub *h, struct MHD_Connection *conn,
		   const char *last_event_id, bool samples,
		   void (*kick)(void *), void *kick_userdata,
		   struct MHD_Response **ret)
{
	struct MHD_Response *resp;
	struct sse_stream *s;

	if (h->closing || h->count >= SSE_STREAMS_MAX)
		return -EBUSY;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->hub = h;
	s->conn = conn;
	s->kick = kick;
	s->kick_userdata = kick_userdata;
	s->next_seq = sse_first_seq(&h->d->bus, last_event_id);
	/* The first sample at once: a page has numbers before a second. */
	s->samples = s->sample_due = samples;
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096,
						 stream_read, s, stream_free);
	if (!resp) {
		free(s);
		return -ENOMEM;
	}
	s->next = h->head;
	if (h->head)
		h->head->prev = s;
	h->head = s;
	h->count++;
	if (samples && h->n_samples++ == 0)
		sampler_arm(h);
	*ret = resp;
	return 0;
}

static void on_event(const struct event *ev, void *userdata)
{
	struct sse_hub *h = userdata;

	(void)ev;
	for (struct sse_stream *s = h->head; s; s = s->next)
		stream_wake(s);
}

static int on_keepalive(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct sse_hub *h = userdata;

	for (struct sse_stream *s = h->head; s; s = s->next) {
		s->keepalive_due = true;
		stream_wake(s);
	}
	/* On failure there are no more keepalives; streams still work. */
	if (sd_event_source_set_time(src, usec + h->keepalive_usec) >= 0)
		(void)sd_event_source_set_enabled(src, SD_EVENT_ONESHOT);
	return 0;
}

static int on_sample(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct sse_hub *h = userdata;

	(void)src;
	(void)usec;
	for (struct sse_stream *s = h->head; s; s = s->next) {
		if (!s->samples)
			continue;
		s->sample_due = true;
		stream_wake(s);
	}
	if (h->n_samples)
		sampler_arm(h);
	return 0;
}

int sse_hub_new(struct daemon *d, struct sse_hub **ret)
{
	struct sse_hub *h = calloc(1, sizeof(*h));
	uint64_t now;
	int r;

	if (!h)
		return -ENOMEM;
	h->d = d;
	h->sub = -1;
	h->keepalive_usec = SSE_KEEPALIVE_USEC;
	r = sd_event_now(d->loop, CLOCK_MONOTONIC, &now);
	if (r < 0)
		goto cleanup;
	r = sd_event_add_time(d->loop, &h->keepalive, CLOCK_MONOTONIC,
			      now + h->keepalive_usec, 100000, on_keepalive, h);
	if (r < 0)
		goto cleanup;
	(void)sd_event_source_set_description(h->keepalive, "sse-keepalive");
	r = sd_event_add_time(d->loop, &h->sampler, CLOCK_MONOTONIC,
			      now + SSE_SAMPLE_USEC, 10000, on_sample, h);
	if (r < 0)
		goto cleanup;
	(void)sd_event_source_set_enabled(h->sampler, SD_EVENT_OFF);
	(void)sd_event_source_set_description(h->sampler, "sse-samples");
	r = event_subscribe(&d->bus, on_event, h);
	if (r < 0)
		goto cleanup;
	h->sub = r;
	*ret = h;
	return 0;
cleanup:
	sse_hub_free(h);
	return r;
}

void sse_hub_close_all(struct sse_hub *h)
{
	if (!h)
		return;
	h->closing = true;
	for (struct sse_stream *s = h->head; s; s = s->next) {
		s->closing = true;
		stream_wake(s);
	}
}

size_t sse_hub_streams(const struct sse_hub *h)
{
	return h ? h->count : 0;
}

void sse_hub_set_keepalive(struct sse_hub *h, uint64_t usec)
{
	uint64_t now;

	h->keepalive_usec = usec;
	if (sd_event_now(h->d->loop, CLOCK_MONOTONIC, &now) >= 0 &&
	    sd_event_source_set_time(h->keepalive, now + usec) >= 0)
		(void)sd_event_source_set_enabled(h->keepalive,
						  SD_EVENT_ONESHOT);
}

void sse_hub_free(struct sse_hub *h)
{
	if (!h)
		return;
	if (h->sub >= 0)
		event_unsubscribe(&h->d->bus, h->sub);
	sd_event_source_disable_unref(h->keepalive);
	sd_event_source_disable_unref(h->sampler);
	/* Streams outliving the hub end at their next read. */
	for (struct sse_stream *s = h->head, *next; s; s = next) {
		next = s->next;
		s->hub = NULL;
		s->prev = s->next = NULL;
	}
	free(h);
}
