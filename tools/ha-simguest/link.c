// SPDX-License-Identifier: GPL-2.0-or-later
#include "link.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define HANDSHAKE_TIMEOUT_MS 5000
#define BACKOFF_MIN_MS	     100
#define BACKOFF_MAX_MS	     2000
#define WAIT_SLICE_MS	     100 /* requests re-check the state this often */
#define RECV_MAX	     4096

struct link_req {
	uint64_t seq;
	uint16_t type; /* SIM_INSTALL or SIM_REPORT */
	const uint64_t *huge;
	uint32_t count;
	uint64_t sent_gen; /* connection it was last sent on, 0 = never */
	bool done;
	int32_t status;
	uint32_t discarded;
	struct link_req *next;
};

__attribute__((format(printf, 3, 4))) static void
set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void hdr_init(struct sim_hdr *h, enum sim_msg_type type)
{
	h->magic = SIM_PROTO_MAGIC;
	h->version = SIM_PROTO_VERSION;
	h->type = (uint16_t)type;
}

/* Bounded copy of a NUL-padded wire string. */
static void copy_text(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	size_t n = strnlen(src, srclen);

	if (n >= dstlen)
		n = dstlen - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* ---- connecting ---- */

/* Wait until @fd is readable, @wake_fd fires (-ECANCELED) or @timeout_ms
 * pass (-ETIMEDOUT). */
static int wait_readable(int fd, int wake_fd, int timeout_ms)
{
	struct pollfd p[2] = { { .fd = fd, .events = POLLIN },
			       { .fd = wake_fd, .events = POLLIN } };
	int n;

	do {
		n = poll(p, wake_fd >= 0 ? 2 : 1, timeout_ms);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ETIMEDOUT;
	if (wake_fd >= 0 && (p[1].revents & POLLIN))
		return -ECANCELED;
	return 0;
}

static int send_hello(struct link *l, int fd)
{
	struct sim_hello hello = l->hello;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = &hello, .iov_len = sizeof(hello) };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};
	struct cmsghdr *c;

	hdr_init(&hello.hdr, SIM_HELLO);
	memset(&control, 0, sizeof(control));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &l->memfd, sizeof(int));
	if (sendmsg(fd, &msg, MSG_NOSIGNAL) < 0)
		return -errno;
	return 0;
}

/*
 * Connect, say HELLO, wait for the answer. Returns the connected socket;
 * -errno of connect (ENOENT, ECONNREFUSED: nobody listens yet) or of the
 * exchange; -EPROTO or the daemon's code for ERROR; reasons in @err.
 */
static int handshake(struct link *l, char *err, size_t errlen)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	union {
		struct sim_hdr hdr;
		struct sim_welcome welcome;
		struct sim_error error;
		char buf[RECV_MAX];
	} m;
	ssize_t n;
	int fd, r;

	memcpy(addr.sun_path, l->path, sizeof(addr.sun_path));
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		set_err(err, errlen, "socket: %s", strerror(-r));
		return r;
	}
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		r = -errno;
		set_err(err, errlen, "connect %s: %s", l->path, strerror(-r));
		goto cleanup;
	}
	r = send_hello(l, fd);
	if (r < 0) {
		set_err(err, errlen, "sending HELLO: %s", strerror(-r));
		goto cleanup;
	}
	r = wait_readable(fd, l->wake_fd, HANDSHAKE_TIMEOUT_MS);
	if (r < 0) {
		set_err(err, errlen, "waiting for WELCOME: %s",
			r == -ETIMEDOUT ? "no answer within 5 s" :
					  strerror(-r));
		goto cleanup;
	}
	n = recv(fd, &m, sizeof(m), 0);
	if (n < 0) {
		r = -errno;
		set_err(err, errlen, "waiting for WELCOME: %s", strerror(-r));
		goto cleanup;
	}
	if (n == 0) {
		r = -ECONNRESET;
		set_err(err, errlen,
			"the daemon closed the connection "
			"without an answer");
		goto cleanup;
	}
	if ((size_t)n < sizeof(m.hdr) || m.hdr.magic != SIM_PROTO_MAGIC ||
	    m.hdr.version != SIM_PROTO_VERSION) {
		r = -EPROTO;
		set_err(err, errlen,
			"answer to HELLO is not a sim protocol "
			"v%u message",
			SIM_PROTO_VERSION);
		goto cleanup;
	}
	if (m.hdr.type == SIM_ERROR && (size_t)n == sizeof(m.error)) {
		char text[SIM_TEXT_MAX];

		copy_text(text, sizeof(text), m.error.message,
			  sizeof(m.error.message));
		r = m.error.code < 0 && m.error.code > -4096 ? m.error.code :
							       -EPROTO;
		set_err(err, errlen, "the daemon refused: %s (%s)", text,
			strerror(-r));
		goto cleanup;
	}
	if (m.hdr.type != SIM_WELCOME || (size_t)n != sizeof(m.welcome)) {
		r = -EPROTO;
		set_err(err, errlen,
			"answer to HELLO: type %u, %zd bytes; "
			"want WELCOME",
			m.hdr.type, n);
		goto cleanup;
	}
	pthread_mutex_lock(&l->lock);
	copy_text(l->id, sizeof(l->id), m.welcome.id, sizeof(m.welcome.id));
	pthread_mutex_unlock(&l->lock);
	return fd;

cleanup:
	close(fd);
	return r;
}

/* ---- the reader ---- */

static void link_down(struct link *l, int fd)
{
	pthread_mutex_lock(&l->lock);
	if (l->fd == fd)
		l->fd = -1;
	close(fd);
	/* Lost for good unless we reconnect; a loss while stopping is just
	 * the end. */
	if (!l->reconnect && !l->stopping)
		l->failed = true;
	pthread_cond_broadcast(&l->cond);
	pthread_mutex_unlock(&l->lock);
}

static void complete(struct link *l, uint16_t type, uint64_t seq,
		     int32_t status, uint32_t discarded)
{
	pthread_mutex_lock(&l->lock);
	for (struct link_req *q = l->pending; q; q = q->next) {
		if (q->seq != seq || q->type != type || q->done)
			continue;
		q->done = true;
		q->status = status;
		q->discarded = discarded;
		pthread_cond_broadcast(&l->cond);
		break;
	}
	pthread_mutex_unlock(&l->lock);
}

/* Check one packet from the daemon and act on it. */
static void dispatch(struct link *l, const void *buf, size_t n)
{
	const struct sim_hdr *h = buf;

	if (n < sizeof(*h) || h->magic != SIM_PROTO_MAGIC ||
	    h->version != SIM_PROTO_VERSION) {
		sg_warn("ignored a %zu-byte packet that is not a sim protocol "
			"v%u message",
			n, SIM_PROTO_VERSION);
		return;
	}
	switch (h->type) {
	case SIM_INSTALLED: {
		const struct sim_installed *m = buf;

		if (n != sizeof(*m))
			break;
		complete(l, SIM_INSTALL, m->seq, m->status, 0);
		return;
	}
	case SIM_REPORTED: {
		const struct sim_reported *m = buf;

		if (n != sizeof(*m))
			break;
		complete(l, SIM_REPORT, m->seq, m->status, m->discarded);
		return;
	}
	case SIM_ERROR: {
		const struct sim_error *m = buf;
		char text[SIM_TEXT_MAX];

		if (n != sizeof(*m))
			break;
		copy_text(text, sizeof(text), m->message, sizeof(m->message));
		sg_err("the daemon reports an error: %s (code %d)", text,
		       m->code);
		return;
	}
	default:
		break;
	}
	sg_warn("ignored message type %u of %zu bytes", h->type, n);
}

static int sleep_or_wake(struct link *l, unsigned ms)
{
	struct pollfd p = { .fd = l->wake_fd, .events = POLLIN };

	return poll(&p, 1, (int)ms) > 0 ? -ECANCELED : 0;
}

static void *reader_main(void *arg)
{
	struct link *l = arg;
	unsigned backoff = BACKOFF_MIN_MS;
	uint64_t buf[RECV_MAX / sizeof(uint64_t)];
	char err[320];

	for (;;) {
		int fd;
		bool stopping;

		pthread_mutex_lock(&l->lock);
		fd = l->fd;
		stopping = l->stopping || l->failed;
		pthread_mutex_unlock(&l->lock);

		if (fd < 0) {
			if (stopping || !l->reconnect)
				break;
			if (sleep_or_wake(l, backoff) < 0)
				break;
			fd = handshake(l, err, sizeof(err));
			if (fd == -ECANCELED)
				break;
			if (fd < 0) {
				/* Say why once per outage, then quietly. */
				if (backoff == BACKOFF_MIN_MS)
					sg_warn("reconnecting: %s", err);
				else
					sg_debug("reconnecting: %s", err);
				backoff = backoff * 2 > BACKOFF_MAX_MS ?
						  BACKOFF_MAX_MS :
						  backoff * 2;
				continue;
			}
			backoff = BACKOFF_MIN_MS;
			atomic_fetch_add(&l->reconnects, 1);
			pthread_mutex_lock(&l->lock);
			if (l->stopping) {
				pthread_mutex_unlock(&l->lock);
				close(fd);
				break;
			}
			l->fd = fd;
			l->gen++;
			sg_info("reconnected to %s as %s", l->path, l->id);
			pthread_cond_broadcast(&l->cond);
			pthread_mutex_unlock(&l->lock);
			continue;
		}

		int r = wait_readable(fd, l->wake_fd, -1);

		if (r == -ECANCELED)
			break;
		ssize_t n = r < 0 ? -1 : recv(fd, buf, sizeof(buf), 0);
		int why = r < 0 ? -r : errno;

		if (n < 0 && why == EINTR)
			continue;
		if (n > 0) {
			dispatch(l, buf, (size_t)n);
			continue;
		}
		pthread_mutex_lock(&l->lock);
		stopping = l->stopping;
		pthread_mutex_unlock(&l->lock);
		/* After BYE the daemon closes: that is no loss. */
		if (!stopping)
			sg_warn("connection to %s lost (%s)%s", l->path,
				n == 0 ? "closed by the daemon" : strerror(why),
				l->reconnect ? ", reconnecting" : "");
		link_down(l, fd);
	}
	return NULL;
}

int link_open(struct link *l, const char *path, int memfd,
	      const struct sim_hello *hello, bool reconnect,
	      unsigned connect_timeout_ms, char *err, size_t errlen)
{
	pthread_condattr_t ca;
	uint64_t deadline;
	int fd, r;

	memset(l, 0, sizeof(*l));
	l->fd = -1;
	l->wake_fd = -1;
	if (strlen(path) >= sizeof(l->path)) {
		set_err(err, errlen, "socket path longer than %zu bytes",
			sizeof(l->path) - 1);
		return -ENAMETOOLONG;
	}
	memcpy(l->path, path, strlen(path) + 1);
	l->memfd = memfd;
	l->hello = *hello;
	l->reconnect = reconnect;
	l->initialized = true;
	pthread_mutex_init(&l->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->cond, &ca);
	pthread_condattr_destroy(&ca);
	l->wake_fd = eventfd(0, EFD_CLOEXEC);
	if (l->wake_fd < 0) {
		r = -errno;
		set_err(err, errlen, "eventfd: %s", strerror(-r));
		goto cleanup;
	}

	deadline = now_ns() + (uint64_t)connect_timeout_ms * 1000000ull;
	for (;;) {
		fd = handshake(l, err, errlen);
		if (fd >= 0)
			break;
		/* Nobody listening yet: the daemon may still be starting. */
		if ((fd != -ENOENT && fd != -ECONNREFUSED) ||
		    now_ns() >= deadline) {
			r = fd;
			goto cleanup;
		}
		sleep_or_wake(l, BACKOFF_MIN_MS);
	}
	l->fd = fd;
	l->gen = 1;
	r = pthread_create(&l->reader, NULL, reader_main, l);
	if (r) {
		r = -r;
		set_err(err, errlen, "starting the reader: %s", strerror(-r));
		goto cleanup;
	}
	l->reader_started = true;
	return 0;

cleanup:
	link_close(l);
	return r;
}

/* ---- requests ---- */

static int send_req_locked(struct link *l, struct link_req *q)
{
	union {
		struct sim_install install;
		struct sim_report report;
	} m;
	size_t len;

	memset(&m, 0, sizeof(m));
	if (q->type == SIM_INSTALL) {
		hdr_init(&m.install.hdr, SIM_INSTALL);
		m.install.seq = q->seq;
		m.install.huge = q->huge[0];
		len = sizeof(m.install);
	} else {
		hdr_init(&m.report.hdr, SIM_REPORT);
		m.report.seq = q->seq;
		m.report.count = q->count;
		memcpy(m.report.huge, q->huge, q->count * sizeof(uint64_t));
		len = offsetof(struct sim_report, huge) +
		      q->count * sizeof(uint64_t);
	}
	if (send(l->fd, &m, len, MSG_NOSIGNAL) < 0)
		return -errno;
	return 0;
}

static void deadline_in(struct timespec *ts, uint64_t ns)
{
	uint64_t t = now_ns() + ns;

	ts->tv_sec = (time_t)(t / 1000000000ull);
	ts->tv_nsec = (long)(t % 1000000000ull);
}

static int request(struct link *l, struct link_req *q)
{
	struct link_req **pp;
	int r;

	pthread_mutex_lock(&l->lock);
	q->seq = ++l->seq;
	q->next = l->pending;
	l->pending = q;
	for (;;) {
		struct timespec ts;

		if (q->done) {
			r = q->status;
			break;
		}
		if (l->failed) {
			r = -ENOTCONN;
			break;
		}
		if (l->stopping &&
		    (l->fd < 0 || now_ns() >= l->stop_deadline_ns)) {
			r = l->fd < 0 ? -ECANCELED : -ETIMEDOUT;
			break;
		}
		if (l->fd >= 0 && q->sent_gen != l->gen) {
			q->sent_gen = l->gen;
			r = send_req_locked(l, q);
			/* The reader sees the shut-down socket, reconnects
			 * and the request goes out again. */
			if (r < 0)
				shutdown(l->fd, SHUT_RDWR);
		}
		deadline_in(&ts, WAIT_SLICE_MS * 1000000ull);
		pthread_cond_timedwait(&l->cond, &l->lock, &ts);
	}
	for (pp = &l->pending; *pp; pp = &(*pp)->next) {
		if (*pp == q) {
			*pp = q->next;
			break;
		}
	}
	pthread_mutex_unlock(&l->lock);
	return r;
}

int link_install(struct link *l, uint64_t huge)
{
	struct link_req q = { .type = SIM_INSTALL, .huge = &huge, .count = 1 };

	return request(l, &q);
}

int link_report(struct link *l, const uint64_t *huge, uint32_t count,
		uint32_t *ret_discarded)
{
	struct link_req q = { .type = SIM_REPORT,
			      .huge = huge,
			      .count = count };
	int r;

	if (count == 0 || count > SIM_REPORT_MAX)
		return -EINVAL;
	r = request(l, &q);
	*ret_discarded = r == 0 ? q.discarded : 0;
	return r;
}

static int send_oneway(struct link *l, const void *msg, size_t len)
{
	int r = 0;

	pthread_mutex_lock(&l->lock);
	/* Never block on a daemon that does not read: a STATUS that does
	 * not fit is dropped (-EAGAIN), the next one follows soon. */
	if (l->fd < 0)
		r = -ENOTCONN;
	else if (send(l->fd, msg, len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		r = -errno;
	pthread_mutex_unlock(&l->lock);
	return r;
}

int link_send_status(struct link *l, struct sim_status *st)
{
	hdr_init(&st->hdr, SIM_STATUS);
	return send_oneway(l, st, sizeof(*st));
}

int link_send_bye(struct link *l)
{
	struct sim_hdr h;

	hdr_init(&h, SIM_BYE);
	return send_oneway(l, &h, sizeof(h));
}

void link_begin_stop(struct link *l, unsigned grace_ms)
{
	pthread_mutex_lock(&l->lock);
	l->stopping = true;
	l->stop_deadline_ns = now_ns() + (uint64_t)grace_ms * 1000000ull;
	pthread_cond_broadcast(&l->cond);
	pthread_mutex_unlock(&l->lock);
}

bool link_failed(struct link *l)
{
	bool f;

	pthread_mutex_lock(&l->lock);
	f = l->failed;
	pthread_mutex_unlock(&l->lock);
	return f;
}

void link_close(struct link *l)
{
	uint64_t one = 1;

	if (!l || !l->initialized)
		return;
	if (l->reader_started) {
		if (write(l->wake_fd, &one, sizeof(one)) < 0)
			sg_warn("waking the reader: %s", strerror(errno));
		pthread_join(l->reader, NULL);
		l->reader_started = false;
	}
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	if (l->wake_fd >= 0)
		close(l->wake_fd);
	l->wake_fd = -1;
	pthread_cond_destroy(&l->cond);
	pthread_mutex_destroy(&l->lock);
	l->initialized = false;
}
