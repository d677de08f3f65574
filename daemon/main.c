// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * hyperallocd: start-up, the event loop, signals, reload and shutdown.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "backend.h"
#include "commit.h"
#include "daemon.h"
#include "engine.h"
#include "grpc/server.h" /* grpcd_start, grpcd_stop */
#include "http/server.h" /* http_server_start, http_server_stop */
#include "libvirt/tracker.h"
#include "log.h"
#include "sim/sim.h"
#include "state.h"
#include "vm_source.h"

#define DEFAULT_CONFIG	   "/etc/hyperalloc/hyperallocd.json"
#define HYPERALLOC_VERSION "0.1.0"

/* Where VMs come from (vm_source.h): started, reconfigured and stopped in
 * this order. */
static const struct vm_source *const sources[] = {
	&sim_source,
	&libvirt_source,
};

#define SOURCES (sizeof(sources) / sizeof(sources[0]))

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: hyperallocd [OPTIONS]\n"
		"\n"
		"Orchestrate the memory of the virtual machines on this host.\n"
		"hyperallocd tracks every VM, reads each guest's allocator state\n"
		"directly, decides per-VM memory targets with a host-wide policy\n"
		"and serves an HTTP/JSON API (see docs/api.md).\n"
		"\n"
		"Options:\n"
		"  -c, --config FILE    configuration file (default %s;\n"
		"                       built-in defaults if it does not exist)\n"
		"      --check-config   check the configuration, print \"configuration OK\"\n"
		"                       or the line and reason, and exit\n"
		"  -l, --log-level L    err, warning, notice, info (default), debug\n"
		"      --version        print the version and exit\n"
		"  -h, --help           this text\n"
		"\n"
		"Signals: SIGTERM/SIGINT stop cleanly, SIGHUP reloads the\n"
		"configuration (a bad file is rejected and the old one kept).\n",
		DEFAULT_CONFIG);
}

static void print_config_error(const char *path, const struct config_error *e)
{
	if (e->line > 0)
		fprintf(stderr, "%s:%d: %s%s%s\n", path, e->line, e->field,
			e->field[0] ? ": " : "", e->message);
	else
		fprintf(stderr, "%s: %s%s%s\n", path, e->field,
			e->field[0] ? ": " : "", e->message);
}

static int mkdir_parents(const char *path, mode_t mode)
{
	char buf[4096];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return 0;
}

static_assert(sizeof(((struct daemon *)0)->api_token) == AUTH_TOKEN_MAX + 1,
	      "api_token holds AUTH_TOKEN_MAX characters");

/* Read the API token (auth_token_read: one line, 16 to 256 printable
 * characters, mode 0600), or create one (256 random bits, hex, 0600). */
static int load_token(struct daemon *d)
{
	const char *path = d->cfg->api.token_file;
	unsigned char raw[32];
	char hex[65];
	char why[512];
	int fd, r;

	if (!path)
		return 0;
	r = auth_token_read(path, d->api_token, sizeof(d->api_token), why,
			    sizeof(why));

	if (r == 0)
		return 0;
	if (r != -ENOENT) {
		log_err("%s", why);
		return r;
	}
	if (getrandom(raw, sizeof(raw), 0) != sizeof(raw))
		return -EIO;
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	mkdir_parents(path, 0755);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, hex, 64) != 64 || write(fd, "\n", 1) != 1) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		log_err("cannot create the API token file %s: %s", path,
			strerror(-r));
		return r;
	}
	close(fd);
	snprintf(d->api_token, sizeof(d->api_token), "%s", hex);
	log_notice("created a new API token in %s", path);
	return 0;
}

static void update_status(struct daemon *d)
{
	uint64_t reclaimed = 0;

	vm_foreach(vm, &d->vms)
		reclaimed +=
			vm->mem.reclaimed_bytes + vm->mem.soft_reclaimed_bytes;
	sd_notifyf(0, "STATUS=%zu VMs, %llu MiB reclaimed", d->vms.count,
		   (unsigned long long)(reclaimed >> 20));
}

static int on_status_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	update_status(userdata);
	sd_event_source_set_time(s, usec + 5000000);
	return 0;
}

static void reload(struct daemon *d)
{
	struct config *fresh = NULL;
	struct config_error err;
	char path[4096];
	int r;

	if (!d->cfg->path) {
		log_notice("reload: running on built-in defaults, nothing to "
			   "reload");
		return;
	}
	snprintf(path, sizeof(path), "%s", d->cfg->path);
	sd_notify(0, "RELOADING=1\nSTATUS=reloading the configuration");
	r = config_load(path, &fresh, &err);
	if (r < 0) {
		daemon_error(d, NULL,
			     "reload: %s:%d: %s: %s; keeping the running "
			     "configuration",
			     path, err.line, err.field, err.message);
		sd_notify(0, "READY=1");
		update_status(d);
		return;
	}
	struct config *old = d->cfg;
	struct engine_prepared prep = { 0 };

	/*
	 * Everything that can fail is done before anything is applied: the
	 * file parsed and validated above, the policy loaded (a plugin
	 * opened, its init run on its parameters) here. A failure keeps the
	 * running configuration whole.
	 */
	if (strcmp(old->policy.name, fresh->policy.name) ||
	    strcmp(old->policy.params_json, fresh->policy.params_json) ||
	    old->policy.tick_ms != fresh->policy.tick_ms ||
	    old->policy.overcommit_ratio != fresh->policy.overcommit_ratio ||
	    old->policy.host_reserve_bytes !=
		    fresh->policy.host_reserve_bytes) {
		struct engine_policy_update u = {
			.has_name = true,
			.has_params = true,
			.has_ratio = true,
			.has_reserve = true,
			.has_tick = true,
			.from_config = true,
			.overcommit_ratio = fresh->policy.overcommit_ratio,
			.host_reserve_bytes = fresh->policy.host_reserve_bytes,
			.tick_ms = fresh->policy.tick_ms,
		};
		struct error cerr;

		snprintf(u.name, sizeof(u.name), "%s", fresh->policy.name);
		snprintf(u.params_json, sizeof(u.params_json), "%s",
			 fresh->policy.params_json);
		if (engine_policy_prepare(d, &u, &prep, &cerr) < 0) {
			daemon_error(d, NULL,
				     "reload: %s: policy.%s: %s; keeping the "
				     "running configuration",
				     path, cerr.field[0] ? cerr.field : "name",
				     cerr.reason);
			config_free(fresh);
			sd_notify(0, "READY=1");
			update_status(d);
			return;
		}
	}
	if ((old->api.tcp &&
	     (!fresh->api.tcp || strcmp(old->api.tcp, fresh->api.tcp))) ||
	    (!old->api.tcp && fresh->api.tcp))
		log_notice("reload: api.tcp changes take effect at restart");
	d->cfg = fresh;
	log_set_level(fresh->log_level);
	engine_policy_commit(d, &prep);
	for (size_t i = 0; i < SOURCES; i++) {
		if (sources[i]->reconfigure)
			sources[i]->reconfigure(d);
	}
	config_free(old);

	struct event ev = { .type = EV_CONFIG_RELOADED };

	snprintf(ev.message, sizeof(ev.message),
		 "configuration reloaded from %.200s", path);
	event_publish(&d->bus, &ev);
	log_info("%s", ev.message);
	sd_notify(0, "READY=1");
	update_status(d);
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si,
		     void *userdata)
{
	struct daemon *d = userdata;

	(void)s;
	if (si->ssi_signo == SIGHUP) {
		reload(d);
		return 0;
	}
	log_info("received %s, shutting down", strsignal((int)si->ssi_signo));
	d->shutting_down = true;
	sd_notify(0, "STOPPING=1\nSTATUS=shutting down");
	sd_event_exit(d->loop, 0);
	return 0;
}

static int setup(struct daemon *d)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
	struct error cerr;
	char warning[512];
	int r;

	if (d->cfg->runtime_dir)
		mkdir_parents(d->cfg->runtime_dir, 0755),
			mkdir(d->cfg->runtime_dir, 0755);
	if (d->cfg->state_file)
		mkdir_parents(d->cfg->state_file, 0755);

	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		r = sd_event_add_signal(d->loop, NULL, sigs[i], on_signal, d);
		if (r < 0)
			return r;
	}
	r = load_token(d);
	if (r < 0)
		return r;
	r = state_open(d->cfg->state_file, &d->state, warning, sizeof(warning));
	if (r < 0) {
		log_err("cannot open the state file %s: %s", d->cfg->state_file,
			strerror(-r));
		return r;
	}
	if (warning[0])
		log_warn("%s", warning);
	r = commit_new(d, &d->commit);
	if (r < 0)
		return r;
	r = engine_start(d, &cerr);
	if (r < 0) {
		log_err("policy %s: %s", d->cfg->policy.name, cerr.reason);
		return r;
	}
	r = http_server_start(d, &d->http);
	if (r < 0)
		return r;
	r = grpcd_start(d, &d->grpc);
	if (r < 0)
		return r;
	for (size_t i = 0; i < SOURCES; i++) {
		r = sources[i]->start(d);
		if (r < 0)
			return r;
		log_debug("VM source %s started", sources[i]->name);
	}
	r = sd_event_add_time_relative(d->loop, NULL, CLOCK_MONOTONIC, 5000000,
				       1000000, on_status_timer, d);
	if (r < 0)
		return r;
	/* Pings WATCHDOG=1 at half of WatchdogSec whenever systemd asks. */
	sd_event_set_watchdog(d->loop, true);
	return 0;
}

static void teardown(struct daemon *d)
{
	/* What was changed is written, and its requests answered, first. */
	(void)commit_now(d->commit);
	for (size_t i = 0; i < SOURCES; i++)
		sources[i]->stop(d);
	while (d->vms.head)
		daemon_vm_remove(d, d->vms.head, "daemon shutting down");
	http_server_stop(d->http);
	d->http = NULL;
	grpcd_stop(d->grpc);
	d->grpc = NULL;
	engine_stop(d);
	commit_free(d->commit);
	d->commit = NULL;
	state_close(d->state);
	d->state = NULL;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char *config_path = NULL;
	bool check_only = false;
	const char *level_arg = NULL;
	struct config_error cerr;
	struct timespec ts;
	struct daemon *d;
	sigset_t mask;
	int c, r;

	while ((c = getopt_long(argc, argv, "c:l:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case 'C':
			check_only = true;
			break;
		case 'l':
			level_arg = optarg;
			break;
		case 'V':
			printf("hyperallocd %s\n", HYPERALLOC_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "hyperallocd: unexpected argument \"%s\"\n",
			argv[optind]);
		return 2;
	}

	d = calloc(1, sizeof(*d));
	if (!d)
		return 1;
	event_bus_init(&d->bus);
	d->started_usec = now_usec();
	clock_gettime(CLOCK_REALTIME, &ts);
	d->started_realtime_usec =
		(uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;

	const char *path = config_path ? config_path : DEFAULT_CONFIG;

	if (!config_path && access(path, F_OK) < 0) {
		d->cfg = config_new_default();
		if (!d->cfg)
			return 1;
	} else {
		r = config_load(path, &d->cfg, &cerr);
		if (r < 0) {
			print_config_error(path, &cerr);
			free(d);
			return 1;
		}
	}
	if (check_only) {
		printf("configuration OK\n");
		config_free(d->cfg);
		free(d);
		return 0;
	}
	enum log_level level = d->cfg->log_level;

	if (level_arg && log_level_from_string(level_arg, &level) < 0) {
		fprintf(stderr,
			"hyperallocd: --log-level: \"%s\" is not one of "
			"err, warning, notice, info, debug\n",
			level_arg);
		config_free(d->cfg);
		free(d);
		return 2;
	}
	log_setup(level, false);

	/* Every VM costs descriptors (a connection, its RAM): take the
	 * whole hard limit rather than the usual soft 1024. */
	struct rlimit nofile;

	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 &&
	    nofile.rlim_cur < nofile.rlim_max) {
		nofile.rlim_cur = nofile.rlim_max;
		setrlimit(RLIMIT_NOFILE, &nofile);
	}

	/* Signals are handled by the loop; children get a clean mask. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	r = sd_event_default(&d->loop);
	if (r < 0) {
		log_err("cannot create the event loop: %s", strerror(-r));
		return 1;
	}
	r = setup(d);
	if (r < 0) {
		log_err("start-up failed: %s", strerror(-r));
		teardown(d);
		sd_event_unref(d->loop);
		config_free(d->cfg);
		free(d);
		return 1;
	}
	log_info("hyperallocd %s started (config %s, policy %s)",
		 HYPERALLOC_VERSION, d->cfg->path ? d->cfg->path : "built-in",
		 d->cfg->policy.name);
	sd_notify(0, "READY=1");
	update_status(d);

	r = sd_event_loop(d->loop);
	teardown(d);
	sd_event_unref(d->loop);
	config_free(d->cfg);
	free(d);
	log_info("stopped");
	return r < 0 ? 1 : 0;
}
