// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ha-demo: a short, self-contained demonstration of libhyperalloc on a
 * real memfd. A 512 MiB "guest" fills half of its memory, the "host"
 * hard-reclaims 128 MiB and soft-reclaims every free frame, and the kernel's
 * own accounting of the memfd shows the memory leave and come back.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ha_guest.h"
#include "ha_host.h"
#include "user/memfd_env.h"
#include "user/size.h"

#define RAM  (512ull << 20)
#define META (4ull << 20)

static void show(const char *what, int fd, const struct ha_guest *g)
{
	char a[32], b[32];

	printf("%-44s resident %10s   guest free %10s\n", what,
	       ha_format_size((uint64_t)memfd_resident_bytes(fd), a, sizeof(a)),
	       ha_format_size(ha_guest_free_frames(g) * HA_FRAME_SIZE, b,
			      sizeof(b)));
}

static int fail(const char *what, long r)
{
	fprintf(stderr, "ha-demo: %s: %s\n", what, ha_strerror((int)r));
	return 1;
}

int main(void)
{
	static struct ha_local locals[2];
	static ha_frame_t held[(RAM / 2) / HA_HUGE_SIZE];
	struct memfd_env env;
	struct ha_guest g;
	struct ha_host h;
	struct ha_bad bad;
	uint64_t frames = (RAM - META) / HA_FRAME_SIZE;
	uint64_t n_held = 0;
	uint8_t *state;
	char *ram;
	bool rec;
	int64_t n;
	int fd, r;

	fd = memfd_create("ha-demo-guest", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)RAM) < 0) {
		perror("ha-demo: memfd");
		return 1;
	}
	ram = mmap(NULL, RAM, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (ram == MAP_FAILED) {
		perror("ha-demo: mmap");
		return 1;
	}
	r = ha_guest_init(&g, ram, META, locals, 2, META / HA_FRAME_SIZE,
			  frames, HA_INIT_FREE);
	if (r < 0)
		return fail("guest init", r);
	printf("guest: %llu MiB of RAM in a memfd, allocator metadata inside "
	       "it (%llu KiB)\n",
	       (unsigned long long)(RAM >> 20),
	       (unsigned long long)(ha_meta_size(frames) >> 10));

	/* The guest touches all of its memory once (boot, page cache)... */
	memset(ram + META, 0x5a, RAM - META);
	show("guest touched all of its RAM:", fd, &g);

	/* ...and keeps half of it allocated, in 2 MiB frames. */
	while (n_held < sizeof(held) / sizeof(held[0])) {
		r = ha_guest_get(&g, 0, HA_HUGE_ORDER, 0, &held[n_held], &rec);
		if (r < 0)
			return fail("guest get", r);
		n_held++;
	}
	show("guest holds 256 MiB:", fd, &g);

	if (memfd_env_init(&env, fd, META) < 0)
		return 1;
	state = calloc(1, ha_host_state_size(RAM / HA_FRAME_SIZE));
	if (!state)
		return 1;
	r = ha_host_attach(&h, ram, META, 0, RAM / HA_FRAME_SIZE, &env.env,
			   state, &bad);
	if (r < 0) {
		fprintf(stderr, "ha-demo: attach: %s\n",
			ha_bad_str(bad.reason));
		return 1;
	}

	n = ha_host_reclaim_hard(&h, 64);
	if (n < 0)
		return fail("hard reclaim", n);
	printf("host: hard-reclaimed %lld frames (the VM is now %llu MiB)\n",
	       (long long)n,
	       (unsigned long long)((RAM - META) / 1048576 - (uint64_t)n * 2));
	show("after hard reclaim of 128 MiB:", fd, &g);

	n = ha_host_reclaim_soft(&h, 0);
	if (n < 0)
		return fail("soft reclaim", n);
	printf("host: soft-reclaimed %lld free frames\n", (long long)n);
	show("after soft reclaim:", fd, &g);

	n = ha_host_return(&h, 64);
	if (n < 0)
		return fail("return", n);
	printf("host: returned %lld frames to the guest\n", (long long)n);

	/* The guest reuses free memory: reclaimed frames are installed. */
	uint64_t installs = 0;

	for (uint64_t i = 0; i < 64; i++) {
		ha_frame_t f;

		r = ha_guest_get(&g, 1, HA_HUGE_ORDER, 0, &f, &rec);
		if (r < 0)
			return fail("guest get", r);
		if (rec) {
			r = ha_host_install(&h, ha_frame_to_huge(f));
			if (r < 0)
				return fail("install", r);
			installs++;
		}
		memset(ram + META + f.v * HA_FRAME_SIZE, 0x33, HA_HUGE_SIZE);
	}
	printf("guest: allocated 128 MiB again, %llu frames needed an "
	       "install first\n",
	       (unsigned long long)installs);
	show("after the guest used 128 MiB more:", fd, &g);

	struct ha_host_counters c;

	ha_host_counters(&h, &c);
	printf("counters: hard %llu, soft %llu, returned %llu, installed "
	       "%llu, %llu discard calls, %.1f ms discarding\n",
	       (unsigned long long)c.reclaimed_hard,
	       (unsigned long long)c.reclaimed_soft,
	       (unsigned long long)c.returned, (unsigned long long)c.installed,
	       (unsigned long long)c.discard_calls, (double)c.discard_ns / 1e6);
	free(state);
	memfd_env_destroy(&env);
	return 0;
}
