// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for daemon/auth.c: the bearer token of HTTP and gRPC
 * and which unix socket peers are trusted.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
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

static Suite *auth_suite(void)
{
	Suite *s = suite_create("auth");
	TCase *tc = tcase_create("auth");

	tcase_add_test(tc, test_token_equal);
	tcase_add_loop_test(tc, test_bearer, 0,
			    sizeof(bearer_cases) / sizeof(bearer_cases[0]));
	tcase_add_test(tc, test_peer_allowed);
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
