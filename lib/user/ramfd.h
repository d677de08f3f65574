/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Guest RAM files a host process maps: may this one be touched?
 *
 * A shared mapping of a file faults with SIGBUS where the file no longer
 * reaches (it was truncated after the mapping was made) and, on hugetlbfs,
 * where a hole cannot be filled because the pool of huge pages is empty.
 * Guest RAM comes from a process the host does not trust (a simulated
 * guest, a QEMU running a hostile guest), so before mapping one the host
 * checks that neither can happen: the file is a memfd sealed against
 * shrinking (F_SEAL_SHRINK: seals can never be removed again) on shmem,
 * and it is, once sealed, at least as long as the range to be mapped.
 * Holes punched into it later read as zeros.
 */
#ifndef HA_RAMFD_H
#define HA_RAMFD_H

#include <stdint.h>

/*
 * May @fd be mapped for its first @len bytes and read and written there
 * whatever its owner does to it later? 0, or a negative errno with a
 * static sentence saying why not in *ret_reason:
 *   -EPERM   it is not sealed with F_SEAL_SHRINK (or cannot be sealed:
 *            not a memfd);
 *   -EINVAL  it is not a regular file on shmem (hugetlbfs, a disk file);
 *   -ERANGE  it is shorter than @len bytes;
 *   other    fstat/fstatfs failed.
 * The seals are checked before the size: once they hold, the size can
 * only grow.
 */
int ramfd_check(int fd, uint64_t len, const char **ret_reason);

#endif
