// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Sim backend, process side: start the simulated guests listed in the
 * config, restart them when they crash (with backoff), stop them with the
 * daemon. A spawned guest connects back like any other guest.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "sim/internal.h"

#define RESTART_DELAY_USEC (2 * 1000000ull)

static int spawn(struct sim_backend *sb, struct sim_child *ch);

static int on_child(sd_event_source *s, const siginfo_t *si, void *userdata);

static void schedule_restart(struct sim_backend *sb, struct sim_child *ch);

static int on_child(sd_event_source *s, const siginfo_t *si, void *userdata)
{
	struct sim_backend *sb = userdata;
	struct sim_child *ch;

	(void)s;
	for (ch = sb->children; ch; ch = ch->next)
		if (ch->pid == si->si_pid)
			break;
	if (!ch)
		return 0;
	ch->pid = 0;
	ch->child_src = sd_event_source_disable_unref(ch->child_src);

	if (si->si_code == CLD_EXITED && si->si_status == 0) {
		log_info("%s: sim guest exited", ch->cfg.name);
		memset(ch->failed_usec, 0, sizeof(ch->failed_usec));
		return 0;
	}
	if (si->si_code == CLD_EXITED)
		daemon_error(sb->d, NULL,
			     "%s: sim guest exited with status %d%s",
			     ch->cfg.name, si->si_status,
			     si->si_status == 3 ?
				     " (canary mismatch: data loss)" :
				     "");
	else if (!ch->stopping)
		daemon_error(sb->d, NULL, "%s: sim guest killed by signal %d",
			     ch->cfg.name, si->si_status);
	if (ch->stopping || sb->d->shutting_down || !ch->keep)
		return 0;
	schedule_restart(sb, ch);
	return 0;
}

static int on_restart_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct sim_child *ch = userdata;

	(void)s;
	(void)usec;
	ch->restart_timer = sd_event_source_disable_unref(ch->restart_timer);
	if (!ch->sb->d->shutting_down && ch->keep && !ch->pid)
		spawn(ch->sb, ch);
	return 0;
}

/*
 * Record a failure of @ch and count those within the window (this one
 * included): the budget is SIM_RESTART_MAX failures per
 * sim.restart_window_ms, so a guest that runs well between rare crashes
 * is restarted for ever, one that keeps failing is given up.
 */
static unsigned failures_in_window(struct sim_backend *sb, struct sim_child *ch)
{
	uint64_t now = 0, window = sb->d->cfg->sim.restart_window_ms * 1000;
	unsigned n = 0;

	sd_event_now(sb->d->loop, CLOCK_MONOTONIC, &now);
	if (!now)
		now = 1;
	ch->failed_usec[ch->failed_next] = now;
	ch->failed_next = (ch->failed_next + 1) % (SIM_RESTART_MAX + 1);
	for (unsigned i = 0; i <= SIM_RESTART_MAX; i++) {
		uint64_t t = ch->failed_usec[i];

		if (t && now - t < window)
			n++;
	}
	return n;
}

static void schedule_restart(struct sim_backend *sb, struct sim_child *ch)
{
	unsigned n = failures_in_window(sb, ch);

	if (n > SIM_RESTART_MAX) {
		daemon_error(
			sb->d, NULL,
			"%s: sim guest failed %u times within %llu ms "
			"(sim.restart_window_ms); not restarting it",
			ch->cfg.name, n,
			(unsigned long long)sb->d->cfg->sim.restart_window_ms);
		return;
	}
	if (sd_event_add_time_relative(sb->d->loop, &ch->restart_timer,
				       CLOCK_MONOTONIC, RESTART_DELAY_USEC,
				       100000, on_restart_timer, ch) < 0)
		return;
	log_info("%s: restarting the sim guest in 2 s (failure %u of %d "
		 "allowed within %llu ms)",
		 ch->cfg.name, n, SIM_RESTART_MAX,
		 (unsigned long long)sb->d->cfg->sim.restart_window_ms);
}

static int spawn(struct sim_backend *sb, struct sim_child *ch)
{
	const struct config *c = sb->d->cfg;
	char mem[32], vcpus[16], scale[32];
	const char *argv[24];
	int argc = 0;
	sigset_t all;
	pid_t parent, pid;
	int r;

	snprintf(mem, sizeof(mem), "%llu",
		 (unsigned long long)ch->cfg.memory_bytes);
	snprintf(vcpus, sizeof(vcpus), "%u", ch->cfg.vcpus);
	snprintf(scale, sizeof(scale), "%g", ch->cfg.time_scale);
	argv[argc++] = c->sim.simguest;
	argv[argc++] = "--name";
	argv[argc++] = ch->cfg.name;
	argv[argc++] = "--memory";
	argv[argc++] = mem;
	argv[argc++] = "--vcpus";
	argv[argc++] = vcpus;
	argv[argc++] = "--trace";
	argv[argc++] = ch->cfg.trace;
	argv[argc++] = "--time-scale";
	argv[argc++] = scale;
	argv[argc++] = "--socket";
	argv[argc++] = sb->socket_path;
	argv[argc++] = "--trace-dir";
	argv[argc++] = c->sim.trace_dir;
	argv[argc++] = "--quiet";
	if (ch->cfg.loop)
		argv[argc++] = "--loop";
	if (ch->cfg.fpr) {
		argv[argc++] = "--fpr";
		argv[argc++] = "9,2000,32";
	}
	if (ch->cfg.thp)
		argv[argc++] = "--thp";
	argv[argc] = NULL;

	parent = getpid();
	pid = fork();
	if (pid < 0) {
		r = -errno;
		daemon_error(sb->d, NULL, "%s: cannot fork: %s", ch->cfg.name,
			     strerror(-r));
		return r;
	}
	if (pid == 0) {
		/* The daemon blocks the signals it handles; the guest must
		 * not inherit that. It dies with the daemon. */
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		/* The daemon died before the line above: the orphan's new
		 * parent is pid 1 or, under a subreaper, any other. */
		if (getppid() != parent)
			_exit(1);
		execv(argv[0], (char *const *)argv);
		fprintf(stderr, "hyperallocd: cannot run %s: %s\n", argv[0],
			strerror(errno));
		_exit(127);
	}
	ch->pid = pid;
	ch->stopping = false;
	r = sd_event_add_child(sb->d->loop, &ch->child_src, pid, WEXITED,
			       on_child, sb);
	if (r < 0) {
		log_err("%s: cannot watch pid %d: %s", ch->cfg.name, pid,
			strerror(-r));
		return r;
	}
	log_info("%s: started sim guest, pid %d (%llu MiB, trace %s)",
		 ch->cfg.name, pid,
		 (unsigned long long)(ch->cfg.memory_bytes >> 20),
		 ch->cfg.trace);
	return 0;
}

static struct sim_child *child_new(struct sim_backend *sb,
				   const struct config_sim_guest *g)
{
	struct sim_child *ch = calloc(1, sizeof(*ch));

	if (ch) {
		ch->sb = sb;
		ch->cfg = *g;
		ch->keep = true;
	}
	return ch;
}

int sim_spawn_all(struct sim_backend *sb)
{
	const struct config *c = sb->d->cfg;

	for (size_t i = 0; i < c->sim.n_guests; i++) {
		struct sim_child *ch = child_new(sb, &c->sim.guests[i]);

		if (!ch)
			return -ENOMEM;
		ch->next = sb->children;
		sb->children = ch;
		spawn(sb, ch);
	}
	return 0;
}

static void child_stop(struct sim_child *ch)
{
	ch->stopping = true;
	ch->keep = false;
	ch->restart_timer = sd_event_source_disable_unref(ch->restart_timer);
	if (ch->pid > 0)
		kill(ch->pid, SIGTERM);
}

void sim_spawn_stop_all(struct sim_backend *sb)
{
	struct sim_child *ch, *next;

	for (ch = sb->children; ch; ch = ch->next)
		child_stop(ch);
	/* Reap them, briefly: a guest verifies its canaries on SIGTERM. */
	for (int i = 0; i < 50; i++) {
		bool left = false;

		for (ch = sb->children; ch; ch = ch->next) {
			if (ch->pid > 0 && waitpid(ch->pid, NULL, WNOHANG) == 0)
				left = true;
			else
				ch->pid = 0;
		}
		if (!left)
			break;
		usleep(100000);
	}
	for (ch = sb->children; ch; ch = next) {
		next = ch->next;
		if (ch->pid > 0)
			kill(ch->pid, SIGKILL);
		sd_event_source_disable_unref(ch->child_src);
		sd_event_source_disable_unref(ch->restart_timer);
		free(ch);
	}
	sb->children = NULL;
}

void sim_spawn_reconfigure(struct sim_backend *sb)
{
	const struct config *c = sb->d->cfg;
	struct sim_child *ch;

	for (ch = sb->children; ch; ch = ch->next)
		ch->keep = false;
	for (size_t i = 0; i < c->sim.n_guests; i++) {
		const struct config_sim_guest *g = &c->sim.guests[i];

		for (ch = sb->children; ch; ch = ch->next)
			if (strcmp(ch->cfg.name, g->name) == 0)
				break;
		if (ch) {
			/* Same name: keep it running as it is; new settings
			 * apply at its next start. */
			ch->cfg = *g;
			ch->keep = true;
			continue;
		}
		ch = child_new(sb, g);
		if (!ch)
			continue;
		ch->next = sb->children;
		sb->children = ch;
		spawn(sb, ch);
	}
	for (ch = sb->children; ch; ch = ch->next)
		if (!ch->keep && ch->pid > 0) {
			log_info("%s: no longer in the config; stopping it",
				 ch->cfg.name);
			child_stop(ch);
		}
}
