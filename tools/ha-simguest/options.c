// SPDX-License-Identifier: GPL-2.0-or-later
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ram.h"
#include "user/size.h"

#ifndef SIMGUEST_TRACE_DIR
#define SIMGUEST_TRACE_DIR "tools/traces"
#endif

static const char usage[] =
	"Usage: ha-simguest [OPTIONS]\n"
	"\n"
	"A simulated VM for hyperallocd: guest RAM is a memfd with the\n"
	"allocator's metadata inside it, vCPU threads replay a workload\n"
	"trace, and every frame they hold carries a canary so that any data\n"
	"the host destroys is detected.\n"
	"\n"
	"Guest:\n"
	"  -m, --memory SIZE        guest RAM, e.g. 512M, 16G (default 1G;\n"
	"                           a multiple of 2M between 32M and 4T)\n"
	"  -c, --vcpus N            vCPU threads, 1..256 (default 2)\n"
	"  -n, --name NAME          VM name, [A-Za-z0-9._-]{1,63}\n"
	"                           (default sim-PID)\n"
	"      --uuid UUID          VM uuid (default: a random v4 uuid)\n"
	"      --thp                madvise(MADV_HUGEPAGE) on guest RAM; the\n"
	"                           daemon is told THP backing only if\n"
	"                           shmem_enabled allows it (never changed)\n"
	"      --prefault           write all of guest RAM once at start, like\n"
	"                           a guest whose page cache has used it all\n"
	"\n"
	"Workload:\n"
	"  -t, --trace NAME|PATH    workload trace (default steady); a name\n"
	"                           is looked up as DIR/NAME.trace\n"
	"      --trace-dir DIR      where trace names live\n"
	"                           (default " SIMGUEST_TRACE_DIR ")\n"
	"  -x, --time-scale S       trace seconds per real second (default 1)\n"
	"      --trace-clock real|workload\n"
	"                           real (default): the trace plays in real\n"
	"                           time whether the vCPUs keep up or not;\n"
	"                           workload: trace time moves on only while\n"
	"                           every vCPU holds what the trace asks for\n"
	"                           (or waits for memory), so a slow guest\n"
	"                           plays every level, later (churn follows\n"
	"                           trace time)\n"
	"      --alloc-sizes kernel|replay\n"
	"                           what the vCPUs allocate (default kernel):\n"
	"                           kernel is a kernel's mix of 4 KiB pages,\n"
	"                           small blocks and huge pages; replay is\n"
	"                           ha-replay's chunks in a real guest: 2 MiB\n"
	"                           huge pages and, for its chunks of 64 KiB\n"
	"                           to 1 MiB, blocks of 64 to 512 KiB\n"
	"      --workload-memory SIZE\n"
	"                           the trace's fractions are of SIZE instead\n"
	"                           of all allocatable memory (at most that),\n"
	"                           like a program that sizes itself; the\n"
	"                           rest of RAM stays free for the host\n"
	"      --loop               start the trace again at its end; without\n"
	"                           it the final level is held\n"
	"      --free-pattern jobs|random\n"
	"                           what the vCPUs free (default jobs): jobs\n"
	"                           allocate in groups sized like a compiler\n"
	"                           process (0.5-4 % of RAM, at least 4M)\n"
	"                           and free whole groups, the oldest first;\n"
	"                           random frees random allocations, which\n"
	"                           leaves live 4K pages in most 2M frames\n"
	"  -d, --duration S         stop after S real seconds (default: run\n"
	"                           until SIGTERM or SIGINT)\n"
	"      --seed N             seed of the random choices (default:\n"
	"                           from the clock); same seed, same choices\n"
	"      --fpr ORDER,DELAY_MS,CAPACITY\n"
	"                           emulate free page reporting: every\n"
	"                           DELAY_MS report up to CAPACITY free,\n"
	"                           unreported frames of ORDER (only 9);\n"
	"                           the paper used 9,2000,32\n"
	"\n"
	"Daemon:\n"
	"  -s, --socket PATH        the daemon's sim socket (default "
	"$" SG_SOCKET_ENV " or " SG_DEFAULT_SOCKET ")\n"
	"      --status-interval MS STATUS message period, >= 10 (default "
	"1000)\n"
	"      --connect-timeout S  keep trying to reach the daemon at start\n"
	"                           for S seconds (default 10)\n"
	"      --no-reconnect       exit (status 1) when the connection is\n"
	"                           lost instead of reconnecting\n"
	"\n"
	"Output:\n"
	"  -q, --quiet              only warnings and errors (and the summary)\n"
	"  -v, --verbose            debug messages too\n"
	"  -h, --help               this text\n"
	"\n"
	"At exit (signal or --duration) the vCPUs stop, every held frame's\n"
	"canary is verified, BYE is sent and one summary line is printed on\n"
	"stdout. Exit status: 0 ok, 1 error, 3 a canary mismatch was seen\n"
	"(the host destroyed guest data).\n"
	"\n"
	"Trace files: lines \"time_s fraction churn_per_s\" (# comments);\n"
	"fraction of the guest's allocatable memory (or of\n"
	"--workload-memory) held, interpolated\n"
	"linearly; churn_per_s of the held memory freed and allocated again\n"
	"per trace second.\n";

enum {
	OPT_UUID = 256,
	OPT_THP,
	OPT_TRACE_DIR,
	OPT_LOOP,
	OPT_FREE_PATTERN,
	OPT_SEED,
	OPT_FPR,
	OPT_STATUS_INTERVAL,
	OPT_CONNECT_TIMEOUT,
	OPT_NO_RECONNECT,
	OPT_PREFAULT,
	OPT_WORKLOAD_MEMORY,
	OPT_ALLOC_SIZES,
	OPT_TRACE_CLOCK,
};

static const struct option long_options[] = {
	{ "memory", required_argument, NULL, 'm' },
	{ "vcpus", required_argument, NULL, 'c' },
	{ "name", required_argument, NULL, 'n' },
	{ "uuid", required_argument, NULL, OPT_UUID },
	{ "thp", no_argument, NULL, OPT_THP },
	{ "prefault", no_argument, NULL, OPT_PREFAULT },
	{ "trace", required_argument, NULL, 't' },
	{ "trace-dir", required_argument, NULL, OPT_TRACE_DIR },
	{ "time-scale", required_argument, NULL, 'x' },
	{ "trace-clock", required_argument, NULL, OPT_TRACE_CLOCK },
	{ "workload-memory", required_argument, NULL, OPT_WORKLOAD_MEMORY },
	{ "alloc-sizes", required_argument, NULL, OPT_ALLOC_SIZES },
	{ "loop", no_argument, NULL, OPT_LOOP },
	{ "free-pattern", required_argument, NULL, OPT_FREE_PATTERN },
	{ "duration", required_argument, NULL, 'd' },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "fpr", required_argument, NULL, OPT_FPR },
	{ "socket", required_argument, NULL, 's' },
	{ "status-interval", required_argument, NULL, OPT_STATUS_INTERVAL },
	{ "connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT },
	{ "no-reconnect", no_argument, NULL, OPT_NO_RECONNECT },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int parse_double(const char *s, double min, double max, double *ret)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < min || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int copy_arg(char *dst, size_t len, const char *arg, const char *opt)
{
	if (strlen(arg) >= len) {
		fprintf(stderr, "ha-simguest: %s: \"%.40s...\" is too long\n",
			opt, arg);
		return -ENAMETOOLONG;
	}
	memcpy(dst, arg, strlen(arg) + 1);
	return 0;
}

static void defaults(struct options *o)
{
	const char *env = getenv(SG_SOCKET_ENV);

	memset(o, 0, sizeof(*o));
	o->memory = 1ull << 30;
	o->vcpus = 2;
	snprintf(o->name, sizeof(o->name), "sim-%ld", (long)getpid());
	snprintf(o->socket, sizeof(o->socket), "%s",
		 env && *env ? env : SG_DEFAULT_SOCKET);
	snprintf(o->trace, sizeof(o->trace), "steady");
	snprintf(o->trace_dir, sizeof(o->trace_dir), "%s", SIMGUEST_TRACE_DIR);
	o->time_scale = 1;
	o->free_pattern = WORKLOAD_FREE_JOBS;
	o->status_interval_ms = 1000;
	o->reconnect = true;
	o->connect_timeout_ms = 10000;
}

static int bad(const char *opt, const char *arg, const char *want)
{
	fprintf(stderr, "ha-simguest: %s: \"%s\" is not %s\n", opt, arg, want);
	return -EINVAL;
}

/* Apply one option; returns 0 or -EINVAL (message printed). */
static int apply(struct options *o, int c, const char *arg)
{
	char err[256];
	uint64_t u;
	double d;

	switch (c) {
	case 'm':
		if (ha_parse_size(arg, &o->memory) < 0)
			return bad("--memory", arg, "a size like 512M or 16G");
		/* What the daemon's sim backend accepts. */
		if (o->memory % HA_HUGE_SIZE || o->memory < SG_MEMORY_MIN ||
		    o->memory > SG_MEMORY_MAX)
			return bad("--memory", arg,
				   "a multiple of 2M between 32M and 4T");
		return 0;
	case 'c':
		if (parse_u64(arg, 1, SG_VCPUS_MAX, &u) < 0)
			return bad("--vcpus", arg, "a number in 1..256");
		o->vcpus = (unsigned)u;
		return 0;
	case 'n':
		if (!ident_name_valid(arg))
			return bad("--name", arg,
				   "1..63 characters of [A-Za-z0-9._-]");
		snprintf(o->name, sizeof(o->name), "%s", arg);
		return 0;
	case OPT_UUID:
		if (ident_uuid_parse(arg, o->uuid) < 0)
			return bad("--uuid", arg,
				   "a uuid like 123e4567-e89b-42d3-a456-"
				   "426614174000");
		o->uuid_given = true;
		return 0;
	case OPT_THP:
		o->thp = true;
		return 0;
	case OPT_PREFAULT:
		o->prefault = true;
		return 0;
	case 't':
		return copy_arg(o->trace, sizeof(o->trace), arg, "--trace");
	case OPT_TRACE_DIR:
		return copy_arg(o->trace_dir, sizeof(o->trace_dir), arg,
				"--trace-dir");
	case 'x':
		if (parse_double(arg, 1e-6, 1e6, &o->time_scale) < 0)
			return bad("--time-scale", arg,
				   "a number in 0.000001..1000000");
		return 0;
	case OPT_TRACE_CLOCK:
		if (strcmp(arg, "real") == 0)
			o->paced = false;
		else if (strcmp(arg, "workload") == 0)
			o->paced = true;
		else
			return bad("--trace-clock", arg, "real or workload");
		return 0;
	case OPT_WORKLOAD_MEMORY:
		if (ha_parse_size(arg, &o->workload_memory) < 0 ||
		    o->workload_memory < HA_HUGE_SIZE)
			return bad("--workload-memory", arg,
				   "a size of at least 2M, like 1280M");
		return 0;
	case OPT_ALLOC_SIZES:
		if (strcmp(arg, "kernel") == 0)
			o->alloc_sizes = WORKLOAD_SIZES_KERNEL;
		else if (strcmp(arg, "replay") == 0)
			o->alloc_sizes = WORKLOAD_SIZES_REPLAY;
		else
			return bad("--alloc-sizes", arg, "kernel or replay");
		return 0;
	case OPT_LOOP:
		o->loop = true;
		return 0;
	case OPT_FREE_PATTERN:
		if (strcmp(arg, "jobs") == 0)
			o->free_pattern = WORKLOAD_FREE_JOBS;
		else if (strcmp(arg, "random") == 0)
			o->free_pattern = WORKLOAD_FREE_RANDOM;
		else
			return bad("--free-pattern", arg, "jobs or random");
		return 0;
	case 'd':
		if (parse_double(arg, 0, 1e9, &d) < 0)
			return bad("--duration", arg,
				   "a number of seconds >= 0");
		o->duration_s = d;
		return 0;
	case OPT_SEED:
		if (parse_u64(arg, 0, UINT64_MAX, &o->seed) < 0)
			return bad("--seed", arg, "a non-negative integer");
		o->seed_given = true;
		return 0;
	case OPT_FPR:
		if (fpr_parse(arg, &o->fpr, err, sizeof(err)) < 0) {
			fprintf(stderr, "ha-simguest: %s\n", err);
			return -EINVAL;
		}
		o->fpr_enabled = true;
		return 0;
	case 's':
		return copy_arg(o->socket, sizeof(o->socket), arg, "--socket");
	case OPT_STATUS_INTERVAL:
		if (parse_u64(arg, 10, 3600000, &u) < 0)
			return bad("--status-interval", arg,
				   "milliseconds in 10..3600000");
		o->status_interval_ms = (unsigned)u;
		return 0;
	case OPT_CONNECT_TIMEOUT:
		if (parse_double(arg, 0, 86400, &d) < 0)
			return bad("--connect-timeout", arg,
				   "seconds in 0..86400");
		o->connect_timeout_ms = (unsigned)(d * 1000);
		return 0;
	case OPT_NO_RECONNECT:
		o->reconnect = false;
		return 0;
	case 'q':
		o->quiet = true;
		return 0;
	case 'v':
		o->verbose = true;
		return 0;
	default:
		return -EINVAL;
	}
}

enum options_result options_parse(int argc, char **argv, struct options *o)
{
	int c;

	defaults(o);
	optind = 1;
	while ((c = getopt_long(argc, argv, "m:c:n:t:x:d:s:qvh", long_options,
				NULL)) != -1) {
		if (c == 'h') {
			fputs(usage, stdout);
			return OPTIONS_EXIT_OK;
		}
		if (c == '?') {
			fprintf(stderr, "Try 'ha-simguest --help'.\n");
			return OPTIONS_ERROR;
		}
		if (apply(o, c, optarg) < 0)
			return OPTIONS_ERROR;
	}
	if (optind < argc) {
		fprintf(stderr, "ha-simguest: unexpected argument \"%s\"\n",
			argv[optind]);
		return OPTIONS_ERROR;
	}
	if (o->workload_memory > o->memory) {
		fprintf(stderr,
			"ha-simguest: --workload-memory: %" PRIu64
			" bytes is more than --memory (%" PRIu64 ")\n",
			o->workload_memory, o->memory);
		return OPTIONS_ERROR;
	}
	if (strlen(o->socket) >= 108) {
		fprintf(stderr, "ha-simguest: --socket: path longer than 107 "
				"bytes\n");
		return OPTIONS_ERROR;
	}
	return OPTIONS_RUN;
}
