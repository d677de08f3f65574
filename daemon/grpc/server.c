// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The gRPC server's lifecycle (see grpc/server.h): gRPC core servers and
 * listeners, the completion queue pump thread and the loop side of its
 * queue, the unix socket with peer credentials, and shutdown. What each
 * call does is in grpc/calls.c.
 *
 * Limits: each listener follows the connections it handed to gRPC core
 * (grpc/conns.h). A new one over grpc.connections_max, or over
 * grpc.connections_per_client of its client (per IP address on TCP, per
 * peer uid on the unix socket), is closed at once, before gRPC core sees
 * it. Unlike the HTTP listeners, a full one does not stop accepting until
 * a slot frees: gRPC core does not say when it closes a connection, so
 * nothing would wake the listener again.
 */
#include "grpc/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grpc/grpc.h>
#include <grpc/grpc_posix.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "auth.h"
#include "grpc/internal.h"
#include "http/limits.h" /* HTTP_IDLE_TIMEOUT_S */
#include "listen.h"
#include "log.h"

#define DEFAULT_MAX_MESSAGE (64 * 1024)
#define STOP_GRACE_USEC	    1000000ull /* calls may finish before cancel */
#define STOP_CANCEL_USEC    5000000ull /* cancelled calls must be gone */
#define ACCEPT_BATCH	    16 /* connections accepted per wakeup */

#if defined(__SANITIZE_THREAD__)
/*
 * ThreadSanitizer builds: gRPC core and abseil are not instrumented, and
 * their locks (futexes behind absl::Mutex) are invisible to TSan, so what
 * their threads do through intercepted calls (malloc, memcpy, memcmp)
 * looks racy. Ignore races with a frame in those libraries; our code, and
 * the hand-over between the pump thread and the loop, stay checked.
 */
const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void)
{
	return "race:libgrpc.so\n"
	       "race:libgpr.so\n"
	       "race:libabsl_\n";
}
#endif

static uint64_t mono_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* ---- the pump thread and the loop side of its queue ---- */

/* Pump thread: wait on the completion queue, hand each completion to the
 * loop. Touches nothing but the queue, under the lock. */
static void *pump_main(void *arg)
{
	struct grpcd *g = arg;
	static const uint64_t one = 1;

	for (;;) {
		grpc_event ev = grpc_completion_queue_next(
			g->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
		bool wake;

		if (ev.type == GRPC_QUEUE_SHUTDOWN)
			break;
		if (ev.type != GRPC_OP_COMPLETE)
			continue;
		pthread_mutex_lock(&g->lock);
		while (g->n_queue == g->cap_queue) {
			size_t cap = g->cap_queue ? 2 * g->cap_queue : 64;
			struct grpcd_completion *q;

			q = realloc(g->queue, cap * sizeof(*q));
			if (q) {
				g->queue = q;
				g->cap_queue = cap;
				break;
			}
			/* A completion must not be lost: wait for memory. */
			pthread_mutex_unlock(&g->lock);
			usleep(1000);
			pthread_mutex_lock(&g->lock);
		}
		g->queue[g->n_queue].tag = ev.tag;
		g->queue[g->n_queue].ok = ev.success != 0;
		g->n_queue++;
		wake = !g->wake_pending;
		g->wake_pending = true;
		pthread_mutex_unlock(&g->lock);
		/* EAGAIN: the counter is full, so the loop is awake anyway. */
		if (wake && write(g->efd, &one, sizeof(one)) < 0 &&
		    errno != EAGAIN)
			abort(); /* the eventfd is gone: a bug */
	}
	return NULL;
}

/* Loop: take what the pump queued and run it. */
static void drain(struct grpcd *g)
{
	struct grpcd_completion *batch;
	uint64_t count;
	size_t n, cap;

	/* Reset the counter first: a completion queued after the swap below
	 * writes again. EAGAIN: there was no wakeup (stop() polls). */
	if (read(g->efd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_warn("grpc: reading the wakeup eventfd: %s",
			 strerror(errno));
	pthread_mutex_lock(&g->lock);
	batch = g->queue;
	n = g->n_queue;
	cap = g->cap_queue;
	g->queue = g->spare;
	g->cap_queue = g->cap_spare;
	g->n_queue = 0;
	g->wake_pending = false;
	pthread_mutex_unlock(&g->lock);
	g->spare = batch;
	g->cap_spare = cap;

	for (size_t i = 0; i < n; i++) {
		struct grpcd_tag *t = batch[i].tag;

		if (t->kind == GRPCD_TAG_SHUTDOWN)
			g->shutdown_done[t->origin] = true;
		else
			grpcd_call_done(t, batch[i].ok);
	}
}

static int on_wake(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	(void)s;
	(void)fd;
	(void)revents;
	drain(userdata);
	return 0;
}

static void on_bus_event(const struct event *ev, void *userdata)
{
	(void)ev;
	grpcd_streams_wake(userdata);
}

/* ---- listeners: we accept, gRPC core serves ---- */

const char *grpcd_peer_desc(const struct grpcd *g, int fd)
{
	if (fd < 0 || fd >= GRPCD_PEER_FDS || !g->peer[fd][0])
		return NULL;
	return g->peer[fd];
}

/* "tcp 127.0.0.1:40000", "tcp [::1]:40000" */
static void tcp_peer(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ss;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
	}
	snprintf(buf, len,
		 ss->ss_family == AF_INET6 ? "tcp [%s]:%u" : "tcp %s:%u", host,
		 port);
}

/*
 * Would a new connection of @c go over a limit of @l? gRPC core may have
 * closed connections since the last one: forget those first. A refusal
 * is logged at most once per 10 s for each limit, with the number of
 * refusals in between.
 */
static bool over_limit(struct grpcd_listener *l, const struct grpcd_client *c)
{
	enum grpcd_admit v;
	uint64_t now = 0, skipped;
	char who[64];
	size_t same;

	(void)grpcd_conns_prune(&l->conns);
	v = grpcd_conns_judge(&l->conns, c, l->connections_max, l->per_client,
			      &same);
	if (v == GRPCD_ADMIT_OK)
		return false;
	(void)sd_event_now(l->g->d->loop, CLOCK_MONOTONIC, &now);
	if (v == GRPCD_ADMIT_OVER_MAX) {
		if (ratelimit_allow(&l->note_max, now, &skipped))
			log_warn("grpc: %s: %zu connections open "
				 "(grpc.connections_max), refusing more (%llu "
				 "refusals not logged)",
				 l->desc, l->conns.n,
				 (unsigned long long)skipped);
	} else if (ratelimit_allow(&l->note_client, now, &skipped)) {
		log_warn("grpc: %s: %s has %zu connections "
			 "(grpc.connections_per_client), refusing more (%llu "
			 "refusals not logged)",
			 l->desc, grpcd_client_desc(c, who, sizeof(who)), same,
			 (unsigned long long)skipped);
	}
	return true;
}

/*
 * A new connection @fd from @ss: closed at once when it would go over a
 * limit of @l, else remembered and handed to gRPC core, unix peers that
 * their credentials trust to the GRPCD_PEER server, everyone else to the
 * one that asks for the token.
 */
static void adopt(struct grpcd *g, struct grpcd_listener *l, int fd,
		  const struct sockaddr_storage *ss)
{
	enum grpcd_origin o = GRPCD_TOKEN;
	grpc_server_credentials *creds;
	struct grpcd_client client;
	char desc[GRPCD_PEER_LEN];
	struct ucred cred = { 0 };
	int r;

	if (l->is_unix) {
		socklen_t len = sizeof(cred);

		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
			log_warn("grpc: unix peer without credentials: %s",
				 strerror(errno));
			close(fd);
			return;
		}
		grpcd_client_from_uid(cred.uid, &client);
		snprintf(desc, sizeof(desc), "unix uid %u", (unsigned)cred.uid);
	} else {
		grpcd_client_from_addr(ss, &client);
		tcp_peer(ss, desc, sizeof(desc));
	}
	if (over_limit(l, &client)) {
		close(fd);
		return;
	}
	/* Before the hand-over: from then on gRPC core may close the fd,
	 * and the number may be used again, at any moment. */
	r = grpcd_conns_add(&l->conns, fd, &client);
	if (r < 0) {
		log_warn("grpc: %s: cannot count a connection of %s, closing "
			 "it: %s",
			 l->desc, desc, strerror(-r));
		close(fd);
		return;
	}
	if (l->is_unix) {
		if (auth_peer_allowed(cred.uid, cred.gid, geteuid(),
				      g->d->cfg->api.unix_group))
			o = GRPCD_PEER;
		log_debug("grpc: %s pid %d connected (%s)", desc, (int)cred.pid,
			  o == GRPCD_PEER ? "trusted" : "needs the token");
	} else {
		int one = 1;

		/* gRPC core sets this on sockets it accepts itself; small
		 * HTTP/2 frames must not wait for Nagle. */
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
				 sizeof(one));
	}
	if (fd < GRPCD_PEER_FDS)
		snprintf(g->peer[fd], sizeof(g->peer[fd]), "%s", desc);
	creds = grpc_insecure_server_credentials_create();
	grpc_server_add_channel_from_fd(g->srv[o], fd, creds);
	grpc_server_credentials_release(creds);
}

static int on_backoff_end(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct grpcd_listener *l = userdata;

	(void)s;
	(void)usec;
	(void)sd_event_source_set_enabled(l->src, SD_EVENT_ON);
	return 0;
}

/*
 * accept() failed for want of fds or memory: the listening socket stays
 * readable and the loop would spin on it, logging each time. Stop
 * listening for 50 ms, doubling to 2 s while it keeps failing; log once
 * per 10 s.
 */
static void accept_backoff(struct grpcd_listener *l, int err)
{
	sd_event *loop = l->g->d->loop;
	uint64_t now = 0;
	int r;

	(void)sd_event_now(loop, CLOCK_MONOTONIC, &now);
	l->backoff_ms = l->backoff_ms ? l->backoff_ms * 2 : 50;
	if (l->backoff_ms > 2000)
		l->backoff_ms = 2000;
	if (!l->note_usec || now - l->note_usec >= 10ull * 1000 * 1000) {
		log_warn("grpc: accept: %s (backing off; %llu such failures "
			 "not logged)",
			 strerror(err), (unsigned long long)l->note_skipped);
		l->note_usec = now ? now : 1;
		l->note_skipped = 0;
	} else {
		l->note_skipped++;
	}
	r = sd_event_source_set_enabled(l->src, SD_EVENT_OFF);
	if (!l->backoff && r >= 0)
		r = sd_event_add_time(loop, &l->backoff, CLOCK_MONOTONIC, 0,
				      1000, on_backoff_end, l);
	if (r >= 0)
		r = sd_event_source_set_time(l->backoff,
					     now + l->backoff_ms * 1000ull);
	if (r >= 0)
		r = sd_event_source_set_enabled(l->backoff, SD_EVENT_ONESHOT);
	if (r < 0) /* no timer: better a busy loop than a dead socket */
		(void)sd_event_source_set_enabled(l->src, SD_EVENT_ON);
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents,
		     void *userdata)
{
	struct grpcd_listener *l = userdata;
	struct grpcd *g = l->g;

	(void)s;
	(void)revents;
	for (int i = 0; i < ACCEPT_BATCH && !g->stopping; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int c;

		memset(&ss, 0, sizeof(ss));
		c = accept4(fd, (struct sockaddr *)&ss, &len,
			    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (c >= 0) {
			l->backoff_ms = 0;
			adopt(g, l, c, &ss);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM)
			accept_backoff(l, errno);
		else if (errno != EAGAIN)
			log_warn("grpc: accept: %s", strerror(errno));
		break;
	}
	return 0;
}

static size_t cfg_or(uint64_t v, size_t dflt)
{
	return v ? (size_t)v : dflt;
}

/* Serve listening socket @fd (owned from here on, also on failure) on
 * @addr, a "host:port" or a path. */
static int listener_add(struct grpcd *g, int fd, bool is_unix, const char *addr)
{
	struct grpcd_listener *l = &g->listeners[g->n_listeners];
	const struct config *cfg = g->d->cfg;
	int r;

	l->g = g;
	l->fd = fd;
	l->is_unix = is_unix;
	snprintf(l->desc, sizeof(l->desc), "%s %s", is_unix ? "unix" : "tcp",
		 addr);
	l->connections_max =
		cfg_or(cfg->grpc.connections_max, GRPCD_CONNECTIONS_MAX);
	l->per_client =
		cfg_or(cfg->grpc.connections_per_client, GRPCD_PER_CLIENT_MAX);
	ratelimit_init(&l->note_max, 1, GRPCD_NOTE_USEC);
	ratelimit_init(&l->note_client, 1, GRPCD_NOTE_USEC);
	g->n_listeners++;
	r = sd_event_add_io(g->d->loop, &l->src, fd, EPOLLIN, on_accept, l);
	if (r < 0)
		return r;
	(void)sd_event_source_set_description(l->src, is_unix ? "grpc-unix" :
								"grpc-tcp");
	return 0;
}

static int listeners_start(struct grpcd *g)
{
	const struct config *cfg = g->d->cfg;
	int fd, r;

	if (cfg->grpc.tcp) {
		r = listen_tcp("grpc.tcp", cfg->grpc.tcp, &fd);
		if (r < 0)
			return r;
		r = listener_add(g, fd, false, cfg->grpc.tcp);
		if (r < 0)
			return r;
		log_info("grpc: listening on tcp %s", cfg->grpc.tcp);
	}
	if (cfg->grpc.unix_path) {
		r = listen_unix("grpc.unix", cfg->grpc.unix_path,
				cfg->api.unix_group, SOCK_STREAM, &fd);
		if (r < 0)
			return r;
		g->unix_path = strdup(cfg->grpc.unix_path);
		if (!g->unix_path) {
			close(fd);
			unlink(cfg->grpc.unix_path);
			return -ENOMEM;
		}
		r = listener_add(g, fd, true, cfg->grpc.unix_path);
		if (r < 0)
			return r;
		log_info("grpc: listening on unix %s", cfg->grpc.unix_path);
	}
	return 0;
}

static void listeners_stop(struct grpcd *g)
{
	for (size_t i = 0; i < g->n_listeners; i++) {
		sd_event_source_disable_unref(g->listeners[i].src);
		g->listeners[i].src = NULL;
		sd_event_source_disable_unref(g->listeners[i].backoff);
		g->listeners[i].backoff = NULL;
		close(g->listeners[i].fd);
		grpcd_conns_clear(&g->listeners[i].conns);
	}
	g->n_listeners = 0;
	if (g->unix_path) {
		unlink(g->unix_path);
		free(g->unix_path);
		g->unix_path = NULL;
	}
}

/* ---- start and stop ---- */

static int servers_create(struct grpcd *g)
{
	uint64_t max = g->d->cfg->api.max_body_bytes;
	uint64_t idle_s = g->d->cfg->api.idle_timeout_s;
	grpc_arg args[] = {
		{ .type = GRPC_ARG_INTEGER,
		  .key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
		  .value.integer = max && max < INT32_MAX ?
					   (int)max :
					   DEFAULT_MAX_MESSAGE },
		/* A connection without a call for api.idle_timeout_s is
		 * closed (GOAWAY), as HTTP's idle keep-alive ones are: one
		 * that never calls cannot hold its slot for ever. */
		{ .type = GRPC_ARG_INTEGER,
		  .key = (char *)GRPC_ARG_MAX_CONNECTION_IDLE_MS,
		  .value.integer =
			  (int)((idle_s ? idle_s : HTTP_IDLE_TIMEOUT_S) *
				1000) },
	};
	grpc_channel_args ch = { .num_args = 2, .args = args };

	for (int o = 0; o < GRPCD_ORIGINS; o++) {
		g->srv[o] = grpc_server_create(&ch, NULL);
		if (!g->srv[o])
			return -ENOMEM;
		grpc_server_register_completion_queue(g->srv[o], g->cq, NULL);
		g->shutdown_tag[o].kind = GRPCD_TAG_SHUTDOWN;
		g->shutdown_tag[o].origin = (enum grpcd_origin)o;
	}
	return 0;
}

static int pump_start(struct grpcd *g)
{
	int r;

	g->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (g->efd < 0)
		return -errno;
	r = sd_event_add_io(g->d->loop, &g->efd_src, g->efd, EPOLLIN, on_wake,
			    g);
	if (r < 0)
		return r;
	(void)sd_event_source_set_description(g->efd_src, "grpc-queue");
	g->cq = grpc_completion_queue_create_for_next(NULL);
	if (!g->cq)
		return -ENOMEM;
	r = -pthread_create(&g->pump, NULL, pump_main, g);
	if (r < 0)
		return r;
	g->pump_started = true;
	return 0;
}

int grpcd_start(struct daemon *d, struct grpcd **ret)
{
	const struct config *cfg = d->cfg;
	struct grpcd *g;
	int r;

	*ret = NULL;
	if (!cfg->grpc.tcp && !cfg->grpc.unix_path) {
		log_info("grpc: no listener configured, gRPC is off");
		return 0;
	}
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->d = d;
	g->efd = -1;
	g->sub = -1;
	pthread_mutex_init(&g->lock, NULL);
	grpc_init();
	g->grpc_inited = true;

	r = pump_start(g);
	if (r < 0)
		goto cleanup;
	r = servers_create(g);
	if (r < 0)
		goto cleanup;
	/* gRPC core has no listener of its own: we accept connections and
	 * hand them over, so their peers are known (see adopt()). */
	for (int o = 0; o < GRPCD_ORIGINS; o++) {
		grpc_server_start(g->srv[o]);
		g->srv_started[o] = true;
		for (int i = 0; i < GRPCD_REQUESTS; i++) {
			r = grpcd_request(g, (enum grpcd_origin)o);
			if (r < 0)
				goto cleanup;
		}
	}
	r = listeners_start(g);
	if (r < 0)
		goto cleanup;
	r = event_subscribe(&d->bus, on_bus_event, g);
	if (r < 0)
		goto cleanup;
	g->sub = r;
	log_debug("grpc: gRPC core %s", grpc_version_string());
	*ret = g;
	return 0;
cleanup:
	log_err("grpc: cannot start: %s", strerror(-r));
	grpcd_stop(g);
	return r;
}

static bool all_done(const struct grpcd *g)
{
	for (int o = 0; o < GRPCD_ORIGINS; o++)
		if (g->srv_started[o] && !g->shutdown_done[o])
			return false;
	return g->n_calls == 0;
}

/* Run completions until every server has shut down and every call is
 * freed, for at most @usec. */
static bool wait_done(struct grpcd *g, uint64_t usec)
{
	uint64_t end = mono_usec() + usec;

	while (!all_done(g)) {
		uint64_t now = mono_usec();
		struct pollfd p = { .fd = g->efd, .events = POLLIN };

		if (now >= end)
			return false;
		(void)poll(&p, 1, (int)((end - now + 999) / 1000));
		drain(g);
	}
	return true;
}

/* Shut the servers down and wait for their calls. false if some call
 * would not go away. */
static bool servers_shutdown(struct grpcd *g)
{
	bool any = false;

	for (int o = 0; o < GRPCD_ORIGINS; o++) {
		if (!g->srv_started[o])
			continue;
		grpc_server_shutdown_and_notify(g->srv[o], g->cq,
						&g->shutdown_tag[o]);
		any = true;
	}
	if (!any)
		return true;
	grpcd_streams_end(g);
	if (wait_done(g, STOP_GRACE_USEC))
		return true;
	log_info("grpc: cancelling %zu calls still running", g->n_calls);
	for (int o = 0; o < GRPCD_ORIGINS; o++)
		if (g->srv_started[o])
			grpc_server_cancel_all_calls(g->srv[o]);
	if (wait_done(g, STOP_CANCEL_USEC))
		return true;
	log_err("grpc: %zu calls did not end; leaving gRPC core running",
		g->n_calls);
	return false;
}

void grpcd_stop(struct grpcd *g)
{
	bool clean;

	if (!g)
		return;
	g->stopping = true;
	listeners_stop(g);
	clean = servers_shutdown(g);
	if (g->pump_started && clean) {
		/* The pump returns once the queue is shut down and empty. */
		grpc_completion_queue_shutdown(g->cq);
		pthread_join(g->pump, NULL);
		drain(g);
	}
	if (clean) {
		for (int o = 0; o < GRPCD_ORIGINS; o++)
			if (g->srv[o])
				grpc_server_destroy(g->srv[o]);
		if (g->cq && !g->pump_started)
			grpc_completion_queue_shutdown(g->cq);
		if (g->cq)
			grpc_completion_queue_destroy(g->cq);
		if (g->grpc_inited)
			grpc_shutdown_blocking();
	}
	if (g->sub >= 0)
		event_unsubscribe(&g->d->bus, g->sub);
	sd_event_source_disable_unref(g->efd_src);
	if (!clean)
		return; /* the pump and gRPC core still use g */
	if (g->efd >= 0)
		close(g->efd);
	pthread_mutex_destroy(&g->lock);
	free(g->queue);
	free(g->spare);
	free(g);
}
