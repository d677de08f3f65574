// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The event stream of the HTTP server (GET /events, Server-Sent Events):
 * delivery, replay after Last-Event-ID, keepalives, clients that go away
 * and a server that stops, against the real server and client of
 * tests/unit/http_fixture.h.
 */
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http_fixture.h"

/* ---- SSE ---- */

struct stream {
	int fd;
	char raw[1 << 16];
	size_t raw_len, body_off;
	char text[1 << 16];
	size_t text_len;
	bool done, eof;
};

static void stream_open_path(struct stream *s, const char *path,
			     const char *headers)
{
	char *sep;

	memset(s, 0, sizeof(*s));
	s->fd = fx_tcp_connect();
	fx_send_request(s->fd, "GET", path, headers, NULL);
	while (!(sep = strstr(s->raw, "\r\n\r\n"))) {
		struct pollfd pfd = { .fd = s->fd, .events = POLLIN };
		ssize_t k;

		ck_assert_int_eq(poll(&pfd, 1, WAIT_MS), 1);
		k = read(s->fd, s->raw + s->raw_len,
			 sizeof(s->raw) - s->raw_len - 1);
		ck_assert_int_gt(k, 0);
		s->raw_len += (size_t)k;
		s->raw[s->raw_len] = '\0';
	}
	s->body_off = (size_t)(sep + 4 - s->raw);
	ck_assert_int_eq(strncmp(s->raw, "HTTP/1.1 200", 12), 0);
	ck_assert_ptr_nonnull(
		strcasestr(s->raw, "Content-Type: text/event-stream"));
	ck_assert_ptr_nonnull(strcasestr(s->raw, "Transfer-Encoding: chunked"));
}

static void stream_open(struct stream *s, const char *headers)
{
	stream_open_path(s, "/events", headers);
}

static int count(const char *text, const char *needle)
{
	int n = 0;

	for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* Read until the decoded stream contains @needle @n times. False on EOF, on the
 * end of the stream, or after WAIT_MS. */
static bool stream_wait_n(struct stream *s, const char *needle, int n)
{
	uint64_t deadline = fx_mono_usec() + WAIT_MS * 1000ull;

	for (;;) {
		struct pollfd pfd = { .fd = s->fd, .events = POLLIN };
		uint64_t now = fx_mono_usec();
		ssize_t k;

		fx_dechunk(s->raw + s->body_off, s->raw_len - s->body_off,
			   s->text, &s->text_len, &s->done);
		if (needle && count(s->text, needle) >= n)
			return true;
		if (s->done || s->eof || now >= deadline)
			return false;
		if (poll(&pfd, 1, (int)((deadline - now) / 1000) + 1) != 1)
			continue;
		k = read(s->fd, s->raw + s->raw_len,
			 sizeof(s->raw) - s->raw_len - 1);
		if (k <= 0)
			s->eof = true;
		else
			s->raw_len += (size_t)k;
	}
}

static bool stream_wait(struct stream *s, const char *needle)
{
	return stream_wait_n(s, needle, 1);
}

START_TEST(test_sse_delivery)
{
	struct stream *s = malloc(sizeof(*s));
	struct fx_reply r;
	const char *data;
	json_t *j;

	ck_assert_ptr_nonnull(s);
	stream_open(s, NULL);
	ck_assert(stream_wait(s, "retry: 3000\n\n"));
	ck_assert_int_eq(fx_call('n'), 1);

	/* an event from a request on another connection */
	fx_request(false, "PATCH", "/vms/sim-1/memory", AUTH,
		   "{\"target_bytes\": 805306368}", &r);
	ck_assert_int_eq(r.status, 200);
	fx_reply_free(&r);
	ck_assert_msg(stream_wait(s, "event: target_changed\ndata: "),
		      "got: %s", s->text);
	/* id: <run>-<seq>, the run being 16 hex digits */
	ck_assert_ptr_nonnull(strstr(s->text, "-1\nevent: target_changed\n"));
	ck_assert_uint_eq(
		strspn(strstr(s->text, "id: ") + 4, "0123456789abcdef"), 16);
	data = strstr(s->text, "data: ") + 6;
	j = json_loadb(data, strcspn(data, "\n"), 0, NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "seq")), 1);
	ck_assert_int_eq(strncmp(json_string_value(json_object_get(j, "run")),
				 strstr(s->text, "id: ") + 4, 16),
			 0);
	ck_assert_str_eq(json_string_value(json_object_get(j, "vm")), "sim-1");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "target_bytes")),
			 805306368);
	ck_assert_str_eq(json_string_value(json_object_get(j, "source")),
			 "manual");
	json_decref(j);

	/* and one published by the daemon itself */
	fx_call('p');
	ck_assert(stream_wait(s, "-2\nevent: daemon_error\ndata: "));
	ck_assert(stream_wait(s, "\"message\":\"test event\"}\n\n"));
	close(s->fd);
	free(s);
}
END_TEST

/* "id: <run>-<seq>\n" of the stream's text, or NULL. */
static const char *find_id(const struct stream *s, const char *run,
			   unsigned seq)
{
	char needle[64];

	snprintf(needle, sizeof(needle), "id: %s-%u\n", run, seq);
	return strstr(s->text, needle);
}

START_TEST(test_sse_replay)
{
	struct stream *s = malloc(sizeof(*s));
	char run[17], hdr[96];

	ck_assert_ptr_nonnull(s);
	fx_call('P'); /* events 1, 2, 3 */
	stream_open(s, "Last-Event-ID: 0000000000000000-0\r\n");
	ck_assert(stream_wait(s, "-3\nevent:"));
	snprintf(run, sizeof(run), "%.16s", strstr(s->text, "id: ") + 4);
	close(s->fd);

	/* an id of this run: what came after it */
	snprintf(hdr, sizeof(hdr), "Last-Event-ID: %s-1\r\n", run);
	stream_open(s, hdr);
	ck_assert(stream_wait(s, "-3\nevent:"));
	ck_assert_ptr_null(find_id(s, run, 1));
	ck_assert_ptr_nonnull(find_id(s, run, 2));
	ck_assert(find_id(s, run, 2) < find_id(s, run, 3));
	close(s->fd);

	/* without Last-Event-ID: only what comes next */
	stream_open(s, NULL);
	ck_assert(stream_wait(s, "retry:"));
	fx_call('p'); /* event 4 */
	ck_assert(stream_wait(s, "-4\nevent:"));
	ck_assert_ptr_null(find_id(s, run, 3));
	close(s->fd);

	/*
	 * An id of an earlier run, even one with a smaller sequence number
	 * than this run has reached: every event of this run, so that a
	 * client resuming across a restart misses none of them.
	 */
	stream_open(s, "Last-Event-ID: 00000000000000ff-2\r\n");
	ck_assert(stream_wait(s, "-4\nevent:"));
	ck_assert_ptr_nonnull(find_id(s, run, 1));
	ck_assert_ptr_nonnull(find_id(s, run, 2));
	close(s->fd);

	/* a bare number (the ids of earlier versions): after it, or all
	 * if it is from the future */
	stream_open(s, "Last-Event-ID: 2\r\n");
	ck_assert(stream_wait(s, "-4\nevent:"));
	ck_assert_ptr_null(find_id(s, run, 2));
	ck_assert_ptr_nonnull(find_id(s, run, 3));
	close(s->fd);
	stream_open(s, "Last-Event-ID: 999\r\n");
	ck_assert(stream_wait(s, "-4\nevent:"));
	ck_assert_ptr_nonnull(find_id(s, run, 1));
	close(s->fd);

	/* not an id at all: new events only */
	stream_open(s, "Last-Event-ID: x-1\r\n");
	ck_assert(stream_wait(s, "retry:"));
	fx_call('p'); /* event 5 */
	ck_assert(stream_wait(s, "-5\nevent:"));
	ck_assert_ptr_null(find_id(s, run, 4));
	close(s->fd);
	free(s);
}
END_TEST

/* ?samples=1: a samples frame at once and then every second, without an
 * id; without it, none. */
START_TEST(test_sse_samples)
{
	struct stream *s = malloc(sizeof(*s));
	const char *frame, *data;
	struct fx_reply r;
	json_t *j, *vms;

	ck_assert_ptr_nonnull(s);
	stream_open_path(s, "/events?samples=1", NULL);
	ck_assert(stream_wait(s, "event: samples\ndata: {"));
	frame = strstr(s->text, "event: samples\n");
	/* the line before is the blank line of the frame before: no id */
	ck_assert_int_eq(frame[-1], '\n');
	ck_assert_int_eq(frame[-2], '\n');
	ck_assert(stream_wait(s, "}\n\n"));
	data = strstr(frame, "data: ") + 6;
	j = json_loadb(data, strcspn(data, "\n"), 0, NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(json_string_value(json_object_get(j, "type")),
			 "samples");
	ck_assert(json_is_integer(
		json_object_get(json_object_get(j, "host"), "total_bytes")));
	vms = json_object_get(j, "vms");
	ck_assert_uint_eq(json_array_size(vms), 3);
	ck_assert_str_eq(json_string_value(
				 json_object_get(json_array_get(vms, 0), "id")),
			 "sim-1");
	ck_assert_int_eq(
		json_integer_value(json_object_get(
			json_object_get(json_array_get(vms, 0), "memory"),
			"max_bytes")),
		1ll << 30);
	json_decref(j);
	/* the next one, from the timer */
	ck_assert(stream_wait_n(s, "event: samples\n", 2));
	close(s->fd);

	/* without samples: events only */
	stream_open(s, NULL);
	ck_assert(stream_wait(s, "retry:"));
	fx_call('p');
	ck_assert(stream_wait(s, "event: daemon_error\n"));
	ck_assert_ptr_null(strstr(s->text, "samples"));
	close(s->fd);

	fx_request(false, "GET", "/events?samples=yes", NULL, NULL, &r);
	ck_assert_int_eq(r.status, 400);
	ck_assert_ptr_nonnull(strstr(r.body, "\"field\":\"samples\""));
	fx_reply_free(&r);
	free(s);
}
END_TEST

START_TEST(test_sse_keepalive)
{
	struct stream *s = malloc(sizeof(*s));

	ck_assert_ptr_nonnull(s);
	stream_open(s, NULL);
	fx_call('k'); /* every 100 ms */
	ck_assert(stream_wait(s, ": keepalive\n\n"));
	close(s->fd);
	free(s);
}
END_TEST

/* A client that goes away is cleaned up at the next wake-up. */
START_TEST(test_sse_disconnect)
{
	struct stream *s = malloc(sizeof(*s));
	int n = -1;

	ck_assert_ptr_nonnull(s);
	stream_open(s, NULL);
	ck_assert(stream_wait(s, "retry:"));
	ck_assert_int_eq(fx_call('n'), 1);
	close(s->fd);
	for (int i = 0; i < 200 && n != 0; i++) {
		fx_call('p');
		n = fx_call('n');
		if (n)
			usleep(10000);
	}
	ck_assert_int_eq(n, 0);
	free(s);
}
END_TEST

/* Stopping the server ends open streams with the last chunk and removes
 * the socket file. */
START_TEST(test_stop_ends_streams)
{
	struct stream *s = malloc(sizeof(*s));
	struct stream *s2 = malloc(sizeof(*s2));
	struct stat st;

	ck_assert_ptr_nonnull(s);
	ck_assert_ptr_nonnull(s2);
	stream_open(s, NULL);
	stream_open(s2, NULL);
	ck_assert(stream_wait(s, "retry:"));
	ck_assert(stream_wait(s2, "retry:"));
	fx_call('s');
	ck_assert(!stream_wait(s, "never"));
	ck_assert_msg(s->done, "stream cut without its last chunk");
	ck_assert(!stream_wait(s2, "never"));
	ck_assert(s2->done);
	ck_assert_int_eq(stat(fx.sock, &st), -1);
	ck_assert_int_eq(errno, ENOENT);
	close(s->fd);
	close(s2->fd);
	free(s);
	free(s2);
}
END_TEST

static Suite *http_sse_suite(void)
{
	Suite *s = suite_create("http_sse");
	TCase *tc;

	tc = tcase_create("sse");
	tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_sse_delivery);
	tcase_add_test(tc, test_sse_replay);
	tcase_add_test(tc, test_sse_samples);
	tcase_add_test(tc, test_sse_keepalive);
	tcase_add_test(tc, test_sse_disconnect);
	tcase_add_test(tc, test_stop_ends_streams);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(http_sse_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
