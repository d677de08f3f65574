// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * scale_guest: many idle simulated guests in one process, for bench/scale
 * (a helper, not a benchmark: run without arguments it prints its usage).
 *
 * A real ha-simguest costs a process, its vCPU threads and a few MiB; a
 * thousand of them do not fit on a 2-core machine next to the daemon
 * being measured. To the daemon, each guest here is indistinguishable
 * from an idle ha-simguest: its own connection to the sim socket, its own
 * memfd of guest RAM with freshly initialised allocator metadata inside
 * (ha_guest_init(HA_INIT_FREE), the same layout as ha-simguest: metadata
 * at offset 0, the managed range from the first 4 MiB boundary after it),
 * HELLO with that memfd, then silence (or a STATUS every --status-ms).
 * The memfds stay sparse: only the metadata pages are ever written.
 *
 * Prints one line when every guest is registered, then idles until
 * SIGINT or SIGTERM, says BYE on every connection and exits 0. Exits 1 if
 * the daemon refuses a guest or closes a connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ha_guest.h"
#include "sim_proto.h"

#define MIB		 ((uint64_t)1 << 20)
#define BASE_ALIGN	 ((uint64_t)HA_BASE_ALIGN_FRAMES << HA_FRAME_SHIFT)
#define COUNT_MAX	 100000u
#define REPLY_TIMEOUT_MS 10000

struct opts {
	const char *socket;
	const char *prefix;
	unsigned count;
	uint64_t memory;
	unsigned status_ms; /* 0: no STATUS messages */
};

struct geometry {
	uint64_t meta_size; /* bytes of allocator metadata */
	uint64_t meta_len; /* bytes up to the managed range (4 MiB aligned) */
	uint64_t base_frame;
	uint64_t frames;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: scale_guest --socket PATH --count N [--prefix NAME]\n"
		"                   [--memory SIZE] [--status-ms MS]\n"
		"Register N idle simulated guests (each its own connection\n"
		"and memfd, like ha-simguest) with hyperallocd's sim socket\n"
		"PATH, print one line when all are registered, idle until\n"
		"SIGINT/SIGTERM, then say BYE. A helper of bench/scale.\n"
		"  --prefix NAME   VM names NAME-0000... (default scale)\n"
		"  --memory SIZE   guest RAM, K/M/G suffix (default 32M)\n"
		"  --status-ms MS  send STATUS every MS ms (default 0: never)\n");
}

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt,
								...)
{
	va_list ap;

	fputs("scale_guest: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_FAILURE);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* "32M", "1G", "4096": bytes, or 0 if malformed. */
static uint64_t parse_size(const char *s)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return 0;
	switch (*end) {
	case 'K':
	case 'k':
		shift = 10;
		end++;
		break;
	case 'M':
	case 'm':
		shift = 20;
		end++;
		break;
	case 'G':
	case 'g':
		shift = 30;
		end++;
		break;
	default:
		break;
	}
	if (*end || v > (UINT64_MAX >> shift))
		return 0;
	return (uint64_t)v << shift;
}

static unsigned parse_uint(const char *s, const char *what, unsigned max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > max)
		die("%s: expected an integer up to %u, got \"%s\"", what, max,
		    s);
	return (unsigned)v;
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "count", required_argument, NULL, 'n' },
		{ "prefix", required_argument, NULL, 'p' },
		{ "memory", required_argument, NULL, 'm' },
		{ "status-ms", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct opts){ .prefix = "scale", .memory = 32 * MIB };
	if (argc < 2) {
		usage(stderr);
		exit(2);
	}
	while ((c = getopt_long(argc, argv, "s:n:p:m:S:h", longopts, NULL)) !=
	       -1) {
		switch (c) {
		case 's':
			o->socket = optarg;
			break;
		case 'n':
			o->count = parse_uint(optarg, "--count", COUNT_MAX);
			break;
		case 'p':
			o->prefix = optarg;
			break;
		case 'm':
			o->memory = parse_size(optarg);
			if (!o->memory)
				die("--memory: expected a size like 32M, got "
				    "\"%s\"",
				    optarg);
			break;
		case 'S':
			o->status_ms =
				parse_uint(optarg, "--status-ms", 3600000);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind != argc || !o->socket || !o->count) {
		usage(stderr);
		exit(2);
	}
	if (strlen(o->prefix) > SIM_NAME_MAX - 8)
		die("--prefix: at most %d characters", SIM_NAME_MAX - 8);
}

/* Where ha-simguest puts things in @ram_bytes (tools/ha-simguest/ram.c):
 * metadata for all of RAM at 0, managed range from the next 4 MiB
 * boundary to the end rounded down to 2 MiB. */
static int geometry(uint64_t ram_bytes, struct geometry *ret)
{
	uint64_t upper = (ram_bytes >> HA_FRAME_SHIFT) / HA_CHILD_FRAMES *
			 HA_CHILD_FRAMES;
	uint64_t meta, base;

	if (ram_bytes % HA_HUGE_SIZE || ram_bytes < 32 * MIB)
		return -EINVAL;
	meta = ha_meta_size(upper);
	if (!meta)
		return -EINVAL;
	base = (meta + BASE_ALIGN - 1) / BASE_ALIGN * BASE_ALIGN;
	if (base >= ram_bytes)
		return -EINVAL;
	ret->meta_len = base;
	ret->base_frame = base >> HA_FRAME_SHIFT;
	ret->frames = (ram_bytes - base) / HA_HUGE_SIZE * HA_CHILD_FRAMES;
	ret->meta_size = ha_meta_size(ret->frames);
	return ret->frames && ret->meta_size ? 0 : -EINVAL;
}

static void hdr_init(struct sim_hdr *h, enum sim_msg_type t)
{
	h->magic = SIM_PROTO_MAGIC;
	h->version = SIM_PROTO_VERSION;
	h->type = (uint16_t)t;
}

static void random_uuid(char out[37])
{
	uint8_t b[16];

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		die("getrandom: %s", strerror(errno));
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
		 b[10], b[11], b[12], b[13], b[14], b[15]);
}

/* A memfd of @o->memory with a fresh allocator region in it. */
static int make_ram(const struct opts *o, const struct geometry *g)
{
	struct ha_local local;
	struct ha_guest guest;
	void *meta;
	int fd, r;

	fd = memfd_create("scale-guest-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		die("memfd_create: %s", strerror(errno));
	if (ftruncate(fd, (off_t)o->memory) < 0)
		die("ftruncate of the memfd: %s", strerror(errno));
	/* The daemon maps only guest RAM that cannot shrink. */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0)
		die("sealing the memfd: %s", strerror(errno));
	meta = mmap(NULL, g->meta_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		    0);
	if (meta == MAP_FAILED)
		die("mmap of the memfd: %s", strerror(errno));
	r = ha_guest_init(&guest, meta, g->meta_len, &local, 1, g->base_frame,
			  g->frames, HA_INIT_FREE);
	if (r < 0)
		die("ha_guest_init: %s", ha_strerror(r));
	munmap(meta, g->meta_len);
	return fd;
}

static int send_hello(int sock, int memfd, const struct sim_hello *h)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)h, .iov_len = sizeof(*h) };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = ctl.buf,
			     .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *cm;

	memset(&ctl, 0, sizeof(ctl));
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &memfd, sizeof(int));
	return sendmsg(sock, &mh, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

/* Connect guest @i and wait for WELCOME. Returns the socket. */
static int register_guest(const struct opts *o, const struct geometry *g,
			  unsigned i)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct sim_hello h;
	union {
		struct sim_hdr hdr;
		struct sim_welcome welcome;
		struct sim_error error;
	} reply;
	struct pollfd p;
	ssize_t n;
	int sock, memfd, r;

	if (strlen(o->socket) >= sizeof(sa.sun_path))
		die("--socket: path too long");
	strcpy(sa.sun_path, o->socket);

	memset(&h, 0, sizeof(h));
	hdr_init(&h.hdr, SIM_HELLO);
	snprintf(h.name, sizeof(h.name), "%s-%04u", o->prefix, i);
	random_uuid(h.uuid);
	snprintf(h.trace, sizeof(h.trace), "scale_guest");
	h.vcpus = 1;
	h.pid = (uint32_t)getpid();
	h.ram_bytes = o->memory;
	h.meta_offset = 0;
	h.meta_len = g->meta_len;

	memfd = make_ram(o, g);
	sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (sock < 0)
		die("socket: %s", strerror(errno));
	if (connect(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect to %s: %s", o->socket, strerror(errno));
	r = send_hello(sock, memfd, &h);
	if (r < 0)
		die("%s: sending HELLO: %s", h.name, strerror(-r));
	/* The daemon holds its own reference now. */
	close(memfd);

	p = (struct pollfd){ .fd = sock, .events = POLLIN };
	r = poll(&p, 1, REPLY_TIMEOUT_MS);
	if (r <= 0)
		die("%s: no answer to HELLO in %d ms%s", h.name,
		    REPLY_TIMEOUT_MS, r < 0 ? strerror(errno) : "");
	n = recv(sock, &reply, sizeof(reply), 0);
	if (n >= (ssize_t)sizeof(struct sim_error) &&
	    reply.hdr.type == SIM_ERROR) {
		reply.error.message[sizeof(reply.error.message) - 1] = '\0';
		die("%s: the daemon refused it: %s", h.name,
		    reply.error.message);
	}
	if (n != (ssize_t)sizeof(struct sim_welcome) ||
	    reply.hdr.magic != SIM_PROTO_MAGIC || reply.hdr.type != SIM_WELCOME)
		die("%s: unexpected answer to HELLO (%zd bytes)", h.name, n);
	return sock;
}

static void raise_fd_limit(unsigned need)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= need)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ?
			      need :
			      rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < need)
		die("need %u open files, the limit is %llu", need,
		    (unsigned long long)rl.rlim_cur);
}

static void send_all(int *socks, unsigned n, const void *msg, size_t len)
{
	for (unsigned i = 0; i < n; i++)
		send(socks[i], msg, len, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Idle until a signal; STATUS every @o->status_ms. */
static void idle(const struct opts *o, int *socks, int sfd)
{
	struct pollfd *p = calloc(o->count + 1, sizeof(*p));
	struct sim_status st = { 0 };
	uint64_t next = now_ms() + o->status_ms;

	if (!p)
		die("out of memory");
	hdr_init(&st.hdr, SIM_STATUS);
	p[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	for (unsigned i = 0; i < o->count; i++)
		p[i + 1] = (struct pollfd){ .fd = socks[i], .events = POLLIN };
	for (;;) {
		int timeout = -1, r;

		if (o->status_ms) {
			uint64_t now = now_ms();

			if (now >= next) {
				send_all(socks, o->count, &st, sizeof(st));
				next = now + o->status_ms;
			}
			timeout = (int)(next - now);
		}
		r = poll(p, o->count + 1, timeout);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die("poll: %s", strerror(errno));
		if (p[0].revents)
			break;
		for (unsigned i = 1; i <= o->count; i++) {
			if (p[i].revents)
				die("%s-%04u: the daemon closed the connection "
				    "or sent something unexpected",
				    o->prefix, i - 1);
		}
	}
	free(p);
}

int main(int argc, char **argv)
{
	struct opts o;
	struct geometry g;
	struct sim_hdr bye;
	sigset_t sigs;
	uint64_t t0;
	int *socks, sfd;

	parse_opts(argc, argv, &o);
	if (geometry(o.memory, &g) < 0)
		die("--memory: %" PRIu64 " bytes is not a multiple of 2 MiB "
		    "of at least 32 MiB",
		    o.memory);
	raise_fd_limit(o.count + 64);

	/* Signals arrive through a signalfd, also during registration. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	if (sfd < 0)
		die("signalfd: %s", strerror(errno));

	socks = calloc(o.count, sizeof(*socks));
	if (!socks)
		die("out of memory");
	t0 = now_ms();
	for (unsigned i = 0; i < o.count; i++)
		socks[i] = register_guest(&o, &g, i);
	printf("scale_guest: %u guests registered in %" PRIu64 " ms (%" PRIu64
	       " MiB RAM each, %" PRIu64 " bytes of metadata, %" PRIu64
	       " MiB managed)\n",
	       o.count, now_ms() - t0, o.memory / MIB, g.meta_size,
	       (g.frames << HA_FRAME_SHIFT) / MIB);
	fflush(stdout);

	idle(&o, socks, sfd);

	hdr_init(&bye, SIM_BYE);
	send_all(socks, o.count, &bye, sizeof(bye));
	for (unsigned i = 0; i < o.count; i++)
		close(socks[i]);
	free(socks);
	close(sfd);
	return 0;
}
