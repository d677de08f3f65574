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

#define ARGS_MAX      40
#define DUMP_MAX      (64 * 1024) /* of each output file, in a report */
#define POLL_SLICE_MS 100 /* waits for the guest look at it this often */

struct sim_host sh;

/* Also registered with atexit() for a run without fork mode; a failed
 * assertion in fork mode ends the process with _exit() and
 * sh_assert_failed() removes the files itself. */
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
	ssize_t n = send(sh.conn, msg, len, MSG_NOSIGNAL);

	if (n == (ssize_t)len)
		return;
	/* A guest that stops waits a grace period for replies, then
	 * closes: not a protocol violation, but worth a line in a report. */
	if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) {
		pthread_mutex_lock(&sh.lock);
		sh.replies_lost++;
		pthread_mutex_unlock(&sh.lock);
		return;
	}
	if (n < 0)
		host_error("send: %s", strerror(errno));
	else
		host_error("send: %zd of %zu bytes", n, len);
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
		sh.history[sh.statuses % SH_HISTORY] = (struct sh_seen){
			.ms = sh_now_ms() - sh.started_ms,
			.status = sh.status,
		};
		sh.statuses++;
		if (sh.status.allocated_bytes > sh.peak_allocated)
			sh.peak_allocated = sh.status.allocated_bytes;
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
	/* Stopped between two messages (sh_disconnect()): a reply is never
	 * sent into a connection the host is cutting. */
	while (!atomic_load(&sh.stop_server)) {
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

		if (len <= 0) {
			/* The guest closed the connection. */
			pthread_mutex_lock(&sh.lock);
			sh.eof = true;
			pthread_cond_broadcast(&sh.cond);
			pthread_mutex_unlock(&sh.lock);
			break;
		}
		serve(buf, (size_t)len);
	}
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
	pthread_mutexattr_t ma;
	int n = 0;

	memset(&sh, 0, sizeof(sh));
	sh.conn = sh.listen_fd = sh.memfd = -1;
	/* Error-checking: sh_assert_failed() learns whether the failed
	 * assertion ran with the lock held (EDEADLK). */
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_init(&sh.lock, &ma);
	pthread_mutexattr_destroy(&ma);
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
	argv[n++] = "--trace-clock";
	argv[n++] = "workload";
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
	uint64_t end = sh_now_ms() + (uint64_t)WAIT_S * 1000;
	struct cmsghdr *c;
	ssize_t n;
	int fd;

	while ((n = poll(&p, 1, POLL_SLICE_MS)) == 0 && sh_now_ms() < end &&
	       !sh_guest_exited())
		;
	ck_assert_msg(n == 1, "the guest did not connect (%s)",
		      sh.exited ? "it exited" : "timeout");
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

void sh_unmap(void)
{
	if (sh.ram && sh.ram != MAP_FAILED)
		munmap(sh.ram, sh.ram_bytes);
	sh.ram = NULL;
	if (sh.memfd >= 0) {
		memfd_env_destroy(&sh.menv);
		close(sh.memfd);
	}
	sh.memfd = -1;
}

/* The daemon goes away: the connection is cut, the server stops. */
void sh_disconnect(void)
{
	atomic_store(&sh.stop_server, true);
	pthread_join(sh.server, NULL);
	atomic_store(&sh.stop_server, false);
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
	/* After the guest closed the connection nothing changes any more. */
	while (!(ok = pred()) && !sh.eof && sh_now_ms() < end) {
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

bool sh_guest_exited(void)
{
	if (!sh.exited && sh.pid > 0 &&
	    waitpid(sh.pid, &sh.wstatus, WNOHANG) == sh.pid)
		sh.exited = true;
	return sh.exited;
}

/* Wait for the guest's exit and the end of the server thread; the exit
 * status, -1 if it did not exit normally. */
int sh_wait_guest(void)
{
	uint64_t end = sh_now_ms() + (uint64_t)WAIT_S * 1000;

	while (!sh_guest_exited() && sh_now_ms() < end)
		usleep(20000);
	ck_assert_msg(sh.exited, "ha-simguest did not exit within %d s",
		      WAIT_S);
	if (sh.server_running) {
		pthread_join(sh.server, NULL);
		sh.server_running = false;
	}
	return WIFEXITED(sh.wstatus) ? WEXITSTATUS(sh.wstatus) : -1;
}

/* Send @sig, let the guest finish (BYE, close), and return its exit
 * status (-1 if it did not exit normally). */
int sh_stop_guest(int sig)
{
	ck_assert_msg(!sh_guest_exited(), "ha-simguest exited before signal %d",
		      sig);
	ck_assert_int_eq(kill(sh.pid, sig), 0);
	return sh_wait_guest();
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

/* Copy the first DUMP_MAX bytes of @path to stderr under @title. */
static void dump_file(const char *title, const char *path, bool always)
{
	FILE *f = fopen(path, "r");
	char buf[4096];
	size_t n, total = 0;

	if (!f) {
		if (always)
			fprintf(stderr, "--- %s: none\n", title);
		return;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		if (!total)
			fprintf(stderr, "--- %s:\n", title);
		if (total < DUMP_MAX)
			fwrite(buf, 1,
			       n < DUMP_MAX - total ? n : DUMP_MAX - total,
			       stderr);
		total += n;
	}
	fclose(f);
	if (total > DUMP_MAX)
		fprintf(stderr, "\n--- (%zu more bytes)\n", total - DUMP_MAX);
	else if (!total && always)
		fprintf(stderr, "--- %s: empty\n", title);
}

/* Show what the guest said, for whoever reads the test log. */
void sh_dump_output(void)
{
	dump_file("ha-simguest stderr", sh.err, false);
	dump_file("ha-simguest stdout", sh.out, true);
}

/* Kill the guest if it still runs and stop the server thread. */
static void stop_all(void)
{
	if (sh.pid > 0 && !sh_guest_exited()) {
		kill(sh.pid, SIGKILL);
		if (waitpid(sh.pid, &sh.wstatus, 0) == sh.pid)
			sh.exited = true;
	}
	if (sh.server_running)
		sh_disconnect();
}

/* Unmap, close, remove the files (the guest and the server stopped). */
static void release(void)
{
	sh_unmap();
	free(sh.hstate);
	sh.hstate = NULL;
	if (sh.conn >= 0)
		close(sh.conn);
	sh.conn = -1;
	if (sh.listen_fd >= 0)
		close(sh.listen_fd);
	sh.listen_fd = -1;
	remove_files();
}

void sh_cleanup(void)
{
	fprintf(stderr, "test_simguest: guest %s: %.1f s\n", sh.hello.name,
		(double)(sh_now_ms() - sh.started_ms) / 1000);
	stop_all();
	release();
}

/* ---- failures ---- */

static void describe_guest(void)
{
	const char *name = sh.hello.name[0] ? sh.hello.name : "(no HELLO)";

	if (!sh.pid)
		fprintf(stderr, "test_simguest: no guest process\n");
	else if (!sh.exited)
		fprintf(stderr,
			"test_simguest: guest %s (pid %d) still running: "
			"killed now\n",
			name, (int)sh.pid);
	else if (WIFEXITED(sh.wstatus))
		fprintf(stderr,
			"test_simguest: guest %s (pid %d) exited with status "
			"%d\n",
			name, (int)sh.pid, WEXITSTATUS(sh.wstatus));
	else
		fprintf(stderr,
			"test_simguest: guest %s (pid %d) killed by signal "
			"%d\n",
			name, (int)sh.pid,
			WIFSIGNALED(sh.wstatus) ? WTERMSIG(sh.wstatus) : -1);
}

/* What the host saw; sh.lock held. */
static void describe_host(void)
{
	uint64_t managed = sh.h.layout.frames * HA_FRAME_SIZE;
	uint64_t first = sh.statuses > SH_HISTORY ? sh.statuses - SH_HISTORY :
						    0;

	fprintf(stderr,
		"test_simguest: host: %" PRIu64 " STATUS, connection %s, "
		"BYE %s, %" PRIu64 " INSTALLs (%" PRIu64 " refused), %" PRIu64
		" REPORTs (%" PRIu64 " frames, %" PRIu64 " MiB freed), %" PRIu64
		" soft-reclaimed by the server, %" PRIu64
		" replies to a closed connection, %" PRIu64 " errors%s%s\n",
		sh.statuses, sh.eof ? "closed by the guest" : "open",
		sh.bye ? "seen" : "not seen", sh.installs, sh.installs_refused,
		sh.reports, sh.reported_frames, sh.report_freed >> 20,
		sh.soft_auto, sh.replies_lost, sh.errors,
		sh.errors ? ", first: " : "", sh.errors ? sh.first_error : "");
	for (uint64_t i = first; i < sh.statuses; i++) {
		const struct sh_seen *e = &sh.history[i % SH_HISTORY];
		const struct sim_status *st = &e->status;

		fprintf(stderr,
			"test_simguest:   STATUS %" PRIu64 " at %" PRIu64
			" ms: trace %" PRIu64 "/%" PRIu64 " ms%s, held %.2f "
			"MiB (%.1f %%), target %.2f MiB, ops %" PRIu64
			", alloc failures %" PRIu64 ", installs %" PRIu64
			", reported %" PRIu64 ", canary checks %" PRIu64
			", mismatches %" PRIu64 "\n",
			i + 1, e->ms, st->trace_pos_ms, st->trace_len_ms,
			st->trace_done ? " (done)" : "",
			(double)st->allocated_bytes / MIB,
			managed ? 100.0 * (double)st->allocated_bytes /
					  (double)managed :
				  0.0,
			(double)st->target_bytes / MIB, st->ops,
			st->alloc_failures, st->installs, st->reported,
			st->canary_checks, st->canary_mismatches);
	}
}

void sh_assert_failed(const char *file, int line, const char *expr,
		      const char *msg, ...)
{
	static bool failing;
	char text[1024];
	va_list ap;
	int r;

	if (msg) {
		va_start(ap, msg);
		vsnprintf(text, sizeof(text), msg, ap);
		va_end(ap);
	} else {
		snprintf(text, sizeof(text), "%s", expr);
	}
	/* An assertion in the cleanup below fails plainly. */
	if (!failing && (sh.dir[0] || sh.pid > 0)) {
		uint64_t end = sh_now_ms() + (uint64_t)WAIT_S * 1000;
		bool eof;

		failing = true;
		fprintf(stderr, "test_simguest: FAILED at %s:%d: %s\n", file,
			line, text);
		/* The assertion may have run under sh.lock. */
		r = pthread_mutex_lock(&sh.lock);
		eof = sh.eof;
		describe_host();
		if (r == 0 || r == EDEADLK)
			pthread_mutex_unlock(&sh.lock);
		/* A guest that closed the connection is on its way out: its
		 * exit status says why. One still connected is killed. */
		while (eof && !sh_guest_exited() && sh_now_ms() < end)
			usleep(20000);
		describe_guest();
		stop_all();
		sh_dump_output();
		release();
	}
	(_ck_assert_failed)(file, line, expr, "%s", text);
}
