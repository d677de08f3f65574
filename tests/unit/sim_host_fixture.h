/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Test fixture for test_simguest: a host played by the test, doing what
 * hyperallocd's sim backend does, for the real ha-simguest binary.
 *
 * sh_spawn() creates a SOCK_SEQPACKET socket in a fresh directory and
 * starts ha-simguest on it (stdout and stderr into files there).
 * sh_accept() takes its connection: HELLO with the memfd over
 * SCM_RIGHTS, mmap, ha_host_attach() with memfd_env (discard = a real
 * fallocate(PUNCH_HOLE)), WELCOME; then a server thread answers INSTALL
 * (ha_host_install), REPORT (checks each frame is held by the guest and
 * punches it) and records STATUS and BYE. With sh.auto_soft set it also
 * soft-reclaims every free frame every 20 ms. sh_disconnect() plays a
 * daemon that goes away; sh_accept() again plays its restart (the host
 * state is rebuilt from the guest's words).
 *
 * The fixture's state is one global, sh; the fields after `lock` are
 * written by the server thread and read under sh.lock.
 *
 * Failures: Check ends a failed test with _exit(1) in fork mode, so no
 * atexit handler and no teardown would run, and a joinable thread left
 * behind shows up in ThreadSanitizer's thread-leak report. Every Check
 * assertion in a file that includes this header therefore goes through
 * sh_assert_failed() first: it says where the guest is (running, or its
 * exit status), what the host saw (the last STATUS messages, errors),
 * dumps the guest's stderr and stdout, kills the guest, joins the server
 * thread and removes the files, then fails the test as Check does.
 */
#ifndef HA_TEST_SIM_HOST_FIXTURE_H
#define HA_TEST_SIM_HOST_FIXTURE_H

#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ha_host.h"
#include "sim_proto.h"
#include "user/memfd_env.h"

#ifndef SIMGUEST_BIN
#define SIMGUEST_BIN "build/tools/ha-simguest"
#endif

#define MIB	  (1024ull * 1024)
#define GUEST_RAM "128M" /* every guest the fixture starts */
/* Longest wait for anything: only catches hangs. Scaled like Check's own
 * timeouts (CK_TIMEOUT_MULTIPLIER, which the sanitizer runs set): a
 * guest under a sanitizer on a loaded machine is that much slower. */
#define WAIT_S sh_wait_s()
int sh_wait_s(void);

#define SH_HISTORY 16 /* STATUS messages kept for a failure report */

struct sh_seen {
	uint64_t ms; /* since sh_spawn() */
	struct sim_status status;
};

struct sim_host {
	char dir[64], sock[128], trace[128], out[128], err[128];
	int listen_fd, conn;
	pid_t pid;
	ino_t memfd_ino;
	bool exited; /* reaped: wstatus is its status */
	int wstatus;

	/* the guest's RAM, as the host sees it */
	int memfd;
	uint8_t *ram;
	uint64_t ram_bytes, meta_len, base_offset;
	struct sim_hello hello;
	struct memfd_env menv;
	uint8_t *hstate;
	struct ha_host h;

	pthread_t server;
	bool server_running;
	atomic_bool auto_soft; /* soft-reclaim everything free, always */
	atomic_bool stop_server; /* sh_disconnect(): the server returns */

	pthread_mutex_t lock; /* everything below; error-checking */
	pthread_cond_t cond;
	struct sim_status status; /* the last one */
	uint64_t statuses;
	struct sh_seen history[SH_HISTORY]; /* [statuses % SH_HISTORY] */
	uint64_t installs, installs_refused, reports, reported_frames;
	uint64_t report_freed; /* resident bytes REPORT discards freed */
	uint64_t soft_auto;
	uint64_t replies_lost; /* the guest had closed the connection */
	bool bye, eof;
	uint64_t errors; /* protocol violations the host saw */
	char first_error[256];
	int64_t peak_resident;
	uint64_t peak_allocated; /* the most any STATUS said was held */
	uint64_t started_ms;
};

extern struct sim_host sh;

/* A condition on sh, evaluated with sh.lock held. */
typedef bool (*sh_pred_fn)(void);

/* Start ha-simguest on a fresh socket with --socket, --trace (a file
 * holding @trace_text), --memory GUEST_RAM, --status-interval 100,
 * --connect-timeout 5, --trace-clock workload (trace time waits for the
 * workload: a slow guest plays every level of the trace, later) and then
 * @extra (NULL-terminated). */
void sh_spawn(const char *trace_text, const char *const *extra);

/* Accept a connection and receive HELLO; returns the memfd it carried. */
int sh_accept_hello(struct sim_hello *hello);

/* Accept the guest, map and attach its RAM, WELCOME, start serving. */
void sh_accept(void);

/* The daemon goes away: cut the connection, stop serving. */
void sh_disconnect(void);

/* ...and forgets the guest's RAM: unmap it, close the memfd. */
void sh_unmap(void);

void sh_send_welcome(const char *id);
void sh_reply(const void *msg, size_t len);
void sh_hdr_init(struct sim_hdr *h, uint16_t type);

/* Wait until @pred holds, tracking peak_resident. False when the guest
 * closed the connection without @pred holding, or on timeout. */
bool sh_wait_for_ms(sh_pred_fn pred, uint64_t timeout_ms);
bool sh_wait_for(sh_pred_fn pred);

/* Signal the guest, wait for its exit (and for the server to see the
 * connection close); returns the exit status, -1 if killed. */
int sh_stop_guest(int sig);

/* Wait for the guest to exit on its own (as sh_stop_guest(), without a
 * signal). */
int sh_wait_guest(void);

/* Reap the guest if it has exited (sh.exited, sh.wstatus); true if so. */
bool sh_guest_exited(void);

/* Copy the guest's stderr and stdout into the test log. */
void sh_dump_output(void);

/* Read up to @len - 1 bytes of @path into @buf (empty if missing). */
void sh_read_file(const char *path, char *buf, size_t len);

/* Kill the guest if it still runs, unmap, close, remove the files. */
void sh_cleanup(void);

/* What Check's assertions call here (see the top): report, clean up,
 * then fail in _ck_assert_failed(). */
void sh_assert_failed(const char *file, int line, const char *expr,
		      const char *msg, ...)
	__attribute__((noreturn, format(printf, 4, 5)));
#define _ck_assert_failed(...) sh_assert_failed(__VA_ARGS__)

uint64_t sh_now_ms(void);
uint64_t sh_managed_bytes(void);
ha_child_word sh_child_word(uint64_t i);
/* Bytes of the guest's memfd resident on the host (st_blocks). */
int64_t sh_resident(void);

#endif
