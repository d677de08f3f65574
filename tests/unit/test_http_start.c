// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Starting the HTTP server without a running loop thread: bad listen
 * addresses, a socket file in the way or left by a crashed daemon, IPv6,
 * and the kind of a socket handed over by systemd. Uses the struct daemon
 * of tests/unit/http_fixture.h, set up without its loop thread.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "http/server.h"
#include "http_fixture.h"

/* ---- start-up without a running loop thread ---- */

static int start_group(const char *tcp, const char *unix_path,
		       const char *group, struct http_server **ret)
{
	static struct config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.api.tcp = (char *)tcp;
	cfg.api.unix_path = (char *)unix_path;
	cfg.api.unix_group = (char *)group;
	fx.d->cfg = &cfg;
	return http_server_start(fx.d, ret);
}

static int start_with(const char *tcp, const char *unix_path,
		      struct http_server **ret)
{
	return start_group(tcp, unix_path, NULL, ret);
}

static void plain_setup(void)
{
	memset(&fx, 0, sizeof(fx));
	fx.d = calloc(1, sizeof(*fx.d));
	ck_assert_ptr_nonnull(fx.d);
	event_bus_init(&fx.d->bus);
	ck_assert_int_ge(sd_event_new(&fx.d->loop), 0);
	strcpy(fx.dir, "/tmp/ha-http-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(fx.dir));
	snprintf(fx.sock, sizeof(fx.sock), "%s/api.sock", fx.dir);
}

static void plain_teardown(void)
{
	sd_event_unref(fx.d->loop);
	unlink(fx.sock);
	rmdir(fx.dir);
	free(fx.d);
}

START_TEST(test_start_errors)
{
	struct http_server *s = NULL;
	int fd;

	ck_assert_int_eq(start_with(NULL, NULL, &s), -ENOENT);
	ck_assert_int_eq(start_with("nonsense", NULL, &s), -EINVAL);
	ck_assert_int_eq(start_with("127.0.0.1:99999", NULL, &s), -EINVAL);
	ck_assert_int_eq(start_with("::1:80", NULL, &s), -EINVAL);
	/* a file that is not a socket is never removed */
	fd = open(fx.sock, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(start_with(NULL, fx.sock, &s), -EEXIST);
	ck_assert_int_eq(access(fx.sock, F_OK), 0);
	unlink(fx.sock);
	/* nor does a failed start leave anything behind */
	ck_assert_int_eq(start_group("127.0.0.1:0", fx.sock,
				     "no-such-group-hyperalloc", &s),
			 -EINVAL);
	ck_assert_int_eq(access(fx.sock, F_OK), -1);
}
END_TEST

/* A socket file left by a crashed daemon is replaced. */
START_TEST(test_stale_socket)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct http_server *s = NULL;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fx.sock);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd); /* bound, never listening: nobody answers */
	ck_assert_int_eq(start_with(NULL, fx.sock, &s), 0);
	fd = fx_unix_connect(fx.sock);
	ck_assert_int_ge(fd, 0);
	close(fd);
	http_server_stop(s);
	ck_assert_int_eq(access(fx.sock, F_OK), -1);
}
END_TEST

START_TEST(test_ipv6)
{
	struct http_server *s = NULL;
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6,
				   .sin6_addr = IN6ADDR_LOOPBACK_INIT };

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (fd >= 0)
			close(fd);
		return; /* no IPv6 here */
	}
	close(fd);
	ck_assert_int_eq(start_with("[::1]:0", NULL, &s), 0);
	ck_assert_uint_ne(http_server_tcp_port(s), 0);
	http_server_stop(s);
}
END_TEST

static int listening(int family, int type, bool do_listen)
{
	int fd = socket(family, type | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	if (family == AF_UNIX) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		/* abstract address: nothing to clean up */
		snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1,
			 "ha-http-test-%d-%d", (int)getpid(), fd);
		ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)),
				 0);
	} else {
		struct sockaddr_in sa = { .sin_family = AF_INET,
					  .sin_addr.s_addr =
						  htonl(INADDR_LOOPBACK) };

		ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)),
				 0);
	}
	if (do_listen)
		ck_assert_int_eq(listen(fd, 1), 0);
	return fd;
}

START_TEST(test_listen_fd_kind)
{
	int u = listening(AF_UNIX, SOCK_STREAM, true);
	int t = listening(AF_INET, SOCK_STREAM, true);
	int idle = listening(AF_INET, SOCK_STREAM, false);
	int dgram = listening(AF_UNIX, SOCK_DGRAM, false);

	ck_assert_int_eq(http_listen_fd_kind(u, NULL), HTTP_LISTEN_UNIX);
	ck_assert_int_eq(http_listen_fd_kind(u, "unknown"), HTTP_LISTEN_UNIX);
	ck_assert_int_eq(http_listen_fd_kind(t, NULL), HTTP_LISTEN_TCP);
	ck_assert_int_eq(http_listen_fd_kind(t, "http"), HTTP_LISTEN_TCP);
	ck_assert_int_eq(http_listen_fd_kind(u, "http-unix"), HTTP_LISTEN_UNIX);
	/* the name decides, whatever the family */
	ck_assert_int_eq(http_listen_fd_kind(u, "http"), HTTP_LISTEN_TCP);
	ck_assert_int_eq(http_listen_fd_kind(t, "grpc"), HTTP_LISTEN_IGNORE);
	ck_assert_int_eq(http_listen_fd_kind(idle, NULL), -ENOTSOCK);
	ck_assert_int_eq(http_listen_fd_kind(dgram, "http-unix"), -ENOTSOCK);
	close(u);
	close(t);
	close(idle);
	close(dgram);
}
END_TEST

static Suite *http_start_suite(void)
{
	Suite *s = suite_create("http_start");
	TCase *tc;

	tc = tcase_create("start");
	tcase_add_checked_fixture(tc, plain_setup, plain_teardown);
	tcase_add_test(tc, test_start_errors);
	tcase_add_test(tc, test_stale_socket);
	tcase_add_test(tc, test_ipv6);
	tcase_add_test(tc, test_listen_fd_kind);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(http_start_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
