// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for daemon/http/head.c: the request heads, framings and
 * media types the daemon refuses itself before libmicrohttpd would
 * answer them in HTML, hold the connection, or read a body two parsers
 * could end in different places.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "http/head.h"

#define GET  "GET /vms HTTP/1.1\r\nHost: x\r\n"
#define PUT  "PUT /vms/a/memory HTTP/1.1\r\nHost: x\r\n"
#define MORE HTTP_HEAD_MORE
#define OK   HTTP_HEAD_OK
#define NO   HTTP_HEAD_REFUSED

/* bytes received so far, verdict, status and a word of the detail */
static const struct {
	const char *in;
	enum http_head_verdict verdict;
	unsigned status;
	const char *word;
} head_cases[] = {
	{ "", MORE, 0, NULL },
	{ "\r\n", MORE, 0, NULL },
	{ "GE", MORE, 0, NULL },
	{ "GET /vms HTTP/1.1\r", MORE, 0, NULL },
	{ GET, MORE, 0, NULL },
	{ GET "\r\n", OK, 0, NULL },
	{ GET "\r\n{\"body\": 1}", OK, 0, NULL },
	{ "\r\n" GET "\r\n", OK, 0, NULL }, /* an empty line first */
	{ "GET /vms HTTP/1.1\nHost: x\n\n", OK, 0, NULL }, /* bare LFs */
	{ "GET /vms HTTP/1.0\r\n\r\n", OK, 0, NULL },
	{ "GET /vms HTTP/1.2\r\n\r\n", OK, 0, NULL },
	{ "OPTIONS * HTTP/1.1\r\n\r\n", OK, 0, NULL },
	{ GET "X-A:\r\n\r\n", OK, 0, NULL }, /* an empty value */
	{ PUT "Content-Length: 2\r\nContent-Length: 2\r\n\r\n", OK, 0, NULL },
	{ PUT "Transfer-Encoding: Chunked\r\n\r\n", OK, 0, NULL },
	/* not HTTP at all: refused from the first bytes */
	{ "\x16\x03\x01", NO, 400, "TLS" },
	{ "\x16", NO, 400, "TLS" },
	{ "\x80\x01", NO, 400, "method" },
	{ "{\"x\":1}", NO, 400, "method" },
	{ "GET\t/ HTTP/1.1\r\n", NO, 400, "method" },
	{ "GARBAGE\r\n\r\n", NO, 400, "method" },
	{ "GET /\x01 HTTP/1.1", NO, 400, "control" },
	/* the request line */
	{ "GET /\r\n\r\n", NO, 400, "METHOD TARGET" },
	{ "GET  / HTTP/1.1\r\n\r\n", NO, 400, "METHOD TARGET" },
	{ "GET /a b HTTP/1.1\r\n\r\n", NO, 400, "space" },
	{ "GET / HTTP/1.1 \r\n\r\n", NO, 400, "space" },
	{ "GET / HTTP/11\r\n\r\n", NO, 400, "version" },
	{ "GET / http/1.1\r\n\r\n", NO, 400, "version" },
	{ "GET / HTTP/2.0\r\n\r\n", NO, 505, "HTTP/2.0" },
	{ "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", NO, 505, "gRPC" },
	{ "GET / HTTP/0.9\r\n\r\n", NO, 505, "HTTP/0.9" },
	{ "GET / HTTP/1.1\r\r\n\r\n", NO, 400, "control" },
	/* header fields */
	{ GET "X-A: 1\r\n folded\r\n\r\n", NO, 400, "folding" },
	{ GET "no colon\r\n\r\n", NO, 400, "colon" },
	{ GET "X-A: a\rz\r\n\r\n", NO, 400, "control" },
	{ GET "X-A: a\x7f", NO, 400, "control" },
	{ PUT "Content-Length : 2\r\n\r\n", NO, 400, "token" },
	{ PUT "Con\ttent-Length: 2\r\n\r\n", NO, 400, "token" },
	/* framing */
	{ PUT "Content-Length: abc\r\n\r\n", NO, 400, "not a number" },
	{ PUT "Content-Length: -1\r\n\r\n", NO, 400, "not a number" },
	{ PUT "Content-Length: 2 \r\n\r\n", NO, 400, "not a number" },
	{ PUT "Content-Length: 2, 2\r\n\r\n", NO, 400, "not a number" },
	{ PUT "Content-Length:\r\n\r\n", NO, 400, "not a number" },
	{ PUT "Content-Length: 18446744073709551616\r\n\r\n", NO, 413,
	  "above" },
	{ PUT "Content-Length: 2\r\nContent-Length: 3\r\n\r\n", NO, 400,
	  "two different" },
	{ PUT "Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n", NO,
	  400, "both" },
	{ PUT "Transfer-Encoding: chunked\r\ncontent-length: 2\r\n\r\n", NO,
	  400, "both" },
	{ PUT "Transfer-Encoding: gzip\r\n\r\n", NO, 501, "gzip" },
	{ PUT "Transfer-Encoding: gzip, chunked\r\n\r\n", NO, 501, "gzip" },
	{ PUT "Transfer-Encoding: chunked \r\n\r\n", NO, 501, "chunked" },
	{ PUT "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"
	      "\r\n",
	  NO, 400, "more than one" },
	{ "PUT / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", NO, 400,
	  "HTTP/1.0" },
};

START_TEST(test_head)
{
	struct http_refusal ref;
	const char *in = head_cases[_i].in;
	size_t len = strlen(in);
	enum http_head_verdict v;

	memset(&ref, 0, sizeof(ref));
	v = http_head_check(in, len, &ref);
	ck_assert_msg(v == head_cases[_i].verdict, "case %d: verdict %d (%s)",
		      _i, v, ref.detail);
	if (v != NO)
		return;
	ck_assert_uint_eq(ref.status, head_cases[_i].status);
	ck_assert_ptr_nonnull(ref.title);
	ck_assert_msg(strstr(ref.detail, head_cases[_i].word), "case %d: %s",
		      _i, ref.detail);
}
END_TEST

/* A head one byte at a time: never refused before it is complete, and
 * judged the same at its end. */
START_TEST(test_head_trickle)
{
	const char *in = PUT "Content-Length: 2\r\n\r\n{}";
	size_t head = strlen(in) - 2;
	struct http_refusal ref;

	for (size_t n = 0; n < head; n++)
		ck_assert_int_eq(http_head_check(in, n, &ref), MORE);
	ck_assert_int_eq(http_head_check(in, head, &ref), OK);
}
END_TEST

START_TEST(test_head_too_long)
{
	size_t n = HTTP_HEAD_MAX + 16;
	char *buf = malloc(n);
	struct http_refusal ref;

	ck_assert_ptr_nonnull(buf);
	/* A request line that never ends: 414 once past the limit. */
	memcpy(buf, "GET /", 5);
	memset(buf + 5, 'a', n - 5);
	ck_assert_int_eq(http_head_check(buf, HTTP_HEAD_MAX - 1, &ref), MORE);
	ck_assert_int_eq(http_head_check(buf, n, &ref), NO);
	ck_assert_uint_eq(ref.status, 414);
	/* One that ends past it. */
	memcpy(buf + n - 11, " HTTP/1.1\n", 10);
	ck_assert_int_eq(http_head_check(buf, n, &ref), NO);
	ck_assert_uint_eq(ref.status, 414);
	/* Header fields that do not end: 431. */
	memcpy(buf, "GET / HTTP/1.1\r\nX-A: ", 21);
	memset(buf + 21, 'a', n - 21);
	ck_assert_int_eq(http_head_check(buf, n, &ref), NO);
	ck_assert_uint_eq(ref.status, 431);
	ck_assert_str_eq(ref.title, "Request Header Fields Too Large");
	free(buf);
}
END_TEST

/* A NUL in a field value: refused, not cut short there. */
START_TEST(test_head_nul)
{
	static const char in[] = GET "X-A: a\0z\r\n\r\n";
	struct http_refusal ref;

	ck_assert_int_eq(http_head_check(in, sizeof(in) - 1, &ref), NO);
	ck_assert_uint_eq(ref.status, 400);
	ck_assert_str_eq(ref.field, "X-A");
	ck_assert_str_eq(ref.value, "\\x00");
}
END_TEST

/* What a refusal quotes is printable ASCII whatever came. */
START_TEST(test_refusal_quotes)
{
	struct http_refusal ref;

	ck_assert_int_eq(http_head_check("\x16\x03\x01\x02", 4, &ref), NO);
	ck_assert_str_eq(ref.value, "\\x16\\x03\\x01");
	ck_assert_int_eq(http_head_check(PUT "Content-Length: \xff\r\n\r\n",
					 strlen(PUT) + 21, &ref),
			 NO);
	ck_assert_str_eq(ref.field, "Content-Length");
	ck_assert_str_eq(ref.value, "\\xff");
}
END_TEST

/* The framing checks on fields as libmicrohttpd hands them over. */
START_TEST(test_framing)
{
	struct http_framing f = { 0 };
	struct http_refusal ref;

	http_framing_field(&f, "Host", 4, "x", 1);
	http_framing_field(&f, "Content-Length", 14, "12", 2);
	ck_assert(!http_framing_refused(&f, &ref));
	http_framing_field(&f, "content-length", 14, "012", 3); /* = 12 */
	ck_assert(!http_framing_refused(&f, &ref));
	http_framing_field(&f, "CONTENT-LENGTH", 14, "13", 2);
	ck_assert(http_framing_refused(&f, &ref));
	ck_assert_uint_eq(ref.status, 400);
	ck_assert_str_eq(ref.value, "13");
	ck_assert_ptr_nonnull(strstr(ref.detail, "12 and 13"));

	memset(&f, 0, sizeof(f));
	f.http10 = true;
	http_framing_field(&f, "Transfer-Encoding", 17, "chunked", 7);
	ck_assert(http_framing_refused(&f, &ref));
	ck_assert_uint_eq(ref.status, 400);
}
END_TEST

/* Content-Type, refused (415) or not */
static const struct {
	const char *in;
	bool refused;
	const char *word;
} type_cases[] = {
	{ "application/json", false, NULL },
	{ "Application/JSON", false, NULL },
	{ "application/json; charset=utf-8", false, NULL },
	{ "application/json;charset=\"UTF-8\"", false, NULL },
	{ "application/json ; q=1 ; charset=utf-8", false, NULL },
	{ "application/x-www-form-urlencoded", true,
	  "application/x-www-form-urlencoded" },
	{ "text/plain;charset=UTF-8", true, "text/plain" },
	{ "application/json; charset=latin1", true, "latin1" },
	{ "application/jsonx", true, "application/jsonx" },
	{ "application/json-seq", true, "application/json-seq" },
	{ "json", true, "not a media type" },
	{ "", true, "not a media type" },
	{ "application/json; charset", true, "malformed" },
	{ "application/json; charset=\"utf-8", true, "malformed" },
};

START_TEST(test_content_type)
{
	struct http_refusal ref;
	bool r;

	memset(&ref, 0, sizeof(ref));
	r = http_content_type_refused(type_cases[_i].in, &ref);
	ck_assert_msg(r == type_cases[_i].refused, "case %d: %s", _i,
		      ref.detail);
	if (!r)
		return;
	ck_assert_uint_eq(ref.status, 415);
	ck_assert_str_eq(ref.field, "Content-Type");
	ck_assert_msg(strstr(ref.detail, type_cases[_i].word), "case %d: %s",
		      _i, ref.detail);
}
END_TEST

START_TEST(test_no_content_type_is_json)
{
	struct http_refusal ref;

	ck_assert(!http_content_type_refused(NULL, &ref));
}
END_TEST

static Suite *head_suite(void)
{
	Suite *s = suite_create("http_head");
	TCase *tc = tcase_create("http_head");

	tcase_add_loop_test(tc, test_head, 0,
			    sizeof(head_cases) / sizeof(head_cases[0]));
	tcase_add_test(tc, test_head_trickle);
	tcase_add_test(tc, test_head_nul);
	tcase_add_test(tc, test_head_too_long);
	tcase_add_test(tc, test_refusal_quotes);
	tcase_add_test(tc, test_framing);
	tcase_add_loop_test(tc, test_content_type, 0,
			    sizeof(type_cases) / sizeof(type_cases[0]));
	tcase_add_test(tc, test_no_content_type_is_json);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(head_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
