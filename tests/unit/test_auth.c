// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for daemon/auth.c: the bearer token of HTTP and gRPC
 * and which unix socket peers are trusted.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"

#define TOKEN "0123456789abcdef0123456789abcdef"

START_TEST(test_token_equal)
{
	ck_assert(auth_token_equal(TOKEN, strlen(TOKEN), TOKEN));
	ck_assert(!auth_token_equal("0123456789abcdef0123456789abcdeF", 32,
				    TOKEN));
	ck_assert(!auth_token_equal("1123456789abcdef0123456789abcdef", 32,
				    TOKEN));
	/* A prefix, or more, is not the token. */
	ck_assert(!auth_token_equal(TOKEN, 31, TOKEN));
	ck_assert(!auth_token_equal(TOKEN "0", 33, TOKEN));
	/* No token configured: nobody matches, not even "". */
	ck_assert(!auth_token_equal("", 0, ""));
	ck_assert(!auth_token_equal(TOKEN, 32, ""));
}
END_TEST

/* value, length (-1: strlen), token, credentials_given, authenticated */
static const struct {
	const char *value;
	int len;
	const char *token;
	bool given, auth;
} bearer_cases[] = {
	{ NULL, 0, TOKEN, false, false },
	{ "Bearer " TOKEN, -1, TOKEN, true, true },
	{ "bearer " TOKEN, -1, TOKEN, true, true },
	{ "BEARER   " TOKEN, -1, TOKEN, true, true },
	{ "Bearer " TOKEN "trailing", 39, TOKEN, true, true },
	{ "Bearer wrong", -1, TOKEN, true, false },
	{ "Bearer " TOKEN, -1, "", true, false },
	{ "Basic " TOKEN, -1, TOKEN, true, false },
	{ TOKEN, -1, TOKEN, true, false },
	{ "Bearer", -1, TOKEN, true, false },
	{ "", -1, TOKEN, true, false },
};

START_TEST(test_bearer)
{
	const char *v = bearer_cases[_i].value;
	size_t len = bearer_cases[_i].len < 0 ? (v ? strlen(v) : 0) :
						(size_t)bearer_cases[_i].len;
	struct ctl_caller c;

	memset(&c, 0xa5, sizeof(c));
	auth_bearer_caller(v, len, bearer_cases[_i].token, "grpc test", &c);
	ck_assert_msg(c.credentials_given == bearer_cases[_i].given,
		      "case %d: credentials_given", _i);
	ck_assert_msg(c.authenticated == bearer_cases[_i].auth,
		      "case %d: authenticated", _i);
	ck_assert_str_eq(c.who, "grpc test");
}
END_TEST

START_TEST(test_peer_allowed)
{
	uid_t self = 4242;

	ck_assert(auth_peer_allowed(0, 0, self, NULL));
	ck_assert(auth_peer_allowed(self, 1234, self, NULL));
	ck_assert(!auth_peer_allowed(54321, 54321, self, NULL));
	ck_assert(!auth_peer_allowed(54321, 54321, self, ""));
	/* The group by its primary gid ("root" is gid 0 everywhere). */
	ck_assert(auth_peer_allowed(54321, 0, self, "root"));
	/* Neither primary nor supplementary (an unknown uid has no
	 * groups; membership by /etc/group is getgrouplist()'s, as in the
	 * HTTP API, and would need a fixture user). */
	ck_assert(!auth_peer_allowed(54321, 54321, self, "root"));
	ck_assert(
		!auth_peer_allowed(54321, 0, self, "no-such-group-hyperalloc"));
}
END_TEST

/* ---- the token file ---- */

static int parse(const char *text, size_t len, char *tok, char *why)
{
	return auth_token_parse(text, len, tok, AUTH_TOKEN_MAX + 1, why, 256);
}

START_TEST(test_token_parse_one_line)
{
	char tok[AUTH_TOKEN_MAX + 1], why[256];

	ck_assert_int_eq(parse(TOKEN, 32, tok, why), 0);
	ck_assert_str_eq(tok, TOKEN);
	ck_assert_int_eq(parse(TOKEN "\n", 33, tok, why), 0);
	ck_assert_str_eq(tok, TOKEN);
	ck_assert_int_eq(parse(TOKEN "\r\n", 34, tok, why), 0);
	ck_assert_str_eq(tok, TOKEN);
	/* Anything after the first line is an error, even an empty line. */
	ck_assert_int_eq(parse(TOKEN "\n\n", 34, tok, why), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "more than one line"));
	ck_assert_int_eq(parse(TOKEN "\nsecond", 39, tok, why), -EINVAL);
}
END_TEST

/* The reported attack: "abc\n" padded by a second line reached 16 file
 * bytes and made "abc" the token. */
START_TEST(test_token_parse_short_token_in_long_file)
{
	const char *text = "abc\n0123456789abcdef\n";
	char tok[AUTH_TOKEN_MAX + 1], why[256];

	ck_assert_int_eq(parse(text, strlen(text), tok, why), -EINVAL);
	ck_assert_int_eq(parse("abc\n", 4, tok, why), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "3 characters, fewer than 16"));
	/* 15 characters plus a newline: 16 bytes, still too short */
	ck_assert_int_eq(parse("0123456789abcde\n", 16, tok, why), -EINVAL);
	ck_assert_int_eq(parse("0123456789abcdef\n", 17, tok, why), 0);
	ck_assert_str_eq(tok, "0123456789abcdef");
}
END_TEST

START_TEST(test_token_parse_charset)
{
	char tok[AUTH_TOKEN_MAX + 1], why[256];

	ck_assert_int_eq(parse("0123456789 abcdef", 17, tok, why), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "0x20"));
	ck_assert_int_eq(parse("0123456789\tabcdef", 17, tok, why), -EINVAL);
	ck_assert_int_eq(parse("0123456789\0abcdef", 17, tok, why), -EINVAL);
	ck_assert_int_eq(parse("0123456789\xc3\xa9"
			       "abcdef",
			       18, tok, why),
			 -EINVAL);
	ck_assert_int_eq(parse("0123456789\rabcdef", 17, tok, why), -EINVAL);
	ck_assert_int_eq(parse("!#$%&'()*+,-./:;<=>?@[]^_`{|}~", 30, tok, why),
			 0);
}
END_TEST

/* Long tokens are whole or refused, never cut. */
START_TEST(test_token_parse_long)
{
	char text[AUTH_TOKEN_MAX + 2], tok[AUTH_TOKEN_MAX + 1], why[256];

	memset(text, 'x', sizeof(text));
	text[0] = 'a';
	ck_assert_int_eq(parse(text, 65, tok, why), 0);
	ck_assert_uint_eq(strlen(tok), 65);
	ck_assert_int_eq(parse(text, AUTH_TOKEN_MAX, tok, why), 0);
	ck_assert_uint_eq(strlen(tok), AUTH_TOKEN_MAX);
	ck_assert_int_eq(parse(text, AUTH_TOKEN_MAX + 1, tok, why), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "more than 256"));
	/* a buffer too small for the token is refused, not filled */
	ck_assert_int_eq(auth_token_parse(text, 40, tok, 32, why, sizeof(why)),
			 -EINVAL);
}
END_TEST

static char *token_file(const char *text, size_t len, mode_t mode)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/test_auth.XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

START_TEST(test_token_read_mode)
{
	char tok[AUTH_TOKEN_MAX + 1], why[512];
	char *path = token_file(TOKEN "\n", 33, 0600);

	ck_assert_int_eq(
		auth_token_read(path, tok, sizeof(tok), why, sizeof(why)), 0);
	ck_assert_str_eq(tok, TOKEN);
	/* 0644, 0640, 0606, 0620: refused, naming the file and its mode */
	static const mode_t bad[] = { 0644, 0640, 0604, 0620, 0602, 0660 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char want[16];

		ck_assert_int_eq(chmod(path, bad[i]), 0);
		tok[0] = '\0';
		ck_assert_int_eq(auth_token_read(path, tok, sizeof(tok), why,
						 sizeof(why)),
				 -EPERM);
		ck_assert_str_eq(tok, "");
		ck_assert_ptr_nonnull(strstr(why, path));
		snprintf(want, sizeof(want), "mode %04o", (unsigned)bad[i]);
		ck_assert_msg(strstr(why, want), "%s: no %s", why, want);
	}
	ck_assert_int_eq(chmod(path, 0400), 0);
	ck_assert_int_eq(
		auth_token_read(path, tok, sizeof(tok), why, sizeof(why)), 0);
	unlink(path);
	ck_assert_int_eq(auth_token_read(path, tok, sizeof(tok), why,
					 sizeof(why)),
			 -ENOENT);
}
END_TEST

START_TEST(test_token_read_content)
{
	char tok[AUTH_TOKEN_MAX + 1], why[512], big[AUTH_TOKEN_MAX * 2];
	char *path = token_file("abc\n0123456789abcdef\n", 21, 0600);

	ck_assert_int_eq(auth_token_read(path, tok, sizeof(tok), why,
					 sizeof(why)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, path));
	ck_assert_ptr_nonnull(strstr(why, "more than one line"));
	unlink(path);
	memset(big, 'x', sizeof(big));
	path = token_file(big, sizeof(big), 0600);
	ck_assert_int_eq(auth_token_read(path, tok, sizeof(tok), why,
					 sizeof(why)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "longer than"));
	unlink(path);
	memset(big, 'y', 200);
	big[200] = '\n';
	path = token_file(big, 201, 0600);
	ck_assert_int_eq(
		auth_token_read(path, tok, sizeof(tok), why, sizeof(why)), 0);
	ck_assert_uint_eq(strlen(tok), 200);
	unlink(path);
}
END_TEST

static Suite *auth_suite(void)
{
	Suite *s = suite_create("auth");
	TCase *tc = tcase_create("auth");

	tcase_add_test(tc, test_token_equal);
	tcase_add_loop_test(tc, test_bearer, 0,
			    sizeof(bearer_cases) / sizeof(bearer_cases[0]));
	tcase_add_test(tc, test_peer_allowed);
	tcase_add_test(tc, test_token_parse_one_line);
	tcase_add_test(tc, test_token_parse_short_token_in_long_file);
	tcase_add_test(tc, test_token_parse_charset);
	tcase_add_test(tc, test_token_parse_long);
	tcase_add_test(tc, test_token_read_mode);
	tcase_add_test(tc, test_token_read_content);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(auth_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
