// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * hactl end to end: the built binary (HACTL_BIN) run against the real HTTP
 * server of tests/unit/http_fixture.h, over the unix socket and TCP.
 * Checks what people and scripts rely on: the tables, --json, the error
 * line for problem+json answers, exit codes 0/1/2, and watch.
 */
#include <check.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http_fixture.h"

#ifndef HACTL_BIN
#error "HACTL_BIN (the hactl binary to test) comes from mk/http.mk"
#endif

/* Start hactl with the NULL-terminated @args; its stdout and stderr
 * are the returned pipes. */
static pid_t hactl_spawn(const char *const *args, int *ret_out, int *ret_err)
{
	const char *argv[32] = { HACTL_BIN };
	int out[2], err[2];
	size_t n = 1;
	pid_t pid;

	for (; args[n - 1]; n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(err, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		unsetenv("HACTL_SOCKET");
		unsetenv("HACTL_URL");
		unsetenv("HACTL_TOKEN");
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	*ret_out = out[0];
	*ret_err = err[0];
	return pid;
}

/* Run hactl to its end; returns its exit status. */
static int hactl_run(char *out, char *err, size_t len, ...)
{
	const char *args[30];
	struct pollfd pfd[2];
	size_t n = 0, got[2] = { 0, 0 };
	char *bufs[2] = { out, err };
	va_list ap;
	pid_t pid;
	int st, open_fds = 2;

	va_start(ap, len);
	while ((args[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	pid = hactl_spawn(args, &pfd[0].fd, &pfd[1].fd);
	pfd[0].events = pfd[1].events = POLLIN;
	while (open_fds) {
		ck_assert_int_gt(poll(pfd, 2, WAIT_MS), 0);
		for (int i = 0; i < 2; i++) {
			ssize_t k;

			if (pfd[i].fd < 0 || !pfd[i].revents)
				continue;
			k = read(pfd[i].fd, bufs[i] + got[i], len - got[i] - 1);
			if (k <= 0) {
				close(pfd[i].fd);
				pfd[i].fd = -1;
				open_fds--;
			} else {
				got[i] += (size_t)k;
			}
		}
	}
	out[got[0]] = '\0';
	err[got[1]] = '\0';
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	return WEXITSTATUS(st);
}

#define HACTL(...) hactl_run(out, err, sizeof(out), __VA_ARGS__, NULL)

START_TEST(test_hactl)
{
	char out[16384], err[4096], url[64], token[128];
	const char *s = fx.sock;
	json_t *j;
	FILE *f;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u", fx.port);
	snprintf(token, sizeof(token), "%s/token", fx.dir);

	ck_assert_int_eq(HACTL("--socket", s, "vms"), 0);
	ck_assert_msg(strstr(out, "sim-1") && strstr(out, "virtio-balloon") &&
			      strstr(out, "1 GiB") && strstr(out, "512 MiB"),
		      "%s", out);
	ck_assert_int_eq(HACTL("--socket", s, "set", "sim-1", "--target",
			       "512M", "--auto", "on"),
			 0);
	ck_assert_msg(strstr(out, "512 MiB (manual)"), "%s", out);
	ck_assert_msg(strstr(out, "auto reclaim:      on"), "%s", out);

	/* TCP: a change needs the token */
	ck_assert_int_eq(
		HACTL("--url", url, "set", "sim-1", "--target", "600M"), 1);
	ck_assert_msg(strncmp(err, "hactl: ", 7) == 0, "%s", err);
	ck_assert_ptr_nonnull(strstr(err, "--token-file"));
	f = fopen(token, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "%s\n", TOKEN);
	fclose(f);
	ck_assert_int_eq(HACTL("--url", url, "--token-file", token, "set",
			       "sim-1", "--target", "5G"),
			 1);
	ck_assert_msg(strstr(err, "(field target_bytes, value 5368709120)\n"),
		      "%s", err);
	ck_assert_int_eq(HACTL("--url", url, "--token-file", token, "set",
			       "sim-1", "--max", "768M"),
			 0);
	unlink(token);

	ck_assert_int_eq(HACTL("--socket", s, "--json", "show", "sim-1"), 0);
	j = json_loads(out, 0, NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(json_string_value(json_object_get(j, "id")), "sim-1");
	ck_assert_int_eq(json_integer_value(json_object_get(
				 json_object_get(j, "memory"), "max_bytes")),
			 768ll << 20);
	json_decref(j);

	ck_assert_int_eq(HACTL("--socket", s, "show", "nope"), 1);
	ck_assert_msg(strstr(err, "(field id, value nope)"), "%s", err);
	ck_assert_int_eq(HACTL("--socket", s, "release", "sim-1"), 0);
	ck_assert_msg(strstr(out, "(policy)"), "%s", out);
	ck_assert_int_eq(HACTL("--socket", s, "policy", "set", "--tick", "500",
			       "--param", "k=1"),
			 0);
	ck_assert_msg(strstr(out, "500 ms") && strstr(out, "{\"k\":1}"), "%s",
		      out);
	ck_assert_int_eq(HACTL("--socket", s, "host"), 0);
	ck_assert_msg(strstr(out, "16 GiB"), "%s", out);
	ck_assert_int_eq(HACTL("--socket", s, "metrics"), 0);
	ck_assert_ptr_nonnull(strstr(out, "\nhyperalloc_up 1\n"));

	/* usage errors exit 2 and do not reach the daemon */
	ck_assert_int_eq(HACTL("bogus"), 2);
	ck_assert_int_eq(HACTL("show"), 2);
	ck_assert_int_eq(HACTL("--socket", s, "set", "sim-1", "--target", "1X"),
			 2);
	ck_assert_int_eq(HACTL("--socket", s, "set", "sim-1"), 2);
	ck_assert_int_eq(HACTL("--socket", s, "vms", "--target", "1G"), 2);
	ck_assert_int_eq(HACTL("--socket", s, "--url", url, "vms"), 2);
	ck_assert_int_eq(HACTL("--help"), 0);
	ck_assert_ptr_nonnull(strstr(out, "policy set"));
	ck_assert_int_eq(HACTL("set", "--help"), 0);
	ck_assert_ptr_nonnull(strstr(out, "--target SIZE"));
	/* and a daemon that is not there is an API error */
	ck_assert_int_eq(HACTL("--socket", "/nonexistent/x.sock", "vms"), 1);
}
END_TEST

/* The single JSON object on stderr (a problem object); fails if there is
 * anything else. The caller releases it. */
static json_t *problem_of(const char *err)
{
	json_error_t e;
	json_t *j = json_loads(err, 0, &e);

	ck_assert_msg(j && json_is_object(j), "not one JSON object: %s (%s)",
		      err, e.text);
	ck_assert_msg(strchr(err, '\n') == err + strlen(err) - 1,
		      "not one line: %s", err);
	return j;
}

static const char *member(json_t *j, const char *key)
{
	const char *v = json_string_value(json_object_get(j, key));

	ck_assert_msg(v != NULL, "no string %s", key);
	return v;
}

/* --json: errors are JSON too, on stderr, with the exit status of the
 * error; messages name the ranges the daemon accepts. */
START_TEST(test_hactl_json_errors)
{
	char out[16384], err[4096];
	const char *s = fx.sock;
	json_t *j;

	/* the daemon's problem object, as it sent it */
	ck_assert_int_eq(HACTL("--socket", s, "--json", "show", "nope"), 1);
	ck_assert_str_eq(out, "");
	j = problem_of(err);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "status")), 404);
	ck_assert_str_eq(member(j, "field"), "id");
	ck_assert_str_eq(member(j, "value"), "nope");
	json_decref(j);
	ck_assert_int_eq(HACTL("--json", "--socket", s, "set", "sim-1",
			       "--target", "5G"),
			 1);
	j = problem_of(err);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "status")), 422);
	ck_assert_str_eq(member(j, "field"), "target_bytes");
	json_decref(j);

	/* hactl's own: a usage error, exit 2, with the real range */
	ck_assert_int_eq(HACTL("--socket", s, "set", "sim-1", "--shares", "abc",
			       "--json"),
			 2);
	j = problem_of(err);
	ck_assert_str_eq(member(j, "type"), "urn:hyperalloc:hactl:usage");
	ck_assert_str_eq(member(j, "field"), "--shares");
	ck_assert_str_eq(member(j, "value"), "abc");
	ck_assert_msg(strstr(member(j, "detail"), "1..100000"), "%s", err);
	json_decref(j);
	/* an option before --json, and an unknown command */
	ck_assert_int_eq(HACTL("--tick", "5", "--json", "policy", "set"), 2);
	j = problem_of(err);
	ck_assert_msg(strstr(member(j, "detail"), "100..3600000"), "%s", err);
	json_decref(j);
	ck_assert_int_eq(HACTL("--json", "bogus"), 2);
	json_decref(problem_of(err));

	/* no daemon there: exit 1, a problem of kind unreachable */
	ck_assert_int_eq(
		HACTL("--json", "--socket", "/nonexistent/x.sock", "vms"), 1);
	j = problem_of(err);
	ck_assert_str_eq(member(j, "type"), "urn:hyperalloc:hactl:unreachable");
	json_decref(j);

	/* without --json the same errors are sentences, ranges included */
	ck_assert_int_eq(HACTL("--socket", s, "set", "sim-1", "--shares", "0"),
			 2);
	ck_assert_msg(strstr(err, "hactl: --shares 0: expected an integer in "
				  "1..100000\n"),
		      "%s", err);
	ck_assert_int_eq(HACTL("--socket", s, "policy", "set", "--ratio", "0"),
			 2);
	ck_assert_msg(strstr(err, "0.1..100"), "%s", err);
	ck_assert_int_eq(
		HACTL("--socket", s, "set", "sim-1", "--shares", "100000"), 0);
}
END_TEST

START_TEST(test_hactl_watch)
{
	const char *args[] = { "--socket", fx.sock, "watch", NULL };
	char buf[8192] = "";
	size_t n = 0;
	int out, err, st;
	pid_t pid;

	pid = hactl_spawn(args, &out, &err);
	for (int i = 0; i < 500 && fx_call('n') == 0; i++)
		usleep(10000);
	fx_call('p');
	while (!strstr(buf, "test event\n")) {
		struct pollfd pfd = { .fd = out, .events = POLLIN };
		ssize_t k;

		ck_assert_msg(poll(&pfd, 1, WAIT_MS) == 1, "no event line");
		k = read(out, buf + n, sizeof(buf) - n - 1);
		ck_assert_int_gt(k, 0);
		n += (size_t)k;
		buf[n] = '\0';
	}
	/* one line: time, type, vm, message */
	ck_assert_msg(strstr(buf, "Z daemon_error ") &&
			      strstr(buf, " sim-2 ") &&
			      strstr(buf, "test event\n"),
		      "%s", buf);
	kill(pid, SIGTERM);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	close(out);
	close(err);
}
END_TEST

static Suite *hactl_suite(void)
{
	Suite *s = suite_create("hactl");
	TCase *tc = tcase_create("hactl");

	tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_hactl);
	tcase_add_test(tc, test_hactl_watch);
	tcase_add_test(tc, test_hactl_json_errors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(hactl_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
