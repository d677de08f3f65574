/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Test fixture for the HTTP suites (test_http, test_http_sse,
 * test_http_start, test_hactl): the real HTTP server of
 * daemon/http/server.c in a real sd-event loop, run on its own thread as
 * the daemon's main thread would, with a struct daemon holding three
 * hand-made VMs (sim-1 and sim-2 with a soft reclaim, bal-1 without;
 * their backend accepts every target), the real control API, a stub
 * engine and a stub host (stub_engine.c, stub_host.c); and a
 * plain-socket HTTP/1.1 client.
 *
 * The test thread only does socket I/O. Anything that touches daemon
 * state runs on the loop thread through fx_call():
 *   'p'  publish a "daemon_error" event for sim-2 ("test event")
 *   'P'  publish three vm_added events
 *   'k'  SSE keepalive every 100 ms
 *   'n'  answer the number of open SSE streams
 *   's'  stop the HTTP server
 *   'e'  forget the API token
 *   'g'  api.unix_group = fx.group
 *   'a'  start a second server on the same unix socket, answer -errno
 *   'q'  leave the loop (fx_teardown does it)
 */
#ifndef HA_TEST_HTTP_FIXTURE_H
#define HA_TEST_HTTP_FIXTURE_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "daemon.h"

#define TOKEN	 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define AUTH	 "Authorization: Bearer " TOKEN "\r\n"
#define MAX_BODY 1024 /* api.max_body_bytes of the fixture */
#define WAIT_MS	 10000 /* longest wait for any answer */

struct http_fixture {
	struct daemon *d;
	struct config cfg;
	struct vm vms[3]; /* sim-1 (with uuid), sim-2, bal-1 */
	struct http_server *srv;
	char dir[64]; /* temporary directory */
	char sock[100]; /* the API's unix socket in it */
	uint16_t port; /* the API's TCP port on 127.0.0.1 */
	pthread_t thread;
	int cmd[2], ack[2];
	sd_event_source *cmd_src;
	char group[64]; /* for the 'g' command */
	char state_path[96]; /* the state file in dir */
};

extern struct http_fixture fx;

/* Checked fixture: start and stop everything above. */
void fx_setup(void);
void fx_teardown(void);

/* Run command @c on the loop thread and wait for it; returns its
 * answer byte. */
int fx_call(char c);

uint64_t fx_mono_usec(void);

/* ---- client ---- */

int fx_tcp_connect(void);
/* A connected fd, or -errno. */
int fx_unix_connect(const char *path);
void fx_send_all(int fd, const char *buf, size_t len);
/* Request line, Host, @headers (lines ending in "\r\n"), and a JSON
 * @body with its Content-Length when not NULL. */
void fx_send_request(int fd, const char *method, const char *path,
		     const char *headers, const char *body);
/* Decode the complete chunks in @in into @out (NUL-terminated); *done
 * once the last chunk came. Returns the bytes consumed. */
size_t fx_dechunk(const char *in, size_t n, char *out, size_t *out_len,
		  bool *done);

struct fx_reply {
	int status;
	char head[8192];
	char *body; /* de-chunked, NUL-terminated */
	size_t len;
};

/* Read a whole answer up to EOF. */
void fx_read_reply(int fd, struct fx_reply *r);
/* One request with "Connection: close" on a fresh connection. */
void fx_request(bool over_unix, const char *method, const char *path,
		const char *headers, const char *body, struct fx_reply *r);
const char *fx_header(const struct fx_reply *r, const char *name, char *buf,
		      size_t len);
json_t *fx_reply_json(const struct fx_reply *r);
/* A problem+json answer with @status (and @field, unless NULL). */
void fx_assert_problem(const struct fx_reply *r, int status, const char *field);
void fx_reply_free(struct fx_reply *r);

#endif
