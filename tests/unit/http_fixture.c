// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The fixture of the HTTP suites: see http_fixture.h.
 */
#include "http_fixture.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "commit.h"
#include "http/server.h"
#include "state.h"

struct http_fixture fx;

/* ---- the loop thread ---- */

static void publish(enum event_type type, const char *vm, const char *msg)
{
	struct event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	snprintf(ev.vm, sizeof(ev.vm), "%s", vm);
	snprintf(ev.message, sizeof(ev.message), "%s", msg);
	event_publish(&fx.d->bus, &ev);
}

static int on_cmd(sd_event_source *s, int fd, uint32_t revents, void *ud)
{
	struct http_server *other = NULL;
	char c, ack = 0;
	int r;

	(void)s;
	(void)revents;
	(void)ud;
	if (read(fd, &c, 1) != 1)
		return 0;
	switch (c) {
	case 'p':
		publish(EV_ERROR, "sim-2", "test event");
		break;
	case 'P':
		publish(EV_VM_ADDED, "sim-1", "one");
		publish(EV_VM_ADDED, "sim-2", "two");
		publish(EV_VM_ADDED, "bal-1", "three");
		break;
	case 'k':
		http_server_set_keepalive(fx.srv, 100000);
		break;
	case 'n':
		ack = (char)http_server_sse_streams(fx.srv);
		break;
	case 's':
		http_server_stop(fx.srv);
		fx.srv = NULL;
		break;
	case 'e':
		fx.d->api_token[0] = '\0';
		break;
	case 'g':
		fx.cfg.api.unix_group = fx.group;
		break;
	case 'a': {
		/* A second server on the same unix socket, no TCP. */
		struct config c2 = fx.cfg;
		struct config *saved = fx.d->cfg;

		c2.api.tcp = NULL;
		fx.d->cfg = &c2;
		r = http_server_start(fx.d, &other);
		fx.d->cfg = saved;
		if (r == 0)
			http_server_stop(other);
		ack = (char)-r;
		break;
	}
	case 'q':
		sd_event_exit(fx.d->loop, 0);
		break;
	default:
		ack = -1;
	}
	if (write(fx.ack[1], &ack, 1) != 1)
		abort();
	return 0;
}

static void *loop_main(void *arg)
{
	(void)arg;
	sd_event_loop(fx.d->loop);
	return NULL;
}

/* Run command @c on the loop thread and wait until it is done. */
int fx_call(char c)
{
	char ack;

	ck_assert_int_eq(write(fx.cmd[1], &c, 1), 1);
	ck_assert_int_eq(read(fx.ack[0], &ack, 1), 1);
	return ack;
}

/* The fixture VMs' backend: accepts every target and, for sim VMs, has
 * a soft reclaim, so the real ctl.c accepts what it accepts for real VMs
 * of the mechanism. */
static int fx_apply_target(struct vm *vm, uint64_t target_bytes)
{
	(void)vm;
	(void)target_bytes;
	return 0;
}

static int64_t fx_reclaim_free(struct vm *vm, uint64_t keep_free_bytes)
{
	(void)vm;
	(void)keep_free_bytes;
	return 0;
}

static const struct backend_ops fx_sim_ops = {
	.name = "fixture-sim",
	.apply_target = fx_apply_target,
	.reclaim_free = fx_reclaim_free,
};

static const struct backend_ops fx_balloon_ops = {
	.name = "fixture-balloon",
	.apply_target = fx_apply_target,
};

static void init_vm(struct vm *vm, const char *id, const char *uuid,
		    enum vm_mechanism mech, uint64_t max)
{
	memset(vm, 0, sizeof(*vm));
	vm->ops = mech == VM_MECH_SIM ? &fx_sim_ops : &fx_balloon_ops;
	vm->ram_bytes = max;
	snprintf(vm->id, sizeof(vm->id), "%s", id);
	snprintf(vm->uuid, sizeof(vm->uuid), "%s", uuid);
	vm->mechanism = mech;
	vm->mem.max_bytes = max;
	vm->mem.min_bytes = max / 4;
	vm->mem.target_bytes = max;
	vm->mem.current_bytes = max;
	vm->mem.shares = 1000;
	vm->policy_target = max;
}

uint64_t fx_mono_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

void fx_setup(void)
{
	char warning[512];

	signal(SIGPIPE, SIG_IGN);
	memset(&fx, 0, sizeof(fx));
	fx.d = calloc(1, sizeof(*fx.d));
	ck_assert_ptr_nonnull(fx.d);
	event_bus_init(&fx.d->bus);
	ck_assert_int_ge(sd_event_new(&fx.d->loop), 0);
	strcpy(fx.dir, "/tmp/ha-http-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(fx.dir));
	snprintf(fx.sock, sizeof(fx.sock), "%s/api.sock", fx.dir);
	fx.cfg.api.tcp = (char *)"127.0.0.1:0";
	fx.cfg.api.unix_path = fx.sock;
	fx.cfg.api.max_body_bytes = MAX_BODY;
	fx.d->cfg = &fx.cfg;
	strcpy(fx.d->api_token, TOKEN);
	fx.d->started_usec = fx_mono_usec();

	init_vm(&fx.vms[0], "sim-1", "6a1d1a8e-5f7e-4d3c-9b2a-0c1d2e3f4a5b",
		VM_MECH_SIM, 1ull << 30);
	init_vm(&fx.vms[1], "sim-2", "", VM_MECH_SIM, 2ull << 30);
	init_vm(&fx.vms[2], "bal-1", "", VM_MECH_BALLOON, 512ull << 20);
	fx.vms[0].next = &fx.vms[1];
	fx.vms[1].next = &fx.vms[2];
	fx.d->vms.head = &fx.vms[0];
	fx.d->vms.count = 3;

	/* A real state file: changes are answered after its commit. */
	snprintf(fx.state_path, sizeof(fx.state_path), "%s/state.json", fx.dir);
	ck_assert_int_eq(state_open(fx.state_path, &fx.d->state, warning,
				    sizeof(warning)),
			 0);
	ck_assert_int_eq(commit_new(fx.d, &fx.d->commit), 0);

	ck_assert_int_eq(http_server_start(fx.d, &fx.srv), 0);
	fx.port = http_server_tcp_port(fx.srv);
	ck_assert_uint_ne(fx.port, 0);

	ck_assert_int_eq(pipe2(fx.cmd, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(fx.ack, O_CLOEXEC), 0);
	ck_assert_int_ge(sd_event_add_io(fx.d->loop, &fx.cmd_src, fx.cmd[0],
					 EPOLLIN, on_cmd, NULL),
			 0);
	ck_assert_int_eq(pthread_create(&fx.thread, NULL, loop_main, NULL), 0);
}

void fx_teardown(void)
{
	fx_call('q');
	pthread_join(fx.thread, NULL);
	http_server_stop(fx.srv);
	commit_free(fx.d->commit);
	state_close(fx.d->state);
	unlink(fx.state_path);
	sd_event_source_disable_unref(fx.cmd_src);
	sd_event_unref(fx.d->loop);
	close(fx.cmd[0]);
	close(fx.cmd[1]);
	close(fx.ack[0]);
	close(fx.ack[1]);
	unlink(fx.sock);
	rmdir(fx.dir);
	free(fx.d);
}

/* ---- a small HTTP client ---- */

int fx_tcp_connect(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(fx.port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

int fx_unix_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -errno;
	}
	return fd;
}

void fx_send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		ck_assert_msg(n > 0, "send: %s", strerror(errno));
		buf += n;
		len -= (size_t)n;
	}
}

void fx_send_request(int fd, const char *method, const char *path,
		     const char *headers, const char *body)
{
	char head[2048];
	int n;

	n = snprintf(head, sizeof(head),
		     "%s %s HTTP/1.1\r\nHost: localhost\r\n%s%s", method, path,
		     headers ? headers : "", body ? "" : "\r\n");
	ck_assert_int_lt(n, (int)sizeof(head));
	if (body)
		n += snprintf(head + n, sizeof(head) - (size_t)n,
			      "Content-Type: application/json\r\n"
			      "Content-Length: %zu\r\n\r\n",
			      strlen(body));
	fx_send_all(fd, head, (size_t)n);
	if (body)
		fx_send_all(fd, body, strlen(body));
}

/* Decode the chunks complete in @in; *done once the last one came. */
size_t fx_dechunk(const char *in, size_t n, char *out, size_t *out_len,
		  bool *done)
{
	size_t pos = 0;

	*out_len = 0;
	*done = false;
	while (pos < n) {
		const char *eol = memmem(in + pos, n - pos, "\r\n", 2);
		unsigned long size;

		if (!eol)
			break;
		size = strtoul(in + pos, NULL, 16);
		if ((size_t)(eol + 2 - in) + size + 2 > n)
			break;
		memcpy(out + *out_len, eol + 2, size);
		*out_len += size;
		pos = (size_t)(eol + 2 - in) + size + 2;
		if (size == 0) {
			*done = true;
			break;
		}
	}
	out[*out_len] = '\0';
	return pos;
}

const char *fx_header(const struct fx_reply *r, const char *name, char *buf,
		      size_t len)
{
	size_t n = strlen(name);

	for (const char *p = strstr(r->head, "\r\n"); p && p[2];
	     p = strstr(p + 2, "\r\n")) {
		const char *line = p + 2;

		if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
			const char *v = line + n + 1;

			v += strspn(v, " ");
			snprintf(buf, len, "%.*s", (int)strcspn(v, "\r"), v);
			return buf;
		}
	}
	return NULL;
}

/* Read a whole response up to EOF (requests say Connection: close). */
void fx_read_reply(int fd, struct fx_reply *r)
{
	size_t cap = 1 << 16, n = 0;
	char *raw = malloc(cap), *sep, te[64];
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	ck_assert_ptr_nonnull(raw);
	for (;;) {
		ssize_t k;

		ck_assert_msg(poll(&pfd, 1, WAIT_MS) == 1, "reply timed out");
		if (n + 4096 > cap) {
			cap *= 2;
			raw = realloc(raw, cap);
			ck_assert_ptr_nonnull(raw);
		}
		k = read(fd, raw + n, cap - n - 1);
		if (k < 0 && errno == ECONNRESET)
			break;
		ck_assert_int_ge(k, 0);
		if (k == 0)
			break;
		n += (size_t)k;
	}
	raw[n] = '\0';
	sep = strstr(raw, "\r\n\r\n");
	ck_assert_msg(sep != NULL, "no header in: %s", raw);
	memset(r, 0, sizeof(*r));
	snprintf(r->head, sizeof(r->head), "%.*s", (int)(sep + 2 - raw), raw);
	ck_assert_int_eq(sscanf(raw, "HTTP/1.%*d %d", &r->status), 1);
	r->len = n - (size_t)(sep + 4 - raw);
	r->body = malloc(r->len + 1);
	ck_assert_ptr_nonnull(r->body);
	if (fx_header(r, "Transfer-Encoding", te, sizeof(te)) &&
	    strcasecmp(te, "chunked") == 0) {
		bool done;

		fx_dechunk(sep + 4, r->len, r->body, &r->len, &done);
		ck_assert(done);
	} else {
		memcpy(r->body, sep + 4, r->len);
		r->body[r->len] = '\0';
	}
	free(raw);
}

/* One request on a fresh connection (TCP, or the unix socket). */
void fx_request(bool over_unix, const char *method, const char *path,
		const char *headers, const char *body, struct fx_reply *r)
{
	char h[1024];
	int fd = over_unix ? fx_unix_connect(fx.sock) : fx_tcp_connect();

	ck_assert_int_ge(fd, 0);
	snprintf(h, sizeof(h), "Connection: close\r\n%s",
		 headers ? headers : "");
	fx_send_request(fd, method, path, h, body);
	fx_read_reply(fd, r);
	close(fd);
}

json_t *fx_reply_json(const struct fx_reply *r)
{
	json_error_t e;
	json_t *j = json_loadb(r->body, r->len, 0, &e);

	ck_assert_msg(j != NULL, "not JSON (%s): %s", e.text, r->body);
	return j;
}

void fx_assert_problem(const struct fx_reply *r, int status, const char *field)
{
	char ct[128];
	json_t *j;

	ck_assert_int_eq(r->status, status);
	ck_assert_ptr_nonnull(fx_header(r, "Content-Type", ct, sizeof(ct)));
	ck_assert_str_eq(ct, "application/problem+json");
	j = fx_reply_json(r);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "status")),
			 status);
	ck_assert_str_eq(json_string_value(json_object_get(j, "type")),
			 "about:blank");
	ck_assert(json_string_length(json_object_get(j, "detail")) > 0);
	ck_assert(json_string_length(json_object_get(j, "title")) > 0);
	if (field)
		ck_assert_str_eq(json_string_value(json_object_get(j, "field")),
				 field);
	json_decref(j);
}

void fx_reply_free(struct fx_reply *r)
{
	free(r->body);
	r->body = NULL;
}
