// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The HTTP server in process: daemon/http/server.c with the real
 * libmicrohttpd inside a real sd-event loop and a plain-socket client
 * speaking HTTP/1.1 over 127.0.0.1 and a unix socket
 * (tests/unit/http_fixture.h), over the real control API with a stub
 * engine. Requests, answers and their limits, and who may change what; the event stream is test_http_sse.c, starting the server
 * test_http_start.c.
 */
#include <check.h>
#include <errno.h>
#include <grp.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http_fixture.h"
#include "http/routes.h"
#include "state.h"

/* ---- tests ---- */

START_TEST(test_healthz)
{
	struct fx_reply r;
	char ct[128];
	json_t *j;

	fx_request(false, "GET", "/healthz", NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(fx_header(&r, "Content-Type", ct, sizeof(ct)),
			 "application/json");
	ck_assert_str_eq(fx_header(&r, "Cache-Control", ct, sizeof(ct)),
			 "no-store");
	j = fx_reply_json(&r);
	ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "ok");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "vms")), 3);
	ck_assert(json_is_integer(json_object_get(j, "uptime_s")));
	json_decref(j);
	fx_reply_free(&r);

	/* the same over the unix socket */
	fx_request(true, "GET", "/healthz", NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	fx_reply_free(&r);
}
END_TEST

START_TEST(test_get_vms)
{
	struct fx_reply r;
	json_t *j, *vms, *mem;

	fx_request(false, "GET", "/vms", NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	j = fx_reply_json(&r);
	vms = json_object_get(j, "vms");
	ck_assert_uint_eq(json_array_size(vms), 3);
	ck_assert_str_eq(json_string_value(
				 json_object_get(json_array_get(vms, 0), "id")),
			 "sim-1");
	ck_assert_str_eq(json_string_value(json_object_get(
				 json_array_get(vms, 2), "mechanism")),
			 "virtio-balloon");
	json_decref(j);
	fx_reply_free(&r);

	/* by uuid, with counters */
	fx_request(false, "GET", "/vms/6a1d1a8e-5f7e-4d3c-9b2a-0c1d2e3f4a5b",
		   NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	j = fx_reply_json(&r);
	ck_assert_str_eq(json_string_value(json_object_get(j, "id")), "sim-1");
	ck_assert(json_is_object(json_object_get(j, "counters")));
	ck_assert(json_is_string(json_object_get(j, "state_reason")));
	json_decref(j);
	fx_reply_free(&r);

	fx_request(true, "GET", "/vms/sim-2/memory", NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	mem = fx_reply_json(&r);
	ck_assert_int_eq(json_integer_value(json_object_get(mem, "max_bytes")),
			 2ll << 30);
	ck_assert_str_eq(
		json_string_value(json_object_get(mem, "target_source")),
		"policy");
	json_decref(mem);
	fx_reply_free(&r);

	/* HEAD: the headers of GET, no body */
	fx_request(false, "HEAD", "/vms", NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(r.len, 0);
	fx_reply_free(&r);
}
END_TEST

START_TEST(test_not_found)
{
	struct fx_reply r;

	fx_request(false, "GET", "/vms/nope", NULL, NULL, &r);
	fx_assert_problem(&r, 404, "id");
	fx_reply_free(&r);
	fx_request(false, "GET", "/vms/nope/memory", NULL, NULL, &r);
	fx_assert_problem(&r, 404, "id");
	fx_reply_free(&r);
	fx_request(false, "GET", "/nope", NULL, NULL, &r);
	fx_assert_problem(&r, 404, NULL);
	fx_reply_free(&r);
	fx_request(false, "PATCH", "/vms/nope/memory", AUTH, "{}", &r);
	fx_assert_problem(&r, 404, "id");
	fx_reply_free(&r);
}
END_TEST

START_TEST(test_method_not_allowed)
{
	struct fx_reply r;
	char allow[128];

	fx_request(false, "DELETE", "/vms", AUTH, NULL, &r);
	fx_assert_problem(&r, 405, NULL);
	ck_assert_str_eq(fx_header(&r, "Allow", allow, sizeof(allow)),
			 "GET, HEAD");
	fx_reply_free(&r);

	fx_request(false, "POST", "/vms/sim-1/memory", AUTH, "{}", &r);
	fx_assert_problem(&r, 405, NULL);
	ck_assert_str_eq(fx_header(&r, "Allow", allow, sizeof(allow)),
			 "GET, HEAD, PUT, PATCH");
	fx_reply_free(&r);
}
END_TEST

/* Does the state file on disk give @vm the manual target @target? */
static bool state_file_has(const char *vm, uint64_t target)
{
	struct state_store *s = NULL;
	struct vm_saved v;
	char warning[512];
	bool ok;

	if (access(fx.state_path, F_OK) != 0)
		return false;
	ck_assert_int_eq(
		state_open(fx.state_path, &s, warning, sizeof(warning)), 0);
	ok = state_lookup(s, vm, &v) == 0 && v.has_target &&
	     v.target_bytes == target;
	state_close(s);
	return ok;
}

/* A change is answered once it is in the state file, on both sockets. */
START_TEST(test_change_is_on_disk_when_answered)
{
	struct fx_reply r;

	ck_assert(!state_file_has("sim-1", 768ull << 20));
	fx_request(false, "PATCH", "/vms/sim-1/memory", AUTH,
		   "{\"target_bytes\": 805306368}", &r);
	ck_assert_int_eq(r.status, 200);
	fx_reply_free(&r);
	ck_assert(state_file_has("sim-1", 768ull << 20));
	fx_request(true, "PATCH", "/vms/sim-2/memory", NULL,
		   "{\"target_bytes\": 1073741824}", &r);
	ck_assert_int_eq(r.status, 200);
	fx_reply_free(&r);
	ck_assert(state_file_has("sim-2", 1ull << 30));
}
END_TEST

/* A change that cannot be written is not acknowledged. */
START_TEST(test_change_not_written_is_not_acked)
{
	struct fx_reply r;
	char moved[128];

	snprintf(moved, sizeof(moved), "%s.away", fx.dir);
	ck_assert_int_eq(rename(fx.dir, moved), 0);
	fx_request(false, "PATCH", "/vms/sim-1/memory", AUTH,
		   "{\"target_bytes\": 805306368}", &r);
	ck_assert_int_eq(rename(moved, fx.dir), 0);
	fx_assert_problem(&r, 500, NULL);
	ck_assert_ptr_nonnull(strstr(r.body, "state file"));
	fx_reply_free(&r);
	ck_assert(!state_file_has("sim-1", 768ull << 20));
}
END_TEST

START_TEST(test_bad_body)
{
	struct fx_reply r;

	fx_request(false, "PUT", "/vms/sim-1/memory", AUTH, "{", &r);
	fx_assert_problem(&r, 400, NULL);
	fx_reply_free(&r);
	fx_request(false, "PATCH", "/vms/sim-1/memory", AUTH, NULL, &r);
	fx_assert_problem(&r, 400, NULL);
	fx_reply_free(&r);
	fx_request(false, "PATCH", "/vms/sim-1/memory", AUTH,
		   "{\"target_bytes\": 1, \"colour\": \"red\"}", &r);
	fx_assert_problem(&r, 400, "colour");
	fx_reply_free(&r);
	fx_request(false, "PATCH", "/vms/sim-1/memory", AUTH,
		   "{\"target_bytes\": 18446744073709551616}", &r);
	fx_assert_problem(&r, 400, "target_bytes");
	fx_reply_free(&r);
	fx_request(false, "PATCH", "/vms/sim-1/memory", AUTH,
		   "{\"target_bytes\": -5}", &r);
	fx_assert_problem(&r, 400, "target_bytes");
	fx_reply_free(&r);
	/* well-formed but out of range is ctl's 422 */
	fx_request(false, "PATCH", "/vms/sim-1/memory", AUTH,
		   "{\"target_bytes\": 1}", &r);
	fx_assert_problem(&r, 422, "target_bytes");
	fx_reply_free(&r);
	fx_request(false, "PUT", "/policy", AUTH, "{\"tick_ms\": \"fast\"}",
		   &r);
	fx_assert_problem(&r, 400, "tick_ms");
	fx_reply_free(&r);
	/* ctl's own rules: max within the VM's RAM, soft reclaim only where
	 * the mechanism has one (bal-1 has not) */
	fx_request(false, "PATCH", "/vms/sim-1/memory", AUTH,
		   "{\"max_bytes\": 1073741825}", &r);
	fx_assert_problem(&r, 422, "max_bytes");
	fx_reply_free(&r);
	fx_request(false, "PATCH", "/vms/bal-1/memory", AUTH,
		   "{\"auto_reclaim\": true}", &r);
	fx_assert_problem(&r, 422, "auto_reclaim");
	fx_reply_free(&r);
}
END_TEST

/* A body announced larger than api.max_body_bytes is refused; one
 * exactly at the limit is fine. */
START_TEST(test_too_large)
{
	size_t big = 16u << 20; /* far more than the socket buffers */
	char *body = malloc(big + 1);
	struct fx_reply r;

	ck_assert_ptr_nonnull(body);
	memset(body, ' ', big);
	body[0] = '{';
	body[big - 1] = '}';
	body[big] = '\0';
	/* The client sends it all before reading: the server must read it
	 * away and answer, not reset the connection under the client. */
	fx_request(false, "PATCH", "/vms/sim-1/memory", AUTH, body, &r);
	fx_assert_problem(&r, 413, NULL);
	fx_reply_free(&r);

	body[4 * MAX_BODY - 1] = '}';
	body[4 * MAX_BODY] = '\0';
	fx_request(true, "PUT", "/policy", NULL, body, &r);
	fx_assert_problem(&r, 413, NULL);
	fx_reply_free(&r);

	body[MAX_BODY - 1] = '}';
	body[MAX_BODY] = '\0';
	fx_request(false, "PATCH", "/vms/sim-1/memory", AUTH, body, &r);
	ck_assert_int_eq(r.status, 200);
	fx_reply_free(&r);
	free(body);
}
END_TEST

/* A client that waits for "100 Continue", or announces an absurd size,
 * gets its 413 before sending the body. */
START_TEST(test_too_large_early)
{
	static const char *const heads[] = {
		"Content-Length: 1000000\r\nExpect: 100-continue\r\n",
		"Content-Length: 1099511627776\r\n",
	};

	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		struct fx_reply r;
		char h[512];
		int fd = fx_tcp_connect();

		snprintf(h, sizeof(h), "Connection: close\r\n" AUTH "%s",
			 heads[i]);
		fx_send_request(fd, "PATCH", "/vms/sim-1/memory", h, NULL);
		fx_read_reply(fd, &r);
		close(fd);
		fx_assert_problem(&r, 413, NULL);
		ck_assert_ptr_null(strstr(r.head, "100 Continue"));
		fx_reply_free(&r);
	}
}
END_TEST

/* Without Content-Length (chunked upload) the size is checked as the
 * body arrives. */
START_TEST(test_too_large_chunked)
{
	const char *small = "10\r\n{\"shares\": 500}\r\n0\r\n\r\n";
	char chunk[700];
	struct fx_reply r;
	int fd = fx_tcp_connect();

	memset(chunk, ' ', sizeof(chunk));
	fx_send_request(fd, "PATCH", "/vms/sim-1/memory",
			"Connection: close\r\n" AUTH
			"Transfer-Encoding: chunked\r\n",
			NULL);
	for (int i = 0; i < 3; i++) {
		fx_send_all(fd, "2bc\r\n", 5);
		fx_send_all(fd, chunk, sizeof(chunk));
		fx_send_all(fd, "\r\n", 2);
	}
	fx_send_all(fd, "0\r\n\r\n", 5);
	fx_read_reply(fd, &r);
	close(fd);
	fx_assert_problem(&r, 413, NULL);
	fx_reply_free(&r);

	/* a small chunked body goes through */
	fd = fx_tcp_connect();
	fx_send_request(fd, "PATCH", "/vms/sim-1/memory",
			"Connection: close\r\n" AUTH
			"Transfer-Encoding: chunked\r\n",
			NULL);
	fx_send_all(fd, small, strlen(small));
	fx_read_reply(fd, &r);
	close(fd);
	ck_assert_int_eq(r.status, 200);
	fx_reply_free(&r);
}
END_TEST

START_TEST(test_auth_tcp)
{
	const char *body = "{\"target_bytes\": 536870912}";
	struct fx_reply r;
	char h[128];
	json_t *j;

	fx_request(false, "PATCH", "/vms/sim-1/memory", NULL, body, &r);
	fx_assert_problem(&r, 401, NULL);
	ck_assert_ptr_nonnull(fx_header(&r, "WWW-Authenticate", h, sizeof(h)));
	fx_reply_free(&r);

	fx_request(false, "PATCH", "/vms/sim-1/memory",
		   "Authorization: Bearer nope\r\n", body, &r);
	fx_assert_problem(&r, 403, NULL);
	fx_reply_free(&r);

	/* the right token, one character short */
	fx_request(false, "PATCH", "/vms/sim-1/memory",
		   "Authorization: Bearer " TOKEN "x\r\n", body, &r);
	fx_assert_problem(&r, 403, NULL);
	fx_reply_free(&r);

	fx_request(false, "PATCH", "/vms/sim-1/memory",
		   "Authorization: Basic dXNlcjpwYXNz\r\n", body, &r);
	fx_assert_problem(&r, 403, NULL);
	fx_reply_free(&r);

	/* reads need nothing; the failed writes changed nothing */
	fx_request(false, "GET", "/vms/sim-1/memory", NULL, NULL, &r);
	j = fx_reply_json(&r);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "target_bytes")),
			 1ll << 30);
	json_decref(j);
	fx_reply_free(&r);

	fx_request(false, "PATCH", "/vms/sim-1/memory", AUTH, body, &r);
	ck_assert_int_eq(r.status, 200);
	j = fx_reply_json(&r);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "target_bytes")),
			 536870912);
	ck_assert_str_eq(json_string_value(json_object_get(j, "target_source")),
			 "manual");
	json_decref(j);
	fx_reply_free(&r);

	fx_request(false, "DELETE", "/vms/sim-1/memory/target", NULL, NULL, &r);
	fx_assert_problem(&r, 401, NULL);
	fx_reply_free(&r);
	fx_request(false, "DELETE", "/vms/sim-1/memory/target",
		   "authorization: bearer " TOKEN "\r\n", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	j = fx_reply_json(&r);
	ck_assert_str_eq(json_string_value(json_object_get(j, "target_source")),
			 "policy");
	json_decref(j);
	fx_reply_free(&r);
}
END_TEST

/* No token configured: no TCP mutation at all, whatever is sent. */
START_TEST(test_auth_no_token)
{
	struct fx_reply r;

	fx_call('e');
	fx_request(false, "PATCH", "/vms/sim-1/memory", AUTH, "{}", &r);
	fx_assert_problem(&r, 403, NULL);
	fx_reply_free(&r);
	fx_request(false, "PATCH", "/vms/sim-1/memory",
		   "Authorization: Bearer \r\n", "{}", &r);
	fx_assert_problem(&r, 403, NULL);
	fx_reply_free(&r);
}
END_TEST

/* In a child process as uid/gid 65534: PATCH over the unix socket and
 * exit with the status code / 100 (or 99 on a client failure). */
static int patch_as_nobody(void)
{
	pid_t pid = fork();
	int st;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		const char req[] = "PATCH /vms/sim-1/memory HTTP/1.1\r\n"
				   "Host: x\r\nConnection: close\r\n"
				   "Content-Length: 2\r\n\r\n{}";
		char buf[512] = "";
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int fd, status = 0;

		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 ||
		    setuid(65534) < 0)
			_exit(99);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fx.sock);
		if (fd < 0 ||
		    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    write(fd, req, sizeof(req) - 1) != sizeof(req) - 1 ||
		    read(fd, buf, sizeof(buf) - 1) < 12 ||
		    sscanf(buf, "HTTP/1.1 %d", &status) != 1)
			_exit(99);
		_exit(status / 100);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	return WEXITSTATUS(st);
}

START_TEST(test_auth_unix)
{
	struct stat st;
	struct fx_reply r;
	struct group *gr;

	/* the socket file is 0660 */
	ck_assert_int_eq(stat(fx.sock, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0660);

	/* our own uid (or root) may mutate without a token */
	fx_request(true, "PATCH", "/vms/sim-2/memory", NULL,
		   "{\"auto_reclaim\": true}", &r);
	ck_assert_int_eq(r.status, 200);
	fx_reply_free(&r);
	/* and a token means nothing on the unix socket */
	fx_request(true, "PATCH", "/vms/sim-2/memory",
		   "Authorization: Bearer wrong\r\n", "{\"shares\": 10}", &r);
	ck_assert_int_eq(r.status, 200);
	fx_reply_free(&r);

	if (geteuid() != 0)
		return; /* cannot become another user */
	gr = getgrgid(65534);
	if (!gr)
		return;
	snprintf(fx.group, sizeof(fx.group), "%s", gr->gr_name);
	/* let the other user reach the socket at all */
	ck_assert_int_eq(chmod(fx.dir, 0755), 0);
	ck_assert_int_eq(chmod(fx.sock, 0666), 0);
	ck_assert_int_eq(patch_as_nobody(), 4); /* 403 */
	fx_call('g'); /* api.unix_group = 65534's group */
	ck_assert_int_eq(patch_as_nobody(), 2); /* 200 */
}
END_TEST

START_TEST(test_policy_and_host)
{
	struct fx_reply r;
	json_t *j;

	fx_request(false, "GET", "/policy", NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	j = fx_reply_json(&r);
	ck_assert_str_eq(json_string_value(json_object_get(j, "name")),
			 "static");
	ck_assert(json_is_array(json_object_get(j, "available")));
	json_decref(j);
	fx_reply_free(&r);

	fx_request(false, "PUT", "/policy", AUTH, "{\"name\": \"nope\"}", &r);
	fx_assert_problem(&r, 422, "name");
	fx_reply_free(&r);
	fx_request(false, "PUT", "/policy", NULL, "{\"tick_ms\": 500}", &r);
	fx_assert_problem(&r, 401, NULL);
	fx_reply_free(&r);
	fx_request(false, "PUT", "/policy", AUTH,
		   "{\"tick_ms\": 500, \"params\": {\"k\": 1}}", &r);
	ck_assert_int_eq(r.status, 200);
	j = fx_reply_json(&r);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "tick_ms")),
			 500);
	ck_assert_int_eq(json_integer_value(json_object_get(
				 json_object_get(j, "params"), "k")),
			 1);
	json_decref(j);
	fx_reply_free(&r);

	fx_request(false, "GET", "/host", NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	j = fx_reply_json(&r);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "vms")), 3);
	ck_assert_int_eq(
		json_integer_value(json_object_get(j, "max_committed_bytes")),
		(1ll << 30) + (2ll << 30) + (512ll << 20));
	json_decref(j);
	fx_reply_free(&r);
}
END_TEST

START_TEST(test_metrics)
{
	struct fx_reply r;
	char ct[128];
	const char *p;

	fx_request(false, "GET", "/metrics", NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(fx_header(&r, "Content-Type", ct, sizeof(ct)),
			 "text/plain; version=0.0.4; charset=utf-8");
	ck_assert_ptr_nonnull(strstr(r.body,
				     "\nhyperalloc_vm_max_bytes{vm=\"sim-1\"} "
				     "1073741824\n"));
	ck_assert_ptr_nonnull(strstr(
		r.body, "hyperalloc_vm_info{vm=\"bal-1\",mechanism=\"virtio-"
			"balloon\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(
		r.body,
		"hyperalloc_vm_state{vm=\"bal-1\",state=\"running\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(r.body, "\nhyperalloc_up 1\n"));
	ck_assert_ptr_nonnull(strstr(r.body, "\nhyperalloc_vms 3\n"));
	/* one TYPE line per family */
	p = strstr(r.body, "# TYPE hyperalloc_vm_max_bytes gauge\n");
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_null(strstr(p + 1, "# TYPE hyperalloc_vm_max_bytes "));
	fx_reply_free(&r);
}
END_TEST

START_TEST(test_openapi)
{
	struct fx_reply r;
	char ct[128], path[256];
	FILE *f;

	fx_request(false, "GET", "/openapi.yaml", NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(fx_header(&r, "Content-Type", ct, sizeof(ct)),
			 "application/yaml");
	ck_assert_uint_eq(r.len, http_openapi_yaml_len);
	ck_assert_int_eq(memcmp(r.body, http_openapi_yaml, r.len), 0);
	fx_reply_free(&r);

	/* $HYPERALLOC_DATADIR/openapi.yaml, when there, wins */
	snprintf(path, sizeof(path), "%s/openapi.yaml", fx.dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("openapi: 3.0.3\n# local copy\n", f);
	fclose(f);
	setenv("HYPERALLOC_DATADIR", fx.dir, 1);
	fx_request(false, "GET", "/openapi.yaml", NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "openapi: 3.0.3\n# local copy\n");
	fx_reply_free(&r);
	unlink(path);
	fx_request(false, "GET", "/openapi.yaml", NULL, NULL, &r);
	ck_assert_uint_eq(r.len, http_openapi_yaml_len);
	fx_reply_free(&r);
	unsetenv("HYPERALLOC_DATADIR");
}
END_TEST

/* Two requests, one connection: MHD must come back to the loop for the
 * second one. */
START_TEST(test_keep_alive)
{
	int fd = fx_tcp_connect();
	char buf[8192];
	size_t n = 0;

	for (int i = 0; i < 2; i++) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		char *end;
		size_t len;

		n = 0;
		fx_send_request(fd, "GET", "/healthz", NULL, NULL);
		for (;;) {
			ssize_t k;

			ck_assert_int_eq(poll(&pfd, 1, WAIT_MS), 1);
			k = read(fd, buf + n, sizeof(buf) - n - 1);
			ck_assert_int_gt(k, 0);
			n += (size_t)k;
			buf[n] = '\0';
			end = strstr(buf, "\r\n\r\n");
			if (!end)
				continue;
			len = strtoul(strcasestr(buf, "Content-Length:") + 15,
				      NULL, 10);
			if (n >= (size_t)(end + 4 - buf) + len)
				break;
		}
		ck_assert_int_eq(strncmp(buf, "HTTP/1.1 200", 12), 0);
	}
	close(fd);
}
END_TEST

/* A second daemon must not steal the socket of a running one. */
START_TEST(test_socket_in_use)
{
	ck_assert_int_eq(fx_call('a'), EADDRINUSE);
	ck_assert_int_ge(fx_unix_connect(fx.sock), 0);
}
END_TEST

static Suite *http_suite(void)
{
	Suite *s = suite_create("http");
	TCase *tc;

	tc = tcase_create("server");
	tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_healthz);
	tcase_add_test(tc, test_get_vms);
	tcase_add_test(tc, test_not_found);
	tcase_add_test(tc, test_method_not_allowed);
	tcase_add_test(tc, test_bad_body);
	tcase_add_test(tc, test_change_is_on_disk_when_answered);
	tcase_add_test(tc, test_change_not_written_is_not_acked);
	tcase_add_test(tc, test_too_large);
	tcase_add_test(tc, test_too_large_early);
	tcase_add_test(tc, test_too_large_chunked);
	tcase_add_test(tc, test_auth_tcp);
	tcase_add_test(tc, test_auth_no_token);
	tcase_add_test(tc, test_auth_unix);
	tcase_add_test(tc, test_policy_and_host);
	tcase_add_test(tc, test_metrics);
	tcase_add_test(tc, test_openapi);
	tcase_add_test(tc, test_keep_alive);
	tcase_add_test(tc, test_socket_in_use);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(http_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
