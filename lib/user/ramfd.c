// SPDX-License-Identifier: GPL-2.0-or-later
#include "ramfd.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>

int ramfd_check(int fd, uint64_t len, const char **ret_reason)
{
	struct statfs sfs;
	struct stat st;
	int seals;

	*ret_reason = "";
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || !(seals & F_SEAL_SHRINK)) {
		*ret_reason = "guest RAM must be a memfd sealed against "
			      "shrinking (F_SEAL_SHRINK)";
		return -EPERM;
	}
	if (fstatfs(fd, &sfs) < 0 || fstat(fd, &st) < 0) {
		*ret_reason = "cannot inspect the guest RAM file";
		return -errno;
	}
	if (!S_ISREG(st.st_mode) || sfs.f_type != TMPFS_MAGIC) {
		*ret_reason = "guest RAM must be a memfd on shmem (not "
			      "hugetlbfs or another file system)";
		return -EINVAL;
	}
	if ((uint64_t)st.st_size < len) {
		*ret_reason = "the guest RAM memfd is shorter than the guest's "
			      "RAM";
		return -ERANGE;
	}
	return 0;
}
