// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * One gRPC call from request to free, on the loop thread (see
 * grpc/internal.h). Every call has at most two batches in flight: one
 * tagged ops, and for WatchEvents its RECV_CLOSE_ON_SERVER, posted when
 * the call arrives so that a client going away is noticed while the
 * stream waits for events. A unary call asks for the close in its last
 * batch instead (one batch and one completion fewer per call):
 *
 *   REQUESTED --new call--> READING --request--> FINISHING --> freed
 *                                       \-> STREAMING (WatchEvents: one
 *                                           event per SEND_MESSAGE) -/
 *
 * A call is freed when neither batch is in flight any more.
 */
#include <errno.h>
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/support/alloc.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commit.h"
#include "daemon.h"
#include "auth.h"
#include "grpc/internal.h"
#include "log.h"
#include "http/sse.h" /* sse_first_seq: Last-Event-ID semantics */

#define MSG_MAX 512

static const char *method_name(const struct grpcd_call *c)
{
	return c->method ? c->method->path : "?";
}

/* Free a call whose batches are all done. Accepts NULL. */
static void call_free(struct grpcd_call *c)
{
	struct grpcd *g;

	if (!c)
		return;
	g = c->g;
	if (c->prev)
		c->prev->next = c->next;
	else
		g->calls = c->next;
	if (c->next)
		c->next->prev = c->prev;
	g->n_calls--;
	if (c->stream)
		g->n_streams--;
	if (c->call)
		grpc_call_unref(c->call);
	grpc_call_details_destroy(&c->details);
	grpc_metadata_array_destroy(&c->md);
	if (c->recv)
		grpc_byte_buffer_destroy(c->recv);
	if (c->send)
		grpc_byte_buffer_destroy(c->send);
	if (c->has_status_msg)
		grpc_slice_unref(c->status_msg);
	for (size_t i = 0; i < c->n_trailer; i++) {
		grpc_slice_unref(c->trailer[i].key);
		grpc_slice_unref(c->trailer[i].value);
	}
	free(c);
}

static void maybe_free(struct grpcd_call *c)
{
	if (!c->ops_busy && !c->close_busy)
		call_free(c);
}

int grpcd_request(struct grpcd *g, enum grpcd_origin o)
{
	struct grpcd_call *c = calloc(1, sizeof(*c));
	grpc_call_error e;

	if (!c)
		return -ENOMEM;
	c->g = g;
	c->origin = o;
	c->phase = GRPCD_REQUESTED;
	c->ops_tag = (struct grpcd_tag){ .kind = GRPCD_TAG_OPS, .call = c };
	c->close_tag = (struct grpcd_tag){ .kind = GRPCD_TAG_CLOSE, .call = c };
	grpc_call_details_init(&c->details);
	grpc_metadata_array_init(&c->md);
	c->next = g->calls;
	if (g->calls)
		g->calls->prev = c;
	g->calls = c;
	g->n_calls++;
	e = grpc_server_request_call(g->srv[o], &c->call, &c->details, &c->md,
				     g->cq, g->cq, &c->ops_tag);
	if (e != GRPC_CALL_OK) {
		log_err("grpc: cannot request calls: %s",
			grpc_call_error_to_string(e));
		call_free(c);
		return -EIO;
	}
	c->ops_busy = true;
	return 0;
}

/* Start @ops as the call's ops batch; on failure cancel the call. */
static void start_ops(struct grpcd_call *c, const grpc_op *ops, size_t n)
{
	grpc_call_error e;

	e = grpc_call_start_batch(c->call, ops, n, &c->ops_tag, NULL);
	if (e == GRPC_CALL_OK) {
		c->ops_busy = true;
		return;
	}
	log_err("grpc: %s: cannot start a batch: %s", method_name(c),
		grpc_call_error_to_string(e));
	/* Nothing more on this call: freed when no batch is in flight. */
	c->phase = GRPCD_FINISHING;
	grpc_call_cancel(c->call, NULL);
}

/* The message to send next; replaces one a failed batch left. */
static void set_send(struct grpcd_call *c, grpc_byte_buffer *bb)
{
	if (c->send)
		grpc_byte_buffer_destroy(c->send);
	c->send = bb;
}

/* Our packed message as a byte buffer that owns it; NULL on ENOMEM
 * (the bytes are freed either way). */
static grpc_byte_buffer *byte_buffer(struct grpcd_buf *b)
{
	grpc_byte_buffer *bb;
	grpc_slice s;

	if (b->len) {
		s = grpc_slice_new(b->data, b->len, free);
		b->data = NULL;
	} else {
		s = grpc_empty_slice();
	}
	grpcd_buf_clear(b);
	bb = grpc_raw_byte_buffer_create(&s, 1);
	grpc_slice_unref(s);
	return bb;
}

/* Metadata values must be printable ASCII; ours may quote a client's
 * bytes. */
static grpc_slice header_value(const char *s)
{
	char buf[256];
	size_t n = 0;

	for (; *s && n < sizeof(buf) - 1; s++)
		buf[n++] = *s >= 0x20 && *s < 0x7f ? *s : '?';
	buf[n] = '\0';
	return grpc_slice_from_copied_string(buf);
}

/* End the call: the answer @resp if not NULL (consumed), then @code with
 * @msg, and the field and value of @err as trailing metadata. */
static void finish(struct grpcd_call *c, grpc_status_code code, const char *msg,
		   struct grpcd_buf *resp, const struct error *err)
{
	grpc_op ops[4];
	size_t n = 0;

	memset(ops, 0, sizeof(ops));
	c->phase = GRPCD_FINISHING;
	/* gRPC core wants initial metadata before the status, even for a
	 * call it ends at once (trailers-only answers included). */
	if (!c->md_sent) {
		ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
		c->md_sent = true;
	}
	if (resp) {
		set_send(c, byte_buffer(resp));
		if (c->send) {
			ops[n].op = GRPC_OP_SEND_MESSAGE;
			ops[n].data.send_message.send_message = c->send;
			n++;
		} else {
			code = GRPC_STATUS_INTERNAL;
			msg = "out of memory";
		}
	}
	if (msg && *msg) {
		c->status_msg = grpc_slice_from_copied_string(msg);
		c->has_status_msg = true;
	}
	if (err && err->field[0]) {
		c->trailer[c->n_trailer].key =
			grpc_slice_from_static_string("hyperalloc-field");
		c->trailer[c->n_trailer++].value = header_value(err->field);
	}
	if (err && err->value[0]) {
		c->trailer[c->n_trailer].key =
			grpc_slice_from_static_string("hyperalloc-value");
		c->trailer[c->n_trailer++].value = header_value(err->value);
	}
	ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
	ops[n].data.send_status_from_server.status = code;
	ops[n].data.send_status_from_server.status_details =
		c->has_status_msg ? &c->status_msg : NULL;
	ops[n].data.send_status_from_server.trailing_metadata = c->trailer;
	ops[n].data.send_status_from_server.trailing_metadata_count =
		c->n_trailer;
	n++;
	if (!c->close_started) {
		ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
		ops[n].data.recv_close_on_server.cancelled = &c->cancelled;
		c->close_started = true;
		n++;
	}
	log_debug("grpc: %s -> %d%s%s", method_name(c), (int)code,
		  msg && *msg ? ": " : "", msg ? msg : "");
	start_ops(c, ops, n);
}

static void finish_error(struct grpcd_call *c, const struct error *err)
{
	char msg[MSG_MAX];

	grpcd_status_message(err, msg, sizeof(msg));
	finish(c, grpcd_status(err->status), msg, NULL, err);
}

/* ---- WatchEvents ---- */

static void send_one(struct grpcd_call *c, struct grpcd_buf *b)
{
	grpc_op op;

	set_send(c, byte_buffer(b));
	if (!c->send) {
		finish(c, GRPC_STATUS_INTERNAL, "out of memory", NULL, NULL);
		return;
	}
	memset(&op, 0, sizeof(op));
	op.op = GRPC_OP_SEND_MESSAGE;
	op.data.send_message.send_message = c->send;
	start_ops(c, &op, 1);
}

/* Health.Watch: the status when it differs from the one sent last; at
 * the end NOT_SERVING, then UNAVAILABLE. */
static void health_next(struct grpcd_call *c)
{
	int status = grpcd_health_status(c->g->d, c->health_service, c->ending);
	struct grpcd_buf b = { 0 };

	if (status != c->health_sent) {
		if (grpcd_health_pack(status, &b) < 0) {
			finish(c, GRPC_STATUS_INTERNAL, "out of memory", NULL,
			       NULL);
			return;
		}
		c->health_sent = status;
		send_one(c, &b);
		return;
	}
	if (c->ending)
		finish(c, GRPC_STATUS_UNAVAILABLE,
		       "hyperallocd is shutting down", NULL, NULL);
}

/* Send the next event the stream owes, or end it when the daemon is
 * stopping and it owes nothing. */
static void stream_next(struct grpcd_call *c)
{
	const struct event_bus *bus = &c->g->d->bus;
	uint64_t next = event_next_seq(bus);
	uint64_t oldest = next > EVENT_RING ? next - EVENT_RING : 1, lost = 0;
	struct grpcd_buf b = { 0 };

	if (c->method->kind == GRPCD_HEALTH_WATCH) {
		health_next(c);
		return;
	}
	if (c->next_seq < oldest) {
		/* The client fell behind the ring: say so, then go on. */
		lost = oldest - c->next_seq;
		c->next_seq = oldest;
	}
	while (c->next_seq < next) {
		const struct event *ev = event_get(bus, c->next_seq++);

		if (!ev)
			continue;
		if (grpcd_pack_event(ev, lost, &b) < 0) {
			finish(c, GRPC_STATUS_INTERNAL, "out of memory", NULL,
			       NULL);
			return;
		}
		send_one(c, &b);
		return;
	}
	if (c->ending)
		finish(c, GRPC_STATUS_UNAVAILABLE,
		       "hyperallocd is shutting down", NULL, NULL);
}

static bool stream_idle(const struct grpcd_call *c)
{
	return c->phase == GRPCD_STREAMING && !c->ops_busy && c->close_busy;
}

void grpcd_streams_wake(struct grpcd *g)
{
	for (struct grpcd_call *c = g->calls; c; c = c->next)
		if (stream_idle(c))
			stream_next(c);
}

void grpcd_streams_end(struct grpcd *g)
{
	for (struct grpcd_call *c = g->calls; c; c = c->next) {
		if (c->phase != GRPCD_STREAMING)
			continue;
		c->ending = true;
		if (stream_idle(c))
			stream_next(c);
	}
}

static void watch_start(struct grpcd_call *c, const uint8_t *data, size_t len)
{
	struct grpcd *g = c->g;
	char resume[EVENT_ID_LEN] = "";
	struct error err = { 0 };
	int r;

	if (c->method->kind == GRPCD_HEALTH_WATCH)
		r = grpcd_health_parse(data, len, c->health_service, &err);
	else
		r = grpcd_parse_watch(data, len, resume, sizeof(resume), &err);
	if (r < 0) {
		finish_error(c, &err);
		return;
	}
	if (g->stopping) {
		finish(c, GRPC_STATUS_UNAVAILABLE,
		       "hyperallocd is shutting down", NULL, NULL);
		return;
	}
	if (g->n_streams >= GRPCD_STREAMS_MAX) {
		finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED,
		       "too many event streams are open", NULL, NULL);
		return;
	}
	c->next_seq = sse_first_seq(&g->d->bus, resume[0] ? resume : NULL);
	c->health_sent = -1;
	c->phase = GRPCD_STREAMING;
	c->stream = true;
	g->n_streams++;
	stream_next(c);
}

/* ---- unary calls ---- */

/* Who is calling, from the server it came in on and its metadata. */
static void make_caller(struct grpcd_call *c, struct ctl_caller *ret)
{
	const grpc_metadata *auth = NULL;
	char *peer = grpc_call_get_peer(c->call);
	const char *desc = NULL;
	char who[sizeof(ret->who)];

	/* gRPC core names the connections we handed it "fd:N". */
	if (peer && strncmp(peer, "fd:", 3) == 0)
		desc = grpcd_peer_desc(c->g, atoi(peer + 3));
	snprintf(who, sizeof(who), "grpc %s", desc ? desc : peer ? peer : "?");
	gpr_free(peer);

	if (c->origin == GRPCD_PEER) {
		memset(ret, 0, sizeof(*ret));
		ret->credentials_given = true;
		ret->authenticated = true;
		snprintf(ret->who, sizeof(ret->who), "%s", who);
		return;
	}
	for (size_t i = 0; i < c->md.count && !auth; i++) {
		grpc_slice k = c->md.metadata[i].key;

		if (GRPC_SLICE_LENGTH(k) == 13 &&
		    memcmp(GRPC_SLICE_START_PTR(k), "authorization", 13) == 0)
			auth = &c->md.metadata[i];
	}
	auth_bearer_caller(
		auth ? (const char *)GRPC_SLICE_START_PTR(auth->value) : NULL,
		auth ? GRPC_SLICE_LENGTH(auth->value) : 0, c->g->d->api_token,
		who, ret);
}

/*
 * A change is answered once it is on disk: gRPC calls come one at a time,
 * so their changes are written at once rather than by the loop's group
 * commit. false, with the error in @err, if the write failed.
 */
static bool committed(struct grpcd_call *c, struct error *err)
{
	struct daemon *d = c->g->d;

	if (!commit_pending(d->commit) || commit_now(d->commit) == 0)
		return true;
	error_set(err, ERROR_INTERNAL, NULL, NULL,
		  "the change is applied but the state file could not be "
		  "written, so it would not survive a restart; see the "
		  "daemon's log");
	return false;
}

static void unary(struct grpcd_call *c, const uint8_t *data, size_t len)
{
	struct error err = { 0 };
	struct grpcd_buf resp = { 0 };
	struct ctl_caller caller;
	int r;

	make_caller(c, &caller);
	r = c->method->unary(c->g->d, &caller, data, len, &resp, &err);
	if (r >= 0 && !committed(c, &err))
		r = -EIO;
	if (r >= 0) {
		finish(c, GRPC_STATUS_OK, NULL, &resp, NULL);
		return;
	}
	grpcd_buf_clear(&resp);
	if (err.status == ERROR_OK) {
		error_set(&err, ERROR_INTERNAL, NULL, NULL,
			  "internal error: %s", strerror(-r));
		log_err("grpc: %s: %s", method_name(c), err.reason);
	}
	finish_error(c, &err);
}

/* ---- bidirectional streams: an answer per request ---- */

/* Answer the request @data, and ask for the next one in the same batch. */
static void exchange(struct grpcd_call *c, const uint8_t *data, size_t len)
{
	struct error err = { 0 };
	struct grpcd_buf resp = { 0 };
	grpc_op ops[2];
	int r;

	r = c->method->each(c->g->d, data, len, &resp, &err);
	if (r >= 0 && !committed(c, &err))
		r = -EIO;
	if (r < 0) {
		grpcd_buf_clear(&resp);
		if (err.status == ERROR_OK) {
			error_set(&err, ERROR_INTERNAL, NULL, NULL,
				  "internal error: %s", strerror(-r));
			log_err("grpc: %s: %s", method_name(c), err.reason);
		}
		finish_error(c, &err);
		return;
	}
	set_send(c, byte_buffer(&resp));
	if (!c->send) {
		finish(c, GRPC_STATUS_INTERNAL, "out of memory", NULL, NULL);
		return;
	}
	c->phase = GRPCD_EXCHANGING;
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_MESSAGE;
	ops[0].data.send_message.send_message = c->send;
	ops[1].op = GRPC_OP_RECV_MESSAGE;
	ops[1].data.recv_message.recv_message = &c->recv;
	start_ops(c, ops, 2);
}

/* The request message arrived (or did not). */
static void on_request(struct grpcd_call *c, bool ok)
{
	grpc_byte_buffer_reader reader;
	grpc_slice s;

	if (!ok)
		return; /* cancelled: the close completion frees it */
	if (!c->recv && c->method->kind == GRPCD_BIDI) {
		/* The client is done asking. */
		finish(c, GRPC_STATUS_OK, NULL, NULL, NULL);
		return;
	}
	if (!c->recv) {
		finish(c, GRPC_STATUS_INVALID_ARGUMENT,
		       "the request message is missing", NULL, NULL);
		return;
	}
	if (!grpc_byte_buffer_reader_init(&reader, c->recv)) {
		finish(c, GRPC_STATUS_INVALID_ARGUMENT,
		       "the request message cannot be decompressed", NULL,
		       NULL);
		return;
	}
	s = grpc_byte_buffer_reader_readall(&reader);
	grpc_byte_buffer_reader_destroy(&reader);
	grpc_byte_buffer_destroy(c->recv);
	c->recv = NULL;
	switch (c->method->kind) {
	case GRPCD_UNARY:
		unary(c, GRPC_SLICE_START_PTR(s), GRPC_SLICE_LENGTH(s));
		break;
	case GRPCD_EVENTS:
	case GRPCD_HEALTH_WATCH:
		watch_start(c, GRPC_SLICE_START_PTR(s), GRPC_SLICE_LENGTH(s));
		break;
	case GRPCD_BIDI:
		exchange(c, GRPC_SLICE_START_PTR(s), GRPC_SLICE_LENGTH(s));
		break;
	}
	grpc_slice_unref(s);
}

/* A call arrived (or the server is shutting down: !ok, and the call is
 * freed by our caller, as when nothing could be started). */
static void on_new_call(struct grpcd_call *c, bool ok)
{
	struct grpcd *g = c->g;
	grpc_call_error e;
	grpc_op ops[2];

	if (!ok)
		return;
	/* Keep the server's queue of requests full. */
	if (!g->stopping && grpcd_request(g, c->origin) < 0)
		log_err("grpc: one fewer call can be taken at once");
	c->method = grpcd_method_find(
		(const char *)GRPC_SLICE_START_PTR(c->details.method),
		GRPC_SLICE_LENGTH(c->details.method));

	/* A stream must notice a client going away while it waits. */
	if (c->method && c->method->kind != GRPCD_UNARY) {
		memset(ops, 0, sizeof(ops));
		ops[0].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
		ops[0].data.recv_close_on_server.cancelled = &c->cancelled;
		e = grpc_call_start_batch(c->call, ops, 1, &c->close_tag, NULL);
		if (e != GRPC_CALL_OK) {
			log_err("grpc: cannot watch a call: %s",
				grpc_call_error_to_string(e));
			return; /* freed by our caller: unref cancels it */
		}
		c->close_started = true;
		c->close_busy = true;
	}
	if (!c->method) {
		char msg[MSG_MAX];

		snprintf(msg, sizeof(msg), "unknown method %.*s",
			 (int)GRPC_SLICE_LENGTH(c->details.method),
			 (const char *)GRPC_SLICE_START_PTR(c->details.method));
		finish(c, GRPC_STATUS_UNIMPLEMENTED, msg, NULL, NULL);
		return;
	}
	c->phase = GRPCD_READING;
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	c->md_sent = true;
	ops[1].op = GRPC_OP_RECV_MESSAGE;
	ops[1].data.recv_message.recv_message = &c->recv;
	start_ops(c, ops, 2);
}

void grpcd_call_done(struct grpcd_tag *t, bool ok)
{
	struct grpcd_call *c = t->call;

	if (t->kind == GRPCD_TAG_CLOSE) {
		c->close_busy = false;
		maybe_free(c);
		return;
	}
	c->ops_busy = false;
	switch (c->phase) {
	case GRPCD_REQUESTED:
		on_new_call(c, ok);
		break;
	case GRPCD_READING:
		on_request(c, ok);
		break;
	case GRPCD_STREAMING:
		grpc_byte_buffer_destroy(c->send);
		c->send = NULL;
		/* !ok: the client is gone; its close completes too. */
		if (ok && c->close_busy)
			stream_next(c);
		break;
	case GRPCD_EXCHANGING:
		grpc_byte_buffer_destroy(c->send);
		c->send = NULL;
		on_request(c, ok);
		break;
	case GRPCD_FINISHING:
		break;
	}
	maybe_free(c);
}
