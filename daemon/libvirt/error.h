/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libvirt's errors as the daemon's: negative errno, one log line. */
#ifndef HA_LIBVIRT_ERROR_H
#define HA_LIBVIRT_ERROR_H

/*
 * The last libvirt error of this thread as -errno: -ENOENT (no such
 * domain), -EOPNOTSUPP (not supported), -EINVAL (bad argument or XML),
 * -EBUSY (not valid in the domain's state), -ETIMEDOUT, -ENOTCONN (no
 * connection), the system error's own errno, else -EIO. Logs a warning
 * "@name: @what: libvirt's message" (@name may be NULL).
 */
int lv_errno(const char *what, const char *name);

#endif
