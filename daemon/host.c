// SPDX-License-Identifier: GPL-2.0-or-later
#include "host.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

int host_read_meminfo(const char *path, struct host_mem *ret)
{
	char line[256];
	bool total = false, avail = false;
	FILE *f = fopen(path, "re");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long kib;

		if (sscanf(line, "MemTotal: %llu kB", &kib) == 1) {
			ret->total_bytes = kib * 1024;
			total = true;
		} else if (sscanf(line, "MemAvailable: %llu kB", &kib) == 1) {
			ret->available_bytes = kib * 1024;
			avail = true;
		}
	}
	fclose(f);
	if (!total)
		return -EBADMSG;
	if (!avail)
		ret->available_bytes = 0;
	return 0;
}

int host_read_psi(const char *path, struct host_mem *ret)
{
	char line[256];
	FILE *f = fopen(path, "re");

	ret->psi_some_avg10 = -1;
	ret->psi_full_avg10 = -1;
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		double v;

		if (sscanf(line, "some avg10=%lf", &v) == 1)
			ret->psi_some_avg10 = v;
		else if (sscanf(line, "full avg10=%lf", &v) == 1)
			ret->psi_full_avg10 = v;
	}
	fclose(f);
	return 0;
}

int host_read(struct host_mem *ret)
{
	int r = host_read_meminfo("/proc/meminfo", ret);

	host_read_psi("/proc/pressure/memory", ret);
	return r;
}
