// SPDX-License-Identifier: GPL-2.0-or-later
/* libvirt's errors as negative errno (see error.h). */
#include "libvirt/error.h"

#include <errno.h>
#include <libvirt/virterror.h>

#include "log.h"

int lv_errno(const char *what, const char *name)
{
	virErrorPtr e = virGetLastError();
	int r = -EIO;

	if (e) {
		switch (e->code) {
		case VIR_ERR_NO_DOMAIN:
			r = -ENOENT;
			break;
		case VIR_ERR_NO_SUPPORT:
		case VIR_ERR_ARGUMENT_UNSUPPORTED:
			r = -EOPNOTSUPP;
			break;
		case VIR_ERR_INVALID_ARG:
		case VIR_ERR_XML_ERROR:
		case VIR_ERR_CONFIG_UNSUPPORTED:
			r = -EINVAL;
			break;
		case VIR_ERR_OPERATION_INVALID:
			r = -EBUSY;
			break;
		case VIR_ERR_OPERATION_TIMEOUT:
			r = -ETIMEDOUT;
			break;
		case VIR_ERR_NO_CONNECT:
		case VIR_ERR_INVALID_CONN:
			r = -ENOTCONN;
			break;
		case VIR_ERR_SYSTEM_ERROR:
			r = e->int1 > 0 ? -e->int1 : -EIO;
			break;
		default:
			break;
		}
	}
	log_warn("%s%s%s: %s", name ? name : "", name ? ": " : "", what,
		 e && e->message ? e->message : "unknown libvirt error");
	return r;
}
