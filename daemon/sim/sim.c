// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Sim backend, connection side: one SOCK_SEQPACKET connection per
 * simulated guest. Every message is validated before use (size, type,
 * indices); the guest's memory and metadata are hostile input. Steering
 * a connected guest is sim/backend.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "backend.h"
#include "daemon.h"
#include "ha_host.h"
#include "listen.h"
#include "log.h"
#include "sim/sim.h"
#include "sim/internal.h"
#include "sim/msg.h"
#include "sim_proto.h"
#include "user/ident.h"
#include "user/memfd_env.h"
#include "user/ramfd.h"

/* Connections that have not said HELLO: at most this many, each for at
 * most this long (a guest sends HELLO right after it connects). */
#define SIM_PENDING_MAX	    16
#define SIM_HELLO_TIMEOUT_S 30

static void conn_close(struct sim_conn *c, const char *why);

/* ---- sending ---- */

static void hdr_init(struct sim_hdr *h, enum sim_msg_type t)
{
	h->magic = SIM_PROTO_MAGIC;
	h->version = SIM_PROTO_VERSION;
	h->type = (uint16_t)t;
}

static int conn_send(struct sim_conn *c, const void *msg, size_t len)
{
	ssize_t n = send(c->fd, msg, len, MSG_NOSIGNAL | MSG_DONTWAIT);

	if (n < 0)
		return -errno;
	return 0;
}

/* "sim guest NAME" (or "sim guest" before its HELLO) for log lines. */
static const char *conn_name(const struct sim_conn *c, char *buf, size_t len)
{
	snprintf(buf, len, "sim guest%s%s", c->vm ? " " : "",
		 c->vm ? c->vm->id : "");
	return buf;
}

static void warn_summary(struct sim_conn *c, uint64_t n)
{
	char name[96];

	if (n)
		log_warn(
			"%s: %llu more warnings suppressed (at most %d per "
			"%llu s)",
			conn_name(c, name, sizeof(name)), (unsigned long long)n,
			SIM_WARN_BURST,
			(unsigned long long)(SIM_WARN_INTERVAL_USEC / 1000000));
}

static int on_warn_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct sim_conn *c = userdata;

	(void)s;
	(void)usec;
	c->warn_timer = sd_event_source_disable_unref(c->warn_timer);
	warn_summary(c, ratelimit_flush(&c->warn_rl));
	return 0;
}

/*
 * A warning about a guest, rate-limited per connection: a guest must not
 * be able to fill the log. The first SIM_WARN_BURST of an interval are
 * printed; the rest are counted and summed up in one line when the
 * interval ends (a timer) or the next line comes.
 */
static void conn_warn(struct sim_conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void conn_warn(struct sim_conn *c, const char *fmt, ...)
{
	uint64_t now = 0, summary;
	char name[96], msg[512];
	va_list ap;

	sd_event_now(c->sb->d->loop, CLOCK_MONOTONIC, &now);
	if (!ratelimit_allow(&c->warn_rl, now, &summary)) {
		if (!c->warn_timer)
			sd_event_add_time(c->sb->d->loop, &c->warn_timer,
					  CLOCK_MONOTONIC,
					  ratelimit_interval_end(&c->warn_rl),
					  100000, on_warn_timer, c);
		return;
	}
	warn_summary(c, summary);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warn("%s: %s", conn_name(c, name, sizeof(name)), msg);
}

static void send_error(struct sim_conn *c, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void send_error(struct sim_conn *c, int code, const char *fmt, ...)
{
	struct sim_error e = { 0 };
	va_list ap;

	hdr_init(&e.hdr, SIM_ERROR);
	e.code = code;
	va_start(ap, fmt);
	vsnprintf(e.message, sizeof(e.message), fmt, ap);
	va_end(ap);
	conn_send(c, &e, sizeof(e));
	conn_warn(c, "%s", e.message);
}

/* ---- messages ---- */

static bool str_terminated(const char *s, size_t len)
{
	return memchr(s, '\0', len) != NULL;
}

static int handle_hello(struct sim_conn *c, const struct sim_hello *h,
			int memfd)
{
	struct daemon *d = c->sb->d;
	struct ha_bad bad;
	const char *why;
	struct vm *vm;
	int r;

	if (c->vm) {
		send_error(c, -EPROTO, "HELLO sent twice");
		return -EPROTO;
	}
	if (memfd < 0) {
		send_error(c, -EINVAL, "HELLO without the RAM memfd");
		return -EINVAL;
	}
	c->memfd = memfd;
	char uuid[IDENT_UUID_LEN + 1];
	char why_buf[SIM_TEXT_MAX];

	if (sim_hello_check(h, uuid, why_buf, sizeof(why_buf)) < 0) {
		send_error(c, -EINVAL, "%s", why_buf);
		return -EINVAL;
	}
	/* The guest keeps its memfd: sealed against shrinking, it cannot
	 * turn a read of its RAM into SIGBUS here (user/ramfd.h). */
	r = ramfd_check(memfd, h->ram_bytes, &why);
	if (r < 0) {
		send_error(c, r, "memfd refused: %s", why);
		return r;
	}
	if (vm_registry_find(&d->vms, h->name) ||
	    vm_registry_find(&d->vms, h->uuid)) {
		send_error(c, -EEXIST, "a VM named %s (or with uuid %s) exists",
			   h->name, h->uuid);
		return -EEXIST;
	}

	c->ram_bytes = h->ram_bytes;
	c->thp = h->flags & SIM_HELLO_F_THP;
	c->ram = mmap(NULL, c->ram_bytes, PROT_READ | PROT_WRITE, MAP_SHARED,
		      memfd, 0);
	if (c->ram == MAP_FAILED) {
		c->ram = NULL;
		r = -errno;
		send_error(c, r, "cannot map guest RAM: %s", strerror(-r));
		return r;
	}
	c->hstate = calloc(1, ha_host_state_size(c->ram_bytes / HA_FRAME_SIZE));
	if (!c->hstate)
		return -ENOMEM;
	r = memfd_env_init(&c->env, memfd, 0);
	if (r < 0)
		return r;
	c->env_ready = true;
	r = ha_host_attach(&c->host, c->ram + h->meta_offset, h->meta_len,
			   h->meta_offset / HA_FRAME_SIZE,
			   c->ram_bytes / HA_FRAME_SIZE, &c->env.env, c->hstate,
			   &bad);
	if (r < 0) {
		send_error(c, r,
			   "allocator metadata rejected: %s (index %llu, "
			   "value %llu)",
			   ha_bad_str(bad.reason),
			   (unsigned long long)bad.index,
			   (unsigned long long)bad.value);
		return r;
	}
	/* The region starts at its base frame inside the memfd. */
	c->env.base_offset = c->host.base_frame * HA_FRAME_SIZE;
	if (c->thp && madvise(c->ram, c->ram_bytes, MADV_HUGEPAGE) == 0)
		memfd_env_use_mapping(&c->env, c->ram);

	vm = vm_new(h->name, uuid, VM_MECH_SIM);
	if (!vm)
		return -ENOMEM;
	vm->ops = &sim_ops;
	vm->backend = c;
	vm->ram_bytes = c->ram_bytes;
	vm->mem.max_bytes = c->ram_bytes;
	vm->mem.min_bytes = d->cfg->defaults.min_bytes < c->ram_bytes ?
				    d->cfg->defaults.min_bytes :
				    c->ram_bytes;
	vm->mem.shares = d->cfg->defaults.shares;
	vm->mem.target_bytes = c->ram_bytes;
	c->vm = vm;
	/* Keep the hint of what recovery found: frames already reclaimed. */
	c->want_hard = c->host.c.hard_now;

	struct sim_welcome w = { 0 };

	hdr_init(&w.hdr, SIM_WELCOME);
	snprintf(w.id, sizeof(w.id), "%s", vm->id);
	conn_send(c, &w, sizeof(w));
	log_info("%s: sim guest connected (pid %u, %llu MiB, %u vCPUs, trace "
		 "%.64s%s%s)",
		 vm->id, h->pid, (unsigned long long)(c->ram_bytes >> 20),
		 h->vcpus,
		 str_terminated(h->trace, sizeof(h->trace)) ? h->trace : "?",
		 h->flags & SIM_HELLO_F_FPR ? ", free page reporting" : "",
		 c->thp ? ", shmem THP" : "");
	r = daemon_vm_add(d, vm);
	if (r < 0) {
		c->vm = NULL;
		vm_free(vm);
		return r;
	}
	sim_ops.refresh(vm);
	return 0;
}

static void handle_install(struct sim_conn *c, const struct sim_install *m)
{
	struct sim_installed rep = { .seq = m->seq };
	int r;

	hdr_init(&rep.hdr, SIM_INSTALLED);
	r = ha_host_install(&c->host, ha_huge(m->huge));
	if (r == HA_EBADMSG)
		sim_quarantine(c);
	rep.status = r;
	r = conn_send(c, &rep, sizeof(rep));
	if (r < 0) {
		c->vm->counters.install_replies_dropped++;
		conn_warn(c, "cannot answer an install request: %s",
			  strerror(-r));
	}
}

static void handle_report(struct sim_conn *c, const struct sim_report *m,
			  size_t len)
{
	struct sim_reported rep = { .seq = m->seq };
	hdr_init(&rep.hdr, SIM_REPORTED);
	if (sim_report_check(m, len) < 0) {
		rep.status = -EINVAL;
	} else {
		for (uint32_t i = 0; i < m->count; i++) {
			if (m->huge[i] >= c->host.layout.children) {
				rep.status = HA_ERANGE;
				break;
			}
			/* The guest holds these frames allocated: punching
			 * them is free page reporting, outside the
			 * reclaim protocol. */
			if (c->env.env.discard(&c->env, ha_huge(m->huge[i]),
					       1) == 0)
				rep.discarded++;
		}
	}
	conn_send(c, &rep, sizeof(rep));
}

static void handle_status(struct sim_conn *c, const struct sim_status *m)
{
	struct vm_counters *k = &c->vm->counters;
	uint64_t now = 0, skipped;

	/* Data loss is an error event, but a guest that raises its count
	 * in every STATUS must not push every other event out of the
	 * ring: one per interval, the reports between counted. */
	(void)sd_event_now(c->sb->d->loop, CLOCK_MONOTONIC, &now);
	if (m->canary_mismatches > k->canary_mismatches &&
	    ratelimit_allow(&c->canary_rl, now, &skipped))
		daemon_error(c->sb->d, c->vm,
			     "%s: the guest reports %llu canary mismatches "
			     "(data loss; %llu reports not logged)",
			     c->vm->id,
			     (unsigned long long)m->canary_mismatches,
			     (unsigned long long)skipped);
	k->guest_ops = m->ops;
	k->guest_installs = m->installs;
	k->guest_install_ns = m->install_ns;
	k->canary_checks = m->canary_checks;
	k->canary_mismatches = m->canary_mismatches;
	k->alloc_failures = m->alloc_failures;
	c->vm->guest = (struct vm_guest_status){
		.valid = true,
		.trace_pos_ms = m->trace_pos_ms,
		.trace_len_ms = m->trace_len_ms,
		.trace_done = m->trace_done != 0,
		.allocated_bytes = m->allocated_bytes,
		.target_bytes = m->target_bytes,
		.reported = m->reported,
	};
}

static int on_conn(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct sim_conn *c = userdata;
	union {
		struct sim_hdr hdr;
		struct sim_hello hello;
		struct sim_install install;
		struct sim_report report;
		struct sim_status status;
		char raw[sizeof(struct sim_report) + 64];
	} buf;
	union {
		char b[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = &buf, .iov_len = sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = ctl.b,
			     .msg_controllen = sizeof(ctl.b) };
	int passed = -1;
	ssize_t n;

	(void)s;
	(void)revents;
	n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0) {
		conn_close(c, n == 0 ? "guest closed the connection" :
				       strerror(errno));
		return 0;
	}
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm;
	     cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		size_t nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int *fds = (int *)(void *)CMSG_DATA(cm);

		for (size_t i = 0; i < nfd; i++) {
			if (passed < 0)
				passed = fds[i];
			else
				close(fds[i]);
		}
	}
	size_t len = (size_t)n;

	if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
	    sim_msg_check(&buf, len) == 0) {
		send_error(c, -EPROTO, "malformed message (type %u, %zu bytes)",
			   len >= sizeof(struct sim_hdr) ? buf.hdr.type : 0u,
			   len);
		if (passed >= 0)
			close(passed);
		conn_close(c, "protocol error");
		return 0;
	}
	if (buf.hdr.type == SIM_HELLO) {
		int r = handle_hello(c, &buf.hello, passed);

		if (r < 0) {
			if (passed >= 0 && c->memfd != passed)
				close(passed);
			conn_close(c, "HELLO refused");
		}
		return 0;
	}
	if (passed >= 0)
		close(passed);
	if (!c->vm) {
		send_error(c, -EPROTO, "message before HELLO");
		conn_close(c, "protocol error");
		return 0;
	}
	switch (buf.hdr.type) {
	case SIM_INSTALL:
		handle_install(c, &buf.install);
		break;
	case SIM_REPORT:
		handle_report(c, &buf.report, len);
		break;
	case SIM_STATUS:
		handle_status(c, &buf.status);
		break;
	case SIM_BYE:
		conn_close(c, "guest said goodbye");
		break;
	}
	return 0;
}

static void conn_close(struct sim_conn *c, const char *why)
{
	struct daemon *d = c->sb->d;

	c->warn_timer = sd_event_source_disable_unref(c->warn_timer);
	warn_summary(c, ratelimit_flush(&c->warn_rl));

	for (struct sim_conn **p = &c->sb->conns; *p; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			break;
		}
	}

	if (c->vm) {
		struct vm *vm = c->vm;

		c->vm = NULL;
		vm->backend = NULL;
		vm->ops = NULL;
		daemon_vm_remove(d, vm, why);
	}
	sd_event_source_disable_unref(c->io);
	sd_event_source_disable_unref(c->work);
	sd_event_source_disable_unref(c->hello_timer);
	close(c->fd);
	if (c->ram)
		munmap(c->ram, c->ram_bytes);
	if (c->memfd >= 0)
		close(c->memfd);
	if (c->env_ready)
		memfd_env_destroy(&c->env);
	free(c->hstate);
	free(c);
}

/* A connection that has not said HELLO within SIM_HELLO_TIMEOUT_S. */
static int on_hello_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct sim_conn *c = userdata;

	(void)s;
	(void)usec;
	if (!c->vm)
		conn_close(c, "no HELLO in time");
	return 0;
}

static int on_backoff_end(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct sim_backend *sb = userdata;

	(void)s;
	(void)usec;
	(void)sd_event_source_set_enabled(sb->listen_src, SD_EVENT_ON);
	return 0;
}

/*
 * accept() failed for want of fds or memory: the listening socket stays
 * readable, and trying again at once would spin. Stop listening for a
 * while (50 ms doubling to 2 s while it keeps failing); log once per
 * 10 s.
 */
static void accept_backoff(struct sim_backend *sb, int err)
{
	uint64_t now = 0;
	int r;

	(void)sd_event_now(sb->d->loop, CLOCK_MONOTONIC, &now);
	sb->backoff_ms = sb->backoff_ms ? sb->backoff_ms * 2 : 50;
	if (sb->backoff_ms > 2000)
		sb->backoff_ms = 2000;
	if (!sb->accept_note_usec ||
	    now - sb->accept_note_usec >= 10ull * 1000 * 1000) {
		log_warn("sim: cannot accept a guest: %s (backing off; %llu "
			 "such failures not logged)",
			 strerror(err),
			 (unsigned long long)sb->accept_note_skipped);
		sb->accept_note_usec = now ? now : 1;
		sb->accept_note_skipped = 0;
	} else {
		sb->accept_note_skipped++;
	}
	r = sd_event_source_set_enabled(sb->listen_src, SD_EVENT_OFF);
	if (!sb->backoff_timer && r >= 0)
		r = sd_event_add_time(sb->d->loop, &sb->backoff_timer,
				      CLOCK_MONOTONIC, 0, 1000, on_backoff_end,
				      sb);
	if (r >= 0)
		r = sd_event_source_set_time(sb->backoff_timer,
					     now + sb->backoff_ms * 1000ull);
	if (r >= 0)
		r = sd_event_source_set_enabled(sb->backoff_timer,
						SD_EVENT_ONESHOT);
	if (r < 0) /* no timer: better a busy loop than a dead socket */
		(void)sd_event_source_set_enabled(sb->listen_src, SD_EVENT_ON);
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents,
		     void *userdata)
{
	struct sim_backend *sb = userdata;
	struct sim_conn *c;
	unsigned pending = 0;
	uint64_t now = 0;
	int cfd, r;

	(void)s;
	(void)revents;
	cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (cfd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM)
			accept_backoff(sb, errno);
		return 0;
	}
	sb->backoff_ms = 0;
	/* Connections that have not said HELLO yet hold nothing but an fd;
	 * a client that opens them without end is capped. */
	for (struct sim_conn *o = sb->conns; o; o = o->next)
		if (!o->vm)
			pending++;
	if (pending >= SIM_PENDING_MAX) {
		log_debug("sim: %u connections without HELLO, refusing one",
			  pending);
		close(cfd);
		return 0;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(cfd);
		return 0;
	}
	c->sb = sb;
	c->fd = cfd;
	c->memfd = -1;
	ratelimit_init(&c->warn_rl, SIM_WARN_BURST, SIM_WARN_INTERVAL_USEC);
	ratelimit_init(&c->canary_rl, 1, SIM_CANARY_NOTE_USEC);
	r = sd_event_add_io(sb->d->loop, &c->io, cfd, EPOLLIN, on_conn, c);
	if (r >= 0)
		r = sd_event_add_defer(sb->d->loop, &c->work, sim_work, c);
	if (r >= 0)
		r = sd_event_now(sb->d->loop, CLOCK_MONOTONIC, &now);
	if (r >= 0)
		r = sd_event_add_time(sb->d->loop, &c->hello_timer,
				      CLOCK_MONOTONIC,
				      now + SIM_HELLO_TIMEOUT_S * 1000000ull,
				      100000, on_hello_timeout, c);
	if (r < 0) {
		log_err("sim: cannot watch a connection: %s", strerror(-r));
		sd_event_source_disable_unref(c->io);
		sd_event_source_disable_unref(c->work);
		sd_event_source_disable_unref(c->hello_timer);
		close(cfd);
		free(c);
		return 0;
	}
	/* Installs (io) before reclaim slices (work). */
	sd_event_source_set_priority(c->io, SD_EVENT_PRIORITY_NORMAL - 10);
	sd_event_source_set_priority(c->work, SD_EVENT_PRIORITY_IDLE);
	sd_event_source_set_enabled(c->work, SD_EVENT_OFF);
	c->next = sb->conns;
	sb->conns = c;
	return 0;
}

/* ---- listener ---- */

/* A socket systemd passed us with FileDescriptorName=sim. */
static int activated_fd(void)
{
	char **names = NULL;
	int n = sd_listen_fds_with_names(0, &names);
	int fd = -1;

	for (int i = 0; i < n; i++) {
		if (names && names[i] && strcmp(names[i], "sim") == 0)
			fd = SD_LISTEN_FDS_START + i;
	}
	if (names) {
		for (int i = 0; i < n; i++)
			free(names[i]);
		free(names);
	}
	return fd;
}

static int sim_start(struct daemon *d)
{
	struct sim_backend *sb = calloc(1, sizeof(*sb));
	int r;

	if (!sb)
		return -ENOMEM;
	sb->d = d;
	sb->listen_fd = -1;
	d->sim = sb;
	if (!d->cfg->sim.socket)
		return 0;

	sb->socket_path = strdup(d->cfg->sim.socket);
	if (!sb->socket_path)
		return -ENOMEM;
	sb->listen_fd = activated_fd();
	if (sb->listen_fd < 0) {
		r = listen_unix("sim.socket", d->cfg->sim.socket, NULL,
				SOCK_SEQPACKET, &sb->listen_fd);
		if (r < 0)
			return r;
		sb->listen_fd_owned = true;
	}
	r = sd_event_add_io(d->loop, &sb->listen_src, sb->listen_fd, EPOLLIN,
			    on_accept, sb);
	if (r < 0)
		return r;
	log_info("sim: guests connect to %s", d->cfg->sim.socket);
	return sim_spawn_all(sb);
}

static void sim_stop(struct daemon *d)
{
	struct sim_backend *sb = d->sim;

	if (!sb)
		return;
	sim_spawn_stop_all(sb);
	while (sb->conns)
		conn_close(sb->conns, "daemon shutting down");
	sd_event_source_disable_unref(sb->listen_src);
	sd_event_source_disable_unref(sb->backoff_timer);
	if (sb->listen_fd >= 0)
		close(sb->listen_fd);
	if (sb->listen_fd_owned)
		unlink(sb->socket_path);
	free(sb->socket_path);
	free(sb);
	d->sim = NULL;
}

static void sim_reconfigure(struct daemon *d)
{
	if (d->sim)
		sim_spawn_reconfigure(d->sim);
}

const struct vm_source sim_source = {
	.name = "sim",
	.start = sim_start,
	.stop = sim_stop,
	.reconfigure = sim_reconfigure,
};
