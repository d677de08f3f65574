// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for daemon/text.c: outside text on its way into log lines
 * and JSON strings.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

/* input, valid UTF-8 (without NUL) */
static const struct {
	const char *in;
	bool valid;
} utf8_cases[] = {
	{ "", true },
	{ "plain ascii", true },
	{ "gr\xc3\xbc\xc3\x9f", true }, /* grüß */
	{ "\xe2\x82\xac", true }, /* € */
	{ "\xf0\x9f\x98\x80", true }, /* U+1F600 */
	{ "\xf4\x8f\xbf\xbf", true }, /* U+10FFFF */
	{ "\xff", false },
	{ "\x80", false }, /* a lone continuation byte */
	{ "\xc3", false }, /* cut after the first byte */
	{ "\xe2\x82", false }, /* cut inside */
	{ "\xc0\xaf", false }, /* overlong '/' */
	{ "\xe0\x80\xaf", false }, /* overlong */
	{ "\xed\xa0\x80", false }, /* a surrogate */
	{ "\xf4\x90\x80\x80", false }, /* above U+10FFFF */
	{ "ok\xc3(", false },
};

START_TEST(test_utf8_valid)
{
	const char *in = utf8_cases[_i].in;

	ck_assert_msg(text_utf8_valid(in, strlen(in)) == utf8_cases[_i].valid,
		      "case %d", _i);
}
END_TEST

START_TEST(test_utf8_nul_is_invalid)
{
	ck_assert(!text_utf8_valid("a\0b", 3));
}
END_TEST

/* input, fixed */
static const struct {
	const char *in, *out;
} fix_cases[] = {
	{ "", "" },
	{ "gr\xc3\xbc\xc3\x9f", "gr\xc3\xbc\xc3\x9f" },
	{ "/\xff", "/?" },
	{ "no such resource: \xe2\x82", "no such resource: ??" },
	{ "\xc0\xaf..", "??.." },
	{ "a\xed\xa0\x80z", "a???z" },
};

START_TEST(test_utf8_fix)
{
	char *s = strdup(fix_cases[_i].in);

	ck_assert_str_eq(text_utf8_fix(s), fix_cases[_i].out);
	ck_assert(text_utf8_valid(s, strlen(s)));
	free(s);
}
END_TEST

/* input, escaped */
static const struct {
	const char *in, *out;
} escape_cases[] = {
	{ "GET /vms -> 200", "GET /vms -> 200" },
	/* A forged line stays part of the one it was sent in. */
	{ "GET /x\n12:00:00.000 info    forged",
	  "GET /x\\x0a12:00:00.000 info    forged" },
	{ "\r\t\x1b[31m\x7f", "\\x0d\\x09\\x1b[31m\\x7f" },
	{ "/\xff\xc3", "/\\xff\\xc3" },
	{ "gr\xc3\xbc\xc3\x9f", "gr\xc3\xbc\xc3\x9f" },
};

START_TEST(test_log_escape)
{
	char out[256];
	size_t n = text_log_escape(escape_cases[_i].in, out, sizeof(out));

	ck_assert_str_eq(out, escape_cases[_i].out);
	ck_assert_uint_eq(n, strlen(out));
	for (size_t i = 0; i < n; i++)
		ck_assert((unsigned char)out[i] >= 0x20 && out[i] != 0x7f);
}
END_TEST

/* Output that does not fit is cut between escapes and characters. */
START_TEST(test_log_escape_cut)
{
	char out[8];

	text_log_escape("abcd\n", out, sizeof(out));
	ck_assert_str_eq(out, "abcd");
	text_log_escape("ab\xc3\xbc\xc3\xbc\xc3\xbc", out, sizeof(out));
	ck_assert_str_eq(out, "ab\xc3\xbc\xc3\xbc");
	ck_assert(text_utf8_valid(out, strlen(out)));
	text_log_escape("x", out, 1);
	ck_assert_str_eq(out, "");
}
END_TEST

static Suite *text_suite(void)
{
	Suite *s = suite_create("text");
	TCase *tc = tcase_create("text");

	tcase_add_loop_test(tc, test_utf8_valid, 0,
			    sizeof(utf8_cases) / sizeof(utf8_cases[0]));
	tcase_add_test(tc, test_utf8_nul_is_invalid);
	tcase_add_loop_test(tc, test_utf8_fix, 0,
			    sizeof(fix_cases) / sizeof(fix_cases[0]));
	tcase_add_loop_test(tc, test_log_escape, 0,
			    sizeof(escape_cases) / sizeof(escape_cases[0]));
	tcase_add_test(tc, test_log_escape_cut);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(text_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
