// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Tests of tools/ha-simguest: its pure helpers, its command line, and end
 * to end: the real binary against a host played by the test over a real
 * SOCK_SEQPACKET socket (sim_host_fixture.c: HELLO with the memfd over
 * SCM_RIGHTS, lib/'s host side attached with memfd_env and real
 * fallocate(PUNCH_HOLE) discards, INSTALL and REPORT served, STATUS
 * recorded). The tests take memory
 * away and give it back while the guest's vCPUs keep allocating, writing
 * and checking canaries, and finally stop the guest with SIGTERM: it must
 * exit 0 with zero canary mismatches. The negative control destroys a
 * frame the guest holds and expects the guest to notice (exit status 3).
 *
 * Timing never decides a result: every wait is for a condition, with a
 * generous timeout that only catches hangs, and the guests replay their
 * traces with --trace-clock workload: trace time waits for the workload,
 * so a guest slowed down by a sanitizer or a loaded machine still goes up
 * to the 80 % peak before the trace drops (in real time it would skip the
 * peak, and nothing would be resident for reclaim or reporting to free).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "user/ident.h"
#include "ha-simguest/ram.h"
#include "sim_host_fixture.h"

#define GUEST_UUID "0b2c7f4e-3d1a-4c55-9e0f-6a7b8c9d0e1f"

/* Rises to 80 % in 1 s, holds, drops to 30 % at 2.5 s and stays there
 * with all of the held memory turning over once a second (trace time:
 * the guest plays it as fast as its workload follows, at most in real
 * time). */
static const char rise_and_fall[] = "# test trace\n"
				    "0 0.05 0\n"
				    "1 0.8 0.2\n"
				    "2 0.8 0.2\n"
				    "2.5 0.3 1\n"
				    "3 0.3 1\n";

/* ---- predicates for sh_wait_for() (sh.lock held) ---- */

/* The trace is over and the workload sits at its final 30 % (each vCPU
 * may be up to one 4 MiB block above its share). */
static bool settled_low(void)
{
	uint64_t m = sh_managed_bytes();

	return sh.statuses && sh.status.trace_done &&
	       sh.status.allocated_bytes <=
		       m * 30 / 100 + sh.hello.vcpus * 4 * MIB &&
	       sh.status.allocated_bytes >= m * 28 / 100;
}

static void assert_settled_low(void)
{
	bool ok = sh_wait_for(settled_low);

	pthread_mutex_lock(&sh.lock);
	ck_assert_msg(ok,
		      "workload did not settle at 30 %%: %" PRIu64
		      " bytes of %" PRIu64 " held, target %" PRIu64
		      ", trace at %" PRIu64 " of %" PRIu64
		      " ms, alloc failures %" PRIu64 ", %" PRIu64 " STATUS",
		      sh.status.allocated_bytes, sh_managed_bytes(),
		      sh.status.target_bytes, sh.status.trace_pos_ms,
		      sh.status.trace_len_ms, sh.status.alloc_failures,
		      sh.statuses);
	pthread_mutex_unlock(&sh.lock);
}

static uint64_t installs_seen;

static bool more_installs(void)
{
	return sh.installs > installs_seen && sh.status.installs > 0;
}

static uint64_t statuses_seen;

static bool new_status(void)
{
	return sh.statuses > statuses_seen + 2;
}

/* Reporting gave back memory touched at the peak (frames reported
 * before the workload got there were never resident). */
static bool reported_some(void)
{
	return sh.reports >= 3 && sh.status.reported >= 8 &&
	       sh.report_freed >= 8 * MIB;
}

static bool half_full(void)
{
	return sh.statuses &&
	       sh.status.allocated_bytes >= sh_managed_bytes() * 2 / 5;
}

static bool mismatch_reported(void)
{
	return sh.status.canary_mismatches > 0;
}

/* ---- the pure parts of the guest: geometry, THP setting, names ---- */

static const struct {
	uint64_t ram;
	int r;
	uint64_t base_frame, frames;
} geometry[] = {
	/* metadata in the first 4 MiB, the rest in whole 2 MiB frames */
	{ 8 * MIB, 0, 1024, 2 * 512 },
	{ 64 * MIB, 0, 1024, 30 * 512 },
	{ 128 * MIB, 0, 1024, 62 * 512 },
	{ 128 * MIB + 4096, 0, 1024, 62 * 512 }, /* the tail is unused */
	{ 16384 * MIB, 0, 1024, (16384 - 4) / 2 * 512 },
	/* 1 TiB: 32 MiB of bitfields push the range to 36 MiB */
	{ 1048576 * MIB, 0, 36 * 256, (1048576 - 36) / 2 * 512 },
	{ 8 * MIB - 4096, -EINVAL, 0, 0 }, /* too small */
	{ 64 * MIB + 1, -EINVAL, 0, 0 }, /* not whole frames */
	{ 0, -EINVAL, 0, 0 },
};

START_TEST(test_ram_geometry)
{
	struct ram_geometry g;
	int r = ram_geometry(geometry[_i].ram, &g);

	ck_assert_int_eq(r, geometry[_i].r);
	if (r < 0)
		return;
	ck_assert_uint_eq(g.base_frame, geometry[_i].base_frame);
	ck_assert_uint_eq(g.frames, geometry[_i].frames);
	ck_assert_uint_eq(g.meta_len, g.base_frame * HA_FRAME_SIZE);
	ck_assert_uint_eq(g.base_frame % HA_BASE_ALIGN_FRAMES, 0);
	ck_assert_uint_eq(g.meta_size, ha_meta_size(g.frames));
	ck_assert_uint_le(g.meta_size, g.meta_len);
	/* the first 4 MiB boundary after the metadata */
	ck_assert_uint_gt(g.meta_size + 4 * MIB, g.meta_len);
	ck_assert_uint_le((g.base_frame + g.frames) * HA_FRAME_SIZE,
			  g.ram_bytes);
	ck_assert_uint_lt(g.ram_bytes -
				  (g.base_frame + g.frames) * HA_FRAME_SIZE,
			  HA_HUGE_SIZE);
}
END_TEST

START_TEST(test_shmem_thp_setting)
{
	ck_assert(!ram_shmem_thp_allowed(
		"always within_size advise [never] deny force\n"));
	ck_assert(!ram_shmem_thp_allowed(
		"always within_size advise never [deny] force\n"));
	ck_assert(ram_shmem_thp_allowed(
		"always within_size [advise] never deny force\n"));
	ck_assert(ram_shmem_thp_allowed(
		"[always] within_size advise never deny force\n"));
	ck_assert(ram_shmem_thp_allowed(
		"always [within_size] advise never deny force\n"));
	ck_assert(ram_shmem_thp_allowed(
		"always within_size advise never deny [force]\n"));
	ck_assert(!ram_shmem_thp_allowed(""));
}
END_TEST

START_TEST(test_names_and_uuids)
{
	char u[IDENT_UUID_LEN + 1], v[IDENT_UUID_LEN + 1];

	ck_assert(ident_name_valid("vm-1.test_A"));
	ck_assert(ident_name_valid("a"));
	ck_assert(!ident_name_valid(""));
	ck_assert(!ident_name_valid("a b"));
	ck_assert(!ident_name_valid("a/b"));
	ck_assert(!ident_name_valid("\xc3\xa4"));
	ck_assert(ident_name_valid("a12345678901234567890123456789012345678"
				   "901234567890123456789012"));
	ck_assert(!ident_name_valid("a12345678901234567890123456789012345678"
				    "9012345678901234567890123"));

	ck_assert_int_eq(
		ident_uuid_parse("0B2C7F4E-3D1A-4C55-9E0F-6A7B8C9D0E1F", u), 0);
	ck_assert_str_eq(u, GUEST_UUID);
	ck_assert_int_eq(ident_uuid_parse("0b2c7f4e3d1a4c559e0f6a7b8c9d0e1f",
					  u),
			 -EINVAL);
	ck_assert_int_eq(
		ident_uuid_parse("0b2c7f4e-3d1a-4c55-9e0f-6a7b8c9d0e1g", u),
		-EINVAL);
	ck_assert_int_eq(
		ident_uuid_parse("0b2c7f4e-3d1a-4c55-9e0f-6a7b8c9d0e1f0", u),
		-EINVAL);

	/* Random uuids are version 4, variant 10, canonical, and differ. */
	ck_assert_int_eq(ident_uuid_random(u), 0);
	ck_assert_int_eq(ident_uuid_random(v), 0);
	ck_assert_str_ne(u, v);
	ck_assert_int_eq(ident_uuid_parse(u, v), 0);
	ck_assert_str_eq(u, v);
	ck_assert_int_eq(u[14], '4');
	ck_assert(strchr("89ab", u[19]));
}
END_TEST

/* ---- end to end ---- */

/* The final state every clean run must reach. */
static void assert_clean_exit(int code)
{
	char out[1024];

	sh_dump_output();
	ck_assert_msg(code == 0, "ha-simguest exited with %d", code);
	pthread_mutex_lock(&sh.lock);
	ck_assert_msg(sh.bye, "no BYE before the guest closed");
	ck_assert_msg(sh.errors == 0, "host saw %" PRIu64 " errors, first: %s",
		      sh.errors, sh.first_error);
	ck_assert_uint_eq(sh.status.canary_mismatches, 0);
	ck_assert_uint_gt(sh.status.canary_checks, 0);
	ck_assert_uint_gt(sh.status.ops, 0);
	pthread_mutex_unlock(&sh.lock);
	sh_read_file(sh.out, out, sizeof(out));
	ck_assert_msg(strstr(out, ", mismatches 0,"), "summary: %s", out);
	ck_assert(!ha_host_quarantined(&sh.h));
}

START_TEST(test_reclaim_install_reconnect)
{
	static const char *const args[] = { "--name",	"e2e-reclaim", "--uuid",
					    GUEST_UUID, "--seed",      "42",
					    "--quiet",	NULL };
	struct ha_host_counters c;
	int64_t r0, r1, r2, hard, soft;
	int code;

	sh_spawn(rise_and_fall, args);
	sh_accept();
	ck_assert_str_eq(sh.hello.name, "e2e-reclaim");
	ck_assert_str_eq(sh.hello.uuid, GUEST_UUID);
	ck_assert_str_eq(sh.hello.trace, "test");
	ck_assert_uint_eq(sh.hello.vcpus, 2);
	ck_assert_uint_eq(sh.hello.ram_bytes, 128 * MIB);
	ck_assert_uint_eq(sh.hello.flags & SIM_HELLO_F_FPR, 0);

	/* Up to 80 % and down to 30 %: the freed memory stays sh_resident
	 * until the host takes it. */
	assert_settled_low();
	pthread_mutex_lock(&sh.lock);
	ck_assert_uint_gt(sh.status.trace_len_ms, 2900);
	ck_assert_uint_ge(sh.status.trace_pos_ms, sh.status.trace_len_ms);
	ck_assert_uint_gt(sh.status.target_bytes, 0);
	pthread_mutex_unlock(&sh.lock);

	/* Hard reclaim: the guest gets smaller, the memfd loses backing. */
	r0 = sh_resident();
	hard = ha_host_reclaim_hard(&sh.h, sh.h.layout.children / 4);
	r1 = sh_resident();
	fprintf(stderr,
		"test_simguest: hard-reclaimed %" PRId64
		" frames: sh_resident %" PRId64 " -> %" PRId64
		" MiB (peak %" PRId64 ")\n",
		hard, r0 >> 20, r1 >> 20, sh.peak_resident >> 20);
	ck_assert_int_gt(hard, 0);
	ck_assert_int_lt(r1, r0);

	/* Return it; then soft-reclaim every free frame. */
	ck_assert_int_eq(ha_host_return(&sh.h, (uint64_t)hard), hard);
	soft = ha_host_reclaim_soft(&sh.h, 0);
	r2 = sh_resident();
	fprintf(stderr,
		"test_simguest: soft-reclaimed %" PRId64
		" frames: sh_resident %" PRId64 " MiB\n",
		soft, r2 >> 20);
	ck_assert_int_ge(soft, 0);
	ck_assert_int_lt(r2, sh.peak_resident);

	/* Keep soft-reclaiming: the churning workload needs installs. */
	installs_seen = 0;
	atomic_store(&sh.auto_soft, true);
	ck_assert_msg(sh_wait_for(more_installs), "no INSTALL within %d s",
		      WAIT_S);

	/* The daemon restarts: the connection drops, the guest reconnects
	 * with the same memfd, name and uuid, and the new host rebuilds
	 * its state from the words. */
	sh_disconnect();
	atomic_store(&sh.auto_soft, false);
	sh_unmap();
	{
		ino_t ino = sh.memfd_ino;

		sh_accept();
		ck_assert_uint_eq(sh.memfd_ino, ino);
	}
	ck_assert_str_eq(sh.hello.name, "e2e-reclaim");
	ck_assert_str_eq(sh.hello.uuid, GUEST_UUID);
	pthread_mutex_lock(&sh.lock);
	statuses_seen = sh.statuses;
	installs_seen = sh.installs;
	pthread_mutex_unlock(&sh.lock);
	atomic_store(&sh.auto_soft, true);
	ck_assert_msg(sh_wait_for(new_status), "no STATUS after reconnecting");
	ck_assert_msg(sh_wait_for(more_installs),
		      "no INSTALL after reconnecting within %d s", WAIT_S);
	atomic_store(&sh.auto_soft, false);

	code = sh_stop_guest(SIGTERM);
	assert_clean_exit(code);
	ck_assert_uint_gt(sh.status.installs, 0);
	/* Every refused install is a huge frame the guest let go of. */
	{
		char out[1024], want[64];

		sh_read_file(sh.out, out, sizeof(out));
		snprintf(want, sizeof(want), ", dropped %" PRIu64 ",",
			 sh.installs_refused);
		ck_assert_msg(strstr(out, want), "want \"%s\" in: %s", want,
			      out);
	}
	ha_host_counters(&sh.h, &c);
	ck_assert_uint_gt(c.installed, 0);
	sh_cleanup();
}
END_TEST

/* With the random free pattern (the other guests free whole jobs). */
START_TEST(test_free_page_reporting)
{
	static const char *const args[] = {
		"--name", "e2e-fpr", "--fpr",	       "9,50,32", "--vcpus",
		"3",	  "--quiet", "--free-pattern", "random",  NULL
	};
	struct ha_host_counters c;
	int64_t r_low;
	char out[1024];
	int code;

	sh_spawn(rise_and_fall, args);
	sh_accept();
	ck_assert_uint_eq(sh.hello.flags & SIM_HELLO_F_FPR, SIM_HELLO_F_FPR);
	ck_assert_uint_eq(sh.hello.vcpus, 3);

	assert_settled_low();
	ck_assert_msg(sh_wait_for(reported_some),
		      "reporting did not free 8 MiB of resident memory");
	/* Reporting hands memory the workload freed back to the host: the
	 * frames were sh_resident (touched at the 80 % peak) until discarded,
	 * and the memfd shrinks below its peak without any reclaim. */
	r_low = sh_resident();
	pthread_mutex_lock(&sh.lock);
	fprintf(stderr,
		"test_simguest: fpr: %" PRIu64 " REPORTs, %" PRIu64
		" frames, %" PRIu64
		" MiB sh_resident freed; sh_resident peak %" PRId64
		" -> %" PRId64 " MiB\n",
		sh.reports, sh.reported_frames, sh.report_freed >> 20,
		sh.peak_resident >> 20, r_low >> 20);
	ck_assert_uint_ge(sh.report_freed, 8 * MIB);
	pthread_mutex_unlock(&sh.lock);
	ck_assert_int_lt(r_low, sh.peak_resident);
	ha_host_counters(&sh.h, &c);
	ck_assert_uint_eq(c.reclaimed_hard + c.reclaimed_soft, 0);

	/* Reporting and HyperAlloc soft reclaim side by side. */
	pthread_mutex_lock(&sh.lock);
	installs_seen = sh.installs;
	pthread_mutex_unlock(&sh.lock);
	atomic_store(&sh.auto_soft, true);
	ck_assert_msg(sh_wait_for(more_installs), "no INSTALL within %d s",
		      WAIT_S);
	atomic_store(&sh.auto_soft, false);

	code = sh_stop_guest(SIGINT);
	assert_clean_exit(code);
	ck_assert_uint_gt(sh.status.reported, 0);
	sh_read_file(sh.out, out, sizeof(out));
	ck_assert_msg(strstr(out, "reported ") && !strstr(out, "reported 0 "),
		      "summary: %s", out);
	sh_cleanup();
}
END_TEST

/* Negative control: the host destroys memory the guest holds. The test
 * is only worth something if the guest notices. */
START_TEST(test_canary_detects_data_loss)
{
	static const char *const args[] = { "--name", "e2e-evil", "--quiet",
					    NULL };
	uint64_t victim = UINT64_MAX;
	unsigned best = HA_CHILD_FRAMES;
	char out[1024];
	int code;

	sh_spawn("0 0.5 0.2\n1 0.5 0.2\n", args);
	sh_accept();
	ck_assert_msg(sh_wait_for(half_full), "workload did not fill up");

	/* The fullest child in use that the host has not reclaimed: its
	 * frames hold canaries. */
	for (uint64_t i = 0; i < sh.h.layout.children; i++) {
		ha_child_word w = sh_child_word(i);

		if (ha_child_free(w) < best && !ha_child_reclaimed(w)) {
			best = ha_child_free(w);
			victim = i;
		}
	}
	ck_assert_uint_ne(victim, UINT64_MAX);
	fprintf(stderr,
		"test_simguest: punching held huge frame %" PRIu64
		" (%u of 512 frames free)\n",
		victim, best);
	sh.menv.env.lock(sh.menv.env.ctx);
	ck_assert_int_eq(
		sh.menv.env.discard(sh.menv.env.ctx, ha_huge(victim), 1), 0);
	sh.menv.env.unlock(sh.menv.env.ctx);

	/* Found by the periodic sample or on free, or at the latest by
	 * the check of everything held at exit: give the running checks a
	 * moment, then stop. */
	sh_wait_for_ms(mismatch_reported, 1000);
	code = sh_stop_guest(SIGTERM);
	sh_dump_output();
	ck_assert_msg(code == 3, "ha-simguest exited with %d, want 3", code);
	ck_assert_uint_gt(sh.status.canary_mismatches, 0);
	sh_read_file(sh.out, out, sizeof(out));
	ck_assert_msg(strstr(out, "mismatches ") &&
			      !strstr(out, ", mismatches 0,"),
		      "summary: %s", out);
	sh_read_file(sh.err, out, sizeof(out));
	ck_assert_msg(strstr(out, "canary mismatch"), "stderr: %s", out);
	sh_cleanup();
}
END_TEST

/* --workload-memory 48M: the trace's 80 % and 30 % are of 48 MiB, not
 * of the 124 MiB the allocator manages, as a program that sizes itself
 * (ha-replay -m in a real guest) leaves the rest of RAM alone. */
#define WORKLOAD_MIB 48

static bool settled_low_of_workload(void)
{
	uint64_t w = WORKLOAD_MIB * MIB;

	return sh.statuses && sh.status.trace_done &&
	       sh.status.allocated_bytes <=
		       w * 30 / 100 + sh.hello.vcpus * 4 * MIB &&
	       sh.status.allocated_bytes >= w * 28 / 100;
}

START_TEST(test_workload_memory)
{
	static const char *const args[] = {
		"--name",	 "e2e-workload", "--workload-memory", "48M",
		"--alloc-sizes", "replay",	 "--quiet",	      NULL
	};
	uint64_t w = WORKLOAD_MIB * MIB;
	bool ok;

	sh_spawn(rise_and_fall, args);
	sh_accept();
	ok = sh_wait_for(settled_low_of_workload);
	pthread_mutex_lock(&sh.lock);
	ck_assert_msg(ok,
		      "did not settle at 30 %% of %d MiB: %" PRIu64
		      " bytes held, target %" PRIu64,
		      WORKLOAD_MIB, sh.status.allocated_bytes,
		      sh.status.target_bytes);
	/* The peak was 80 % of the workload's memory (STATUS every 100 ms
	 * of a paced clock sees it), never 80 % of RAM. */
	ck_assert_uint_le(sh.peak_allocated,
			  w * 80 / 100 + sh.hello.vcpus * 4 * MIB);
	ck_assert_uint_ge(sh.peak_allocated, w * 70 / 100);
	pthread_mutex_unlock(&sh.lock);
	assert_clean_exit(sh_stop_guest(SIGTERM));
	sh_cleanup();
}
END_TEST

/* ERROR in answer to HELLO: the message is printed, exit status 1. */
START_TEST(test_refused)
{
	static const char *const args[] = { "--name", "e2e-refused", NULL };
	struct sim_error e;
	char err[2048];
	int fd;

	sh_spawn(rise_and_fall, args);
	fd = sh_accept_hello(&sh.hello);
	close(fd);
	memset(&e, 0, sizeof(e));
	sh_hdr_init(&e.hdr, SIM_ERROR);
	e.code = -EEXIST;
	snprintf(e.message, sizeof(e.message),
		 "a VM named e2e-refused "
		 "exists already");
	sh_reply(&e, sizeof(e));
	close(sh.conn);
	sh.conn = -1;
	ck_assert_int_eq(sh_wait_guest(), 1);
	sh_read_file(sh.err, err, sizeof(err));
	ck_assert_msg(strstr(err, "a VM named e2e-refused exists already"),
		      "stderr: %s", err);
	sh_cleanup();
}
END_TEST

/* --no-reconnect: a lost connection ends the guest with status 1. */
START_TEST(test_no_reconnect)
{
	static const char *const args[] = { "--name", "e2e-once",
					    "--no-reconnect", "--quiet", NULL };
	int code;

	sh_spawn("0 0.2 0.1\n", args);
	sh_accept();
	statuses_seen = 0;
	ck_assert_msg(sh_wait_for(new_status), "no STATUS");
	sh_disconnect();
	code = sh_wait_guest();
	sh_dump_output();
	ck_assert_int_eq(code, 1);
	sh_cleanup();
}
END_TEST

/* Options are checked before anything starts. */
static const struct {
	const char *args[6];
	int status;
	const char *message; /* on stderr (or stdout for --help) */
} cli[] = {
	{ { "--help" }, 0, "--fpr ORDER,DELAY_MS,CAPACITY" },
	{ { "--help" }, 0, "--free-pattern jobs|random" },
	{ { "--free-pattern", "lifo" }, 1, "\"lifo\" is not jobs or random" },
	{ { "--help" }, 0, "--trace-clock real|workload" },
	{ { "--trace-clock", "wall" }, 1, "\"wall\" is not real or workload" },
	{ { "--fpr", "0,2000,32" }, 1, "only order 9" },
	{ { "--fpr", "9,2000" }, 1, "is not ORDER,DELAY_MS,CAPACITY" },
	{ { "--fpr", "9,2000,513" }, 1, "capacity 513 is outside 1..512" },
	{ { "--name", "no spaces" }, 1, "--name" },
	{ { "--name", "a123456789a123456789a123456789a123456789a123456789"
		      "a123456789abcd" },
	  1,
	  "1..63 characters" },
	{ { "--uuid", "not-a-uuid" }, 1, "--uuid" },
	{ { "--memory", "16M" }, 1, "a multiple of 2M between 32M and 4T" },
	{ { "--memory", "33M" }, 1, "a multiple of 2M" },
	{ { "--memory", "5T" }, 1, "--memory" },
	{ { "--vcpus", "0" }, 1, "--vcpus" },
	{ { "--help" }, 0, "--workload-memory SIZE" },
	{ { "--help" }, 0, "--alloc-sizes kernel|replay" },
	{ { "--alloc-sizes", "huge" }, 1, "\"huge\" is not kernel or replay" },
	{ { "--workload-memory", "1M" }, 1, "a size of at least 2M" },
	{ { "--memory", "64M", "--workload-memory", "128M" },
	  1,
	  "is more than --memory" },
	{ { "--time-scale", "0" }, 1, "--time-scale" },
	{ { "--trace", "no-such-trace" },
	  1,
	  "trace \"no-such-trace\" not "
	  "found" },
	{ { "--socket", "/nonexistent/sim.sock", "--connect-timeout", "0" },
	  1,
	  "connect /nonexistent/sim.sock" },
};

static char cli_out[64], cli_err[64];

static void cli_remove_files(void)
{
	unlink(cli_out);
	unlink(cli_err);
}

START_TEST(test_command_line)
{
	const char *out = cli_out, *err = cli_err;
	const char *argv[10];
	char text[8192];
	int n = 0, status, fdo, fde;
	pid_t pid;

	snprintf(cli_out, sizeof(cli_out), "/tmp/test_simguest.out.%d",
		 (int)getpid());
	snprintf(cli_err, sizeof(cli_err), "/tmp/test_simguest.err.%d",
		 (int)getpid());
	atexit(cli_remove_files);
	argv[n++] = SIMGUEST_BIN;
	for (int i = 0; cli[_i].args[i]; i++)
		argv[n++] = cli[_i].args[i];
	argv[n] = NULL;
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		fdo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		fde = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fdo < 0 || fde < 0 || dup2(fdo, 1) < 0 || dup2(fde, 2) < 0)
			_exit(126);
		execv(SIMGUEST_BIN, (char *const *)argv);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), cli[_i].status);
	sh_read_file(cli[_i].status ? err : out, text, sizeof(text));
	ck_assert_msg(strstr(text, cli[_i].message), "case %d: %s", _i, text);
	cli_remove_files();
}
END_TEST

static Suite *simguest_suite(void)
{
	Suite *s = suite_create("simguest");
	TCase *tc;

	tc = tcase_create("units");
	tcase_add_loop_test(tc, test_ram_geometry, 0,
			    (int)(sizeof(geometry) / sizeof(geometry[0])));
	tcase_add_test(tc, test_shmem_thp_setting);
	tcase_add_test(tc, test_names_and_uuids);
	suite_add_tcase(s, tc);

	tc = tcase_create("cli");
	tcase_add_loop_test(tc, test_command_line, 0,
			    (int)(sizeof(cli) / sizeof(cli[0])));
	tcase_add_test(tc, test_refused);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);

	tc = tcase_create("e2e");
	tcase_add_test(tc, test_reclaim_install_reconnect);
	tcase_add_test(tc, test_free_page_reporting);
	tcase_add_test(tc, test_canary_detects_data_loss);
	tcase_add_test(tc, test_no_reconnect);
	tcase_add_test(tc, test_workload_memory);
	tcase_set_timeout(tc, 90);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(simguest_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
