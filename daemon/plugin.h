/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Policy plugins: which names an API caller may give, and opening a
 * plugin so that the file checked is the file loaded (docs/policies.md
 * "Plugins"). A leaf over errors.h; the engine does the dlopen.
 */
#ifndef HA_PLUGIN_H
#define HA_PLUGIN_H

#include <stdbool.h>

#include "errors.h"

/* Is @name a policy name an API caller may give: not empty, letters,
 * digits, '_', '-', '.', no '/' and no ".."? Else false with *err set
 * (ERROR_BAD_REQUEST, field "name"). */
bool plugin_name_ok(const char *name, struct error *err);

/*
 * Open plugin @file (a name, no '/') of directory @dir for dlopen through
 * /proc/self/fd/N. The directory is opened and fstat'ed, then the file
 * with openat(O_RDONLY | O_NOFOLLOW | O_CLOEXEC) and fstat'ed: both must
 * belong to root or to the daemon's effective user and be neither group-
 * nor world-writable, the file must be a regular file. The fd, or -errno
 * (-ENOENT: no such file; -EPERM: not trusted) with *err set
 * (ERROR_UNPROCESSABLE, field "name", value @name).
 */
int plugin_open(const char *dir, const char *file, const char *name,
		struct error *err);

#endif
