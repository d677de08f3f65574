// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The host side of test_simguest: see sim_host_fixture.h.
 */
#include "sim_host_fixture.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ARGS_MAX 40

struct sim_host sh;

/* The directory goes even when a failed assertion ends the test
 * process (Check calls exit() in fork mode): registered with atexit(). */
static void remove_files(void)
{
	if (!sh.dir[0])
		return;
	unlink(sh.sock);
	unlink(sh.trace);
	unlink(sh.out);
	unlink(sh.err);
	rmdir(sh.dir);
	sh.dir[0] = '\0';
}

__attribute__((format(printf, 1, 2))) static void host_error(const char *fmt,
							     ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "test_simguest: host: %s\n", buf);
	pthread_mutex_lock(&sh.lock);
	if (!sh.errors++)
		snprintf(sh.first_error, sizeof(sh.first_error), "%s", buf);
	pthread_mutex_unlock(&sh.lock);
}

void sh_hdr_init(struct sim_hdr *h, uint16_t type)
{
	h->magic = SIM_PROTO_MAGIC;
	h->version = SIM_PROTO_VERSION;
	h->type = type;
}

uint64_t sh_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t sh_managed_bytes(void)
{
	return sh.h.layout.frames * HA_FRAME_SIZE;
}

ha_child_word sh_child_word(uint64_t i)
{
	return __atomic_load_n(&sh.h.children[i], __ATOMIC_ACQUIRE);
}

int64_t sh_resident(void)
{
	int64_t r = memfd_resident_bytes(sh.memfd);

	ck_assert_msg(r >= 0, "memfd_resident_bytes: %s", strerror((int)-r));
	return r;
}

/* ---- the server thread: INSTALL, REPORT, STATUS, BYE ---- */

void sh_reply(const void *msg, size_t len)
{
	if (send(sh.conn, msg, len, MSG_NOSIGNAL) < 0)
		host_error("send: %s", strerror(errno));
}

static void serve_install(const struct sim_install *m)
{
	struct sim_installed a = { .seq = m->seq };

	sh_hdr_init(&a.hdr, SIM_INSTALLED);
	a.status = ha_host_install(&sh.h, ha_huge(m->huge));
	/* HA_EPROTO is legal after a host restart: a huge allocation whose
	 * install was in flight came back HARD (docs/protocol.md, 8). */
	if (a.status < 0 && a.status != HA_EPROTO)
		host_error("ha_host_install(%" PRIu64 "): %s", m->huge,
			   ha_strerror(a.status));
	pthread_mutex_lock(&sh.lock);
	sh.installs++;
	if (a.status == HA_EPROTO)
		sh.installs_refused++;
	pthread_mutex_unlock(&sh.lock);
	sh_reply(&a, sizeof(a));
}

static void serve_report(const struct sim_report *m, size_t len)
{
	struct sim_reported a = { .seq = m->seq };
	int64_t before, after;
	uint64_t freed = 0;

	sh_hdr_init(&a.hdr, SIM_REPORTED);
	if (len < offsetof(struct sim_report, huge) || m->count == 0 ||
	    m->count > SIM_REPORT_MAX ||
	    len != offsetof(struct sim_report, huge) +
			    m->count * sizeof(uint64_t)) {
		host_error("REPORT of %zu bytes, count %u", len, m->count);
		a.status = -EBADMSG;
		sh_reply(&a, sizeof(a));
		return;
	}
	for (uint32_t i = 0; i < m->count; i++) {
		uint64_t huge = m->huge[i];
		ha_child_word w;

		if (huge >= sh.h.layout.children) {
			host_error("REPORT: huge frame %" PRIu64
				   " out of range",
				   huge);
			continue;
		}
		/* Free page reporting hands over frames the guest holds
		 * isolated: allocated huge, backing present. */
		w = sh_child_word(huge);
		if (!ha_child_huge(w) || ha_child_reclaimed(w))
			host_error("REPORT: huge frame %" PRIu64
				   " is not held by the guest (word 0x%04x)",
				   huge, w);
		/* What a discard gives back: the frame's sh_resident part. */
		before = memfd_resident_bytes(sh.memfd);
		sh.menv.env.lock(sh.menv.env.ctx);
		if (sh.menv.env.discard(sh.menv.env.ctx, ha_huge(huge), 1) < 0)
			host_error("discard: %s", strerror(errno));
		sh.menv.env.unlock(sh.menv.env.ctx);
		after = memfd_resident_bytes(sh.memfd);
		if (before > after)
			freed += (uint64_t)(before - after);
		a.discarded++;
	}
	pthread_mutex_lock(&sh.lock);
	sh.reports++;
	sh.reported_frames += m->count;
	sh.report_freed += freed;
	pthread_mutex_unlock(&sh.lock);
	sh_reply(&a, sizeof(a));
}

static void serve(const void *buf, size_t len)
{
	const struct sim_hdr *h = buf;

	if (len < sizeof(*h) || h->magic != SIM_PROTO_MAGIC ||
	    h->version != SIM_PROTO_VERSION) {
		host_error("bad packet of %zu bytes", len);
		return;
	}
	switch (h->type) {
	case SIM_INSTALL:
		if (len != sizeof(struct sim_install))
			break;
		serve_install(buf);
		return;
	case SIM_REPORT:
		serve_report(buf, len);
		return;
	case SIM_STATUS:
		if (len != sizeof(struct sim_status))
			break;
		pthread_mutex_lock(&sh.lock);
		memcpy(&sh.status, buf, sizeof(sh.status));
		sh.statuses++;
		pthread_cond_broadcast(&sh.cond);
		pthread_mutex_unlock(&sh.lock);
		return;
	case SIM_BYE:
		if (len != sizeof(struct sim_hdr))
			break;
		pthread_mutex_lock(&sh.lock);
		sh.bye = true;
		pthread_cond_broadcast(&sh.cond);
		pthread_mutex_unlock(&sh.lock);
		return;
	default:
		break;
	}
	host_error("unexpected message type %u of %zu bytes", h->type, len);
}

static void *server_main(void *arg)
{
	uint64_t buf[8192 / sizeof(uint64_t)];

	(void)arg;
	for (;;) {
		struct pollfd p = { .fd = sh.conn, .events = POLLIN };
		int n = poll(&p, 1, 20);

		if (atomic_load(&sh.auto_soft)) {
			int64_t r = ha_host_reclaim_soft(&sh.h, 0);

			if (r < 0)
				host_error("ha_host_reclaim_soft: %s",
					   ha_strerror((int)r));
			pthread_mutex_lock(&sh.lock);
			sh.soft_auto += r > 0 ? (uint64_t)r : 0;
			pthread_mutex_unlock(&sh.lock);
		}
		if (n <= 0)
			continue;

		ssize_t len = recv(sh.conn, buf, sizeof(buf), 0);

		if (len <= 0)
			break;
		serve(buf, (size_t)len);
	}
	pthread_mutex_lock(&sh.lock);
	sh.eof = true;
	pthread_cond_broadcast(&sh.cond);
	pthread_mutex_unlock(&sh.lock);
	return NULL;
}

/* ---- the guest process ---- */

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/* Create the socket and the trace, then start ha-simguest with the
 * standard arguments plus @extra (NULL-terminated). */
void sh_spawn(const char *trace_text, const char *const *extra)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	const char *argv[ARGS_MAX];
	int n = 0;

	memset(&sh, 0, sizeof(sh));
	sh.conn = sh.listen_fd = sh.memfd = -1;
	pthread_mutex_init(&sh.lock, NULL);
	pthread_cond_init(&sh.cond, NULL);
	sh.started_ms = sh_now_ms();
	snprintf(sh.dir, sizeof(sh.dir), "/tmp/test_simguest.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(sh.dir));
	atexit(remove_files);
	snprintf(sh.sock, sizeof(sh.sock), "%s/sim.sock", sh.dir);
	snprintf(sh.trace, sizeof(sh.trace), "%s/test.trace", sh.dir);
	snprintf(sh.out, sizeof(sh.out), "%s/stdout", sh.dir);
	snprintf(sh.err, sizeof(sh.err), "%s/stderr", sh.dir);
	if (trace_text)
		write_text(sh.trace, trace_text);

	sh.listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(sh.listen_fd, 0);
	ck_assert_uint_lt(strlen(sh.sock), sizeof(addr.sun_path));
	memcpy(addr.sun_path, sh.sock, strlen(sh.sock) + 1);
	ck_assert_msg(bind(sh.listen_fd, (struct sockaddr *)&addr,
			   sizeof(addr)) == 0,
		      "bind: %s", strerror(errno));
	ck_assert_int_eq(listen(sh.listen_fd, 4), 0);

	argv[n++] = SIMGUEST_BIN;
	argv[n++] = "--socket";
	argv[n++] = sh.sock;
	argv[n++] = "--trace";
	argv[n++] = sh.trace;
	argv[n++] = "--memory";
	argv[n++] = GUEST_RAM;
	argv[n++] = "--status-interval";
	argv[n++] = "100";
	argv[n++] = "--connect-timeout";
	argv[n++] = "5";
	for (int i = 0; extra && extra[i]; i++) {
		ck_assert_int_lt(n, ARGS_MAX - 1);
		argv[n++] = extra[i];
	}
	argv[n] = NULL;

	sh.pid = fork();
	ck_assert_int_ge(sh.pid, 0);
	if (sh.pid == 0) {
		int out = open(sh.out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int err = open(sh.err, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		/* Never outlive a failed test. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (out < 0 || err < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
			_exit(126);
		execv(SIMGUEST_BIN, (char *const *)argv);
		_exit(127);
	}
}

/* Wait for a connection and receive HELLO with its memfd. */
int sh_accept_hello(struct sim_hello *hello)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = hello, .iov_len = sizeof(*hello) };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = control.buf,
			      .msg_controllen = sizeof(control.buf) };
	struct pollfd p = { .fd = sh.listen_fd, .events = POLLIN };
	struct cmsghdr *c;
	ssize_t n;
	int fd;

	ck_assert_msg(poll(&p, 1, WAIT_S * 1000) == 1,
		      "the guest did not connect within %d s", WAIT_S);
	sh.conn = accept4(sh.listen_fd, NULL, NULL, SOCK_CLOEXEC);
	ck_assert_int_ge(sh.conn, 0);
	p.fd = sh.conn;
	ck_assert_int_eq(poll(&p, 1, WAIT_S * 1000), 1);
	n = recvmsg(sh.conn, &msg, MSG_CMSG_CLOEXEC);
	ck_assert_int_eq(n, sizeof(*hello));
	ck_assert(!(msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC)));
	c = CMSG_FIRSTHDR(&msg);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(c->cmsg_level, SOL_SOCKET);
	ck_assert_int_eq(c->cmsg_type, SCM_RIGHTS);
	ck_assert_uint_eq(c->cmsg_len, CMSG_LEN(sizeof(int)));
	memcpy(&fd, CMSG_DATA(c), sizeof(fd));
	ck_assert_uint_eq(hello->hdr.magic, SIM_PROTO_MAGIC);
	ck_assert_uint_eq(hello->hdr.version, SIM_PROTO_VERSION);
	ck_assert_uint_eq(hello->hdr.type, SIM_HELLO);
	ck_assert(memchr(hello->name, 0, sizeof(hello->name)));
	ck_assert(memchr(hello->uuid, 0, sizeof(hello->uuid)));
	ck_assert(memchr(hello->trace, 0, sizeof(hello->trace)));
	return fd;
}

void sh_send_welcome(const char *id)
{
	struct sim_welcome w;

	memset(&w, 0, sizeof(w));
	sh_hdr_init(&w.hdr, SIM_WELCOME);
	snprintf(w.id, sizeof(w.id), "%s", id);
	sh_reply(&w, sizeof(w));
}

/* Attach lib/'s host side to the guest's RAM, as a (re)started daemon
 * does: host states are rebuilt from the child words. */
static void host_attach(void)
{
	const struct ha_header *hdr = (const void *)sh.ram;
	uint64_t ram_frames = sh.ram_bytes / HA_FRAME_SIZE;
	struct ha_bad bad;
	int r;

	sh.base_offset = hdr->base_frame * HA_FRAME_SIZE;
	free(sh.hstate);
	sh.hstate = calloc(1, ha_host_state_size(ram_frames));
	ck_assert_ptr_nonnull(sh.hstate);
	r = ha_host_attach(&sh.h, sh.ram, sh.meta_len, 0, ram_frames,
			   &sh.menv.env, sh.hstate, &bad);
	ck_assert_msg(r == HA_OK, "ha_host_attach: %s (%s)", ha_strerror(r),
		      ha_bad_str(bad.reason));
}

/* Accept the guest: HELLO, map, attach, WELCOME, start serving. */
void sh_accept(void)
{
	struct stat st;
	int fd = sh_accept_hello(&sh.hello);
	int r;

	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_uint_eq((uint64_t)st.st_size, sh.hello.ram_bytes);
	ck_assert_uint_eq(sh.hello.meta_offset, 0);
	ck_assert_uint_ge(sh.hello.meta_len, sizeof(struct ha_header));
	ck_assert_uint_eq(sh.hello.meta_len % (4 * MIB), 0);
	ck_assert_uint_eq(sh.hello.pid, (uint32_t)sh.pid);
	ck_assert_uint_eq(sh.hello.pad2, 0);
	sh.memfd = fd;
	sh.memfd_ino = st.st_ino;
	sh.ram_bytes = sh.hello.ram_bytes;
	sh.meta_len = sh.hello.meta_len;
	sh.ram = mmap(NULL, sh.ram_bytes, PROT_READ | PROT_WRITE, MAP_SHARED,
		      fd, 0);
	ck_assert(sh.ram != MAP_FAILED);
	r = memfd_env_init(&sh.menv, fd, sh.meta_len);
	ck_assert_int_eq(r, 0);
	host_attach();
	/* The managed range starts right after the metadata area. */
	ck_assert_uint_eq(sh.base_offset, sh.meta_len);
	ck_assert_uint_le(sh.h.layout.total_size, sh.meta_len);
	sh_send_welcome("vm-test");
	ck_assert_int_eq(pthread_create(&sh.server, NULL, server_main, NULL),
			 0);
	sh.server_running = true;
}

/* The daemon goes away: the connection is cut, the server stops. */
void sh_disconnect(void)
{
	shutdown(sh.conn, SHUT_RDWR);
	pthread_join(sh.server, NULL);
	sh.server_running = false;
	close(sh.conn);
	sh.conn = -1;
	sh.eof = false;
}

/* Wait up to @timeout_ms until @pred holds; sh.lock is held while it
 * runs. Tracks the peak of the host-sh_resident memory meanwhile. */
int sh_wait_s(void)
{
	const char *m = getenv("CK_TIMEOUT_MULTIPLIER");
	long k = m ? strtol(m, NULL, 10) : 1;

	return 20 * (int)(k >= 1 && k <= 100 ? k : 1);
}

bool sh_wait_for_ms(sh_pred_fn pred, uint64_t timeout_ms)
{
	uint64_t end = sh_now_ms() + timeout_ms;
	bool ok;

	pthread_mutex_lock(&sh.lock);
	while (!(ok = pred()) && sh_now_ms() < end) {
		struct timespec ts;

		pthread_mutex_unlock(&sh.lock);
		int64_t r = sh_resident();

		pthread_mutex_lock(&sh.lock);
		if (r > sh.peak_resident)
			sh.peak_resident = r;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 20 * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&sh.cond, &sh.lock, &ts);
	}
	pthread_mutex_unlock(&sh.lock);
	return ok;
}

bool sh_wait_for(sh_pred_fn pred)
{
	return sh_wait_for_ms(pred, (uint64_t)WAIT_S * 1000);
}

/* Send @sig, let the guest finish (BYE, close), and return its exit
 * status (-1 if it did not exit normally). */
int sh_stop_guest(int sig)
{
	uint64_t end = sh_now_ms() + (uint64_t)WAIT_S * 1000;
	int status = 0;
	pid_t w;

	ck_assert_int_eq(kill(sh.pid, sig), 0);
	while ((w = waitpid(sh.pid, &status, WNOHANG)) == 0 &&
	       sh_now_ms() < end)
		usleep(20000);
	if (w == 0) {
		kill(sh.pid, SIGKILL);
		waitpid(sh.pid, &status, 0);
		ck_abort_msg("ha-simguest did not exit within %d s of signal "
			     "%d",
			     WAIT_S, sig);
	}
	sh.pid = 0;
	if (sh.server_running) {
		pthread_join(sh.server, NULL);
		sh.server_running = false;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void sh_read_file(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;

	buf[0] = '\0';
	if (!f)
		return;
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
}

/* Show what the guest said, for whoever reads the test log. */
void sh_dump_output(void)
{
	char buf[4096];

	sh_read_file(sh.err, buf, sizeof(buf));
	if (buf[0])
		fprintf(stderr, "--- ha-simguest stderr:\n%s", buf);
	sh_read_file(sh.out, buf, sizeof(buf));
	fprintf(stderr, "--- ha-simguest stdout:\n%s", buf);
}

void sh_cleanup(void)
{
	fprintf(stderr, "test_simguest: guest %s: %.1f s\n", sh.hello.name,
		(double)(sh_now_ms() - sh.started_ms) / 1000);
	if (sh.pid > 0) {
		kill(sh.pid, SIGKILL);
		waitpid(sh.pid, NULL, 0);
	}
	if (sh.server_running)
		sh_disconnect();
	if (sh.ram && sh.ram != MAP_FAILED)
		munmap(sh.ram, sh.ram_bytes);
	if (sh.memfd >= 0) {
		memfd_env_destroy(&sh.menv);
		close(sh.memfd);
	}
	free(sh.hstate);
	if (sh.conn >= 0)
		close(sh.conn);
	close(sh.listen_fd);
	remove_files();
}
