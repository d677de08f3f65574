// SPDX-License-Identifier: GPL-2.0-or-later
/* The gRPC listeners' table of connections handed to gRPC core: who is
 * one client, when a connection is over a limit, and when a connection
 * counts as gone (its fd closed, or its number used again). */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "grpc/conns.h"

static struct grpcd_client v4(const char *a)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in = (void *)&ss;
	struct grpcd_client c;

	memset(&ss, 0, sizeof(ss));
	in->sin_family = AF_INET;
	in->sin_port = htons(40000);
	ck_assert_int_eq(inet_pton(AF_INET, a, &in->sin_addr), 1);
	grpcd_client_from_addr(&ss, &c);
	return c;
}

static struct grpcd_client v6(const char *a)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *in6 = (void *)&ss;
	struct grpcd_client c;

	memset(&ss, 0, sizeof(ss));
	in6->sin6_family = AF_INET6;
	ck_assert_int_eq(inet_pton(AF_INET6, a, &in6->sin6_addr), 1);
	grpcd_client_from_addr(&ss, &c);
	return c;
}

static struct grpcd_client uid(uid_t u)
{
	struct grpcd_client c;

	grpcd_client_from_uid(u, &c);
	return c;
}

START_TEST(test_same_client)
{
	const struct {
		struct grpcd_client a, b;
		bool same;
	} cases[] = {
		{ v4("127.0.0.1"), v4("127.0.0.1"), true },
		{ v4("127.0.0.1"), v4("127.0.0.2"), false },
		{ v6("::1"), v6("::1"), true },
		{ v6("::1"), v6("::2"), false },
		/* a v4-mapped address is not the v4 one (a listener sees
		 * one form or the other, never both) */
		{ v6("::ffff:127.0.0.1"), v4("127.0.0.1"), false },
		{ uid(0), uid(0), true },
		{ uid(0), uid(1000), false },
		{ uid(0), v4("0.0.0.0"), false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_msg(grpcd_client_equal(&cases[i].a, &cases[i].b) ==
				      cases[i].same,
			      "case %zu", i);
		ck_assert_msg(grpcd_client_equal(&cases[i].b, &cases[i].a) ==
				      cases[i].same,
			      "case %zu reversed", i);
	}
}
END_TEST

START_TEST(test_client_desc)
{
	struct grpcd_client a = v4("10.1.2.3"), b = v6("fe80::1"),
			    c = uid(1000);
	char buf[64];

	ck_assert_str_eq(grpcd_client_desc(&a, buf, sizeof(buf)), "10.1.2.3");
	ck_assert_str_eq(grpcd_client_desc(&b, buf, sizeof(buf)), "fe80::1");
	ck_assert_str_eq(grpcd_client_desc(&c, buf, sizeof(buf)), "uid 1000");
}
END_TEST

/* A table of clients (no fds: judging looks at nothing else). */
static void fill(struct grpcd_conns *t, const struct grpcd_client *c, size_t n)
{
	t->v = calloc(n ? n : 1, sizeof(*t->v));
	ck_assert_ptr_nonnull(t->v);
	t->n = t->cap = n;
	for (size_t i = 0; i < n; i++) {
		t->v[i].fd = -1;
		t->v[i].client = c[i];
	}
}

START_TEST(test_judge)
{
	const struct grpcd_client held[] = {
		v4("127.0.0.1"), v4("127.0.0.1"), v4("127.0.0.1"),
		v4("127.0.0.2"), uid(0),
	};
	const struct {
		struct grpcd_client c;
		size_t n, max, per_client;
		enum grpcd_admit want;
		size_t same;
	} cases[] = {
		{ v4("127.0.0.1"), 5, 8, 4, GRPCD_ADMIT_OK, 3 },
		{ v4("127.0.0.1"), 5, 8, 3, GRPCD_ADMIT_OVER_CLIENT, 3 },
		{ v4("127.0.0.2"), 5, 8, 1, GRPCD_ADMIT_OVER_CLIENT, 1 },
		{ v4("127.0.0.3"), 5, 8, 1, GRPCD_ADMIT_OK, 0 },
		{ uid(0), 5, 8, 1, GRPCD_ADMIT_OVER_CLIENT, 1 },
		{ uid(1), 5, 8, 1, GRPCD_ADMIT_OK, 0 },
		/* the listener's limit first, whoever asks */
		{ v4("127.0.0.3"), 5, 5, 4, GRPCD_ADMIT_OVER_MAX, 0 },
		{ v4("127.0.0.1"), 5, 5, 3, GRPCD_ADMIT_OVER_MAX, 3 },
		{ v4("127.0.0.3"), 4, 5, 4, GRPCD_ADMIT_OK, 0 },
		{ v4("127.0.0.1"), 0, 2, 1, GRPCD_ADMIT_OK, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct grpcd_conns t = { 0 };
		size_t same = 99;

		fill(&t, held, cases[i].n);
		ck_assert_msg(grpcd_conns_judge(&t, &cases[i].c, cases[i].max,
						cases[i].per_client,
						&same) == cases[i].want,
			      "case %zu", i);
		ck_assert_msg(same == cases[i].same, "case %zu: same %zu", i,
			      same);
		grpcd_conns_clear(&t);
		ck_assert_ptr_null(t.v);
		ck_assert_uint_eq(t.n, 0);
	}
}
END_TEST

static int sock(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	return fd;
}

START_TEST(test_prune)
{
	struct grpcd_client c = v4("127.0.0.1");
	struct grpcd_conns t = { 0 };
	int fd[40], again, other;

	for (int i = 0; i < 40; i++) {
		fd[i] = sock();
		ck_assert_int_eq(grpcd_conns_add(&t, fd[i], &c), 0);
	}
	ck_assert_uint_eq(t.n, 40);
	ck_assert_uint_eq(grpcd_conns_prune(&t), 0);
	ck_assert_uint_eq(t.n, 40);

	/* Closed, and the number taken by a new socket (the lowest free
	 * one): gone, though the fd is open. */
	close(fd[7]);
	again = sock();
	ck_assert_int_eq(again, fd[7]);
	ck_assert_uint_eq(grpcd_conns_prune(&t), 1);
	ck_assert_uint_eq(t.n, 39);
	/* Replaced in place, without a moment closed. */
	other = sock();
	ck_assert_int_eq(dup2(other, fd[8]), fd[8]);
	ck_assert_uint_eq(grpcd_conns_prune(&t), 1);
	ck_assert_uint_eq(t.n, 38);
	/* The new socket on the old number is a connection of its own. */
	ck_assert_int_eq(grpcd_conns_add(&t, again, &c), 0);
	ck_assert_uint_eq(grpcd_conns_prune(&t), 0);
	ck_assert_uint_eq(t.n, 39);

	/* Closed (by gRPC core): gone. */
	close(fd[3]);
	close(fd[20]);
	ck_assert_uint_eq(grpcd_conns_prune(&t), 2);
	ck_assert_uint_eq(t.n, 37);

	/* Those left are exactly the open ones. */
	for (size_t i = 0; i < t.n; i++)
		for (int j = 0; j < 40; j++)
			if (j == 3 || j == 20 || j == 8)
				ck_assert_int_ne(t.v[i].fd, fd[j]);

	ck_assert_int_eq(grpcd_conns_add(&t, 1000000, &c), -EBADF);
	ck_assert_uint_eq(t.n, 37);
	for (int i = 0; i < 40; i++)
		if (i != 3 && i != 20)
			close(fd[i]);
	close(other);
	ck_assert_uint_eq(grpcd_conns_prune(&t), 37);
	ck_assert_uint_eq(t.n, 0);
	grpcd_conns_clear(&t);
}
END_TEST

static Suite *conns_suite(void)
{
	Suite *s = suite_create("grpc_conns");
	TCase *tc = tcase_create("conns");

	tcase_add_test(tc, test_same_client);
	tcase_add_test(tc, test_client_desc);
	tcase_add_test(tc, test_judge);
	tcase_add_test(tc, test_prune);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(conns_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
