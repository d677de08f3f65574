/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libvirt's event loop, run by the daemon's sd-event loop: an
 * implementation of virEventRegisterImpl whose file descriptor watches are
 * sd-event io sources and whose timers are sd-event time sources. libvirt
 * then needs no thread of its own; its callbacks (connection I/O,
 * keepalive, domain events) run on the loop like everything else.
 *
 * libvirt keeps one event implementation per process, so this module has
 * process-wide state. libvirt may call the implementation from any thread
 * (a thread making a libvirt call updates its connection's watch); the
 * loop thread carries such calls out. The functions below: loop thread
 * only.
 */
#ifndef HA_LIBVIRT_LOOP_H
#define HA_LIBVIRT_LOOP_H

#include <stddef.h>
#include <systemd/sd-event.h>

/*
 * Make libvirt use @loop. Call before opening any libvirt connection.
 * Calling it again with the same loop is a no-op; with another loop it is
 * allowed only while no watch or timer is registered.
 * Returns 0, or -EBUSY (watches live on another loop).
 */
int libvirt_loop_register(sd_event *loop);

/*
 * Release what libvirt removed but whose free callbacks are still due
 * (libvirt wants them called from a clean stack, so they normally run
 * from the loop). Call after closing the last connection, outside any
 * libvirt callback, so nothing is left allocated at exit.
 */
void libvirt_loop_flush(void);

/* Watches and timers libvirt has registered and not removed (tests). */
size_t libvirt_loop_watches(void);
size_t libvirt_loop_timers(void);

#endif
