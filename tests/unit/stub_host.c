// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * STUB, for unit tests only: the host facts of daemon/host.h for a fixed
 * host of 16 GiB with 12 GiB available and no PSI, so that what the HTTP
 * suites read back does not depend on the machine they run on. The
 * parsers themselves are not stubbed (they take a path).
 */
#include "host.h"

int host_read(struct host_mem *ret)
{
	ret->total_bytes = 16ull << 30;
	ret->available_bytes = 12ull << 30;
	ret->psi_some_avg10 = -1;
	ret->psi_full_avg10 = -1;
	return 0;
}
