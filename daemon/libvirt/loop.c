// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * virEventRegisterImpl on sd-event. libvirt's semantics, and how they map:
 *
 * - A handle watches one fd for READABLE/WRITABLE (ERROR and HANGUP are
 *   always reported). The same fd may be watched twice with disjoint
 *   events, which epoll refuses, so each watch polls its own dup() of the
 *   fd. A watch for no events gets no callbacks: its source is disabled.
 * - A timer with a timeout of -1 is off, 0 fires on every loop iteration,
 *   N > 0 fires every N ms until changed. Time sources are re-armed before
 *   the callback runs, so the callback may change or remove its timer.
 * - Removing a watch stops it at once, but its free callback must run
 *   from a clean stack (never inside libvirt's remove call): removed
 *   watches wait on a list that a deferred source (the reaper) empties.
 * - libvirt also calls in from other threads: a thread that makes a
 *   libvirt call (the worker of libvirt/worker.c) updates its
 *   connection's watch while it waits for the answer. Such calls are
 *   queued under a lock and carried out by the loop thread, which an
 *   eventfd wakes; an add gets its id at once. libvirt's own event loop
 *   behaves the same (changes take effect when its thread next polls).
 *   Only the loop thread touches the watches and sd-event.
 */
#include "libvirt/loop.h"

#include <errno.h>
#include <fcntl.h>
#include <libvirt/libvirt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"

#define TIMER_ACCURACY_USEC 1000

struct lv_watch {
	int id;
	bool timer;
	sd_event_source *src;
	int fd; /* handles: libvirt's fd, passed back to the callback */
	int interval_ms; /* timers: -1 off, 0 every iteration, >0 period */
	virEventHandleCallback handle_cb;
	virEventTimeoutCallback timer_cb;
	void *opaque;
	virFreeCallback ff;
	struct lv_watch *next;
};

/* A call from another thread, for the loop thread to carry out. */
enum lv_op_kind {
	LV_OP_ADD_HANDLE,
	LV_OP_UPDATE_HANDLE,
	LV_OP_REMOVE_HANDLE,
	LV_OP_ADD_TIMEOUT,
	LV_OP_UPDATE_TIMEOUT,
	LV_OP_REMOVE_TIMEOUT,
};

struct lv_op {
	enum lv_op_kind kind;
	int id;
	int arg; /* events, or the timeout */
	int fd;
	virEventHandleCallback handle_cb;
	virEventTimeoutCallback timer_cb;
	void *opaque;
	virFreeCallback ff;
	struct lv_op *next;
};

static struct {
	sd_event *loop;
	pthread_t owner;
	struct lv_watch *live;
	struct lv_watch *dead; /* removed, free callback still due */
	sd_event_source *reaper;
	/* Shared with other threads, under lock: */
	pthread_mutex_t lock;
	int next_id;
	struct lv_op *ops, **ops_tail;
	int wake_fd;
	sd_event_source *wake;
} lv = { .lock = PTHREAD_MUTEX_INITIALIZER, .wake_fd = -1 };

static bool on_owner_thread(void)
{
	return lv.loop && pthread_equal(pthread_self(), lv.owner);
}

static int new_id(void)
{
	int id;

	pthread_mutex_lock(&lv.lock);
	id = ++lv.next_id;
	pthread_mutex_unlock(&lv.lock);
	return id;
}

/* Queue @op (a copy) for the loop thread. 0, or -1 if it cannot be. */
static int post(const struct lv_op *op)
{
	struct lv_op *o = malloc(sizeof(*o));
	uint64_t one = 1;

	if (!o)
		return -1;
	*o = *op;
	o->next = NULL;
	pthread_mutex_lock(&lv.lock);
	if (!lv.ops_tail)
		lv.ops_tail = &lv.ops;
	*lv.ops_tail = o;
	lv.ops_tail = &o->next;
	pthread_mutex_unlock(&lv.lock);
	if (lv.wake_fd >= 0 && write(lv.wake_fd, &one, sizeof(one)) < 0)
		log_err("libvirt loop: cannot wake the loop: %m");
	return 0;
}

static struct lv_watch *find(int id, bool timer)
{
	for (struct lv_watch *w = lv.live; w; w = w->next) {
		if (w->id == id && w->timer == timer)
			return w;
	}
	return NULL;
}

static void unlink_live(struct lv_watch *w)
{
	for (struct lv_watch **p = &lv.live; *p; p = &(*p)->next) {
		if (*p == w) {
			*p = w->next;
			w->next = NULL;
			return;
		}
	}
}

static void reap(void)
{
	while (lv.dead) {
		struct lv_watch *w = lv.dead;

		lv.dead = w->next;
		if (w->ff)
			w->ff(w->opaque);
		free(w);
	}
}

static int on_reaper(sd_event_source *s, void *userdata)
{
	(void)s;
	(void)userdata;
	reap();
	return 0;
}

/* Stop @w now; free it (and call its free callback) later. */
static void retire(struct lv_watch *w)
{
	int r;

	unlink_live(w);
	w->src = sd_event_source_disable_unref(w->src);
	w->next = lv.dead;
	lv.dead = w;
	if (!lv.reaper) {
		r = sd_event_add_defer(lv.loop, &lv.reaper, on_reaper, NULL);
		if (r < 0) {
			/* Leave it on the list: libvirt_loop_flush frees it.
			 * -ESTALE: the loop has finished (shutdown). */
			if (r != -ESTALE)
				log_err("libvirt loop: cannot schedule a free "
					"callback: %s",
					strerror(-r));
			return;
		}
	}
	sd_event_source_set_enabled(lv.reaper, SD_EVENT_ONESHOT);
}

/* ---- handles ---- */

static uint32_t to_epoll(int events)
{
	uint32_t e = 0;

	if (events & VIR_EVENT_HANDLE_READABLE)
		e |= EPOLLIN;
	if (events & VIR_EVENT_HANDLE_WRITABLE)
		e |= EPOLLOUT;
	return e;
}

static int from_epoll(uint32_t e)
{
	int events = 0;

	if (e & (EPOLLIN | EPOLLPRI))
		events |= VIR_EVENT_HANDLE_READABLE;
	if (e & EPOLLOUT)
		events |= VIR_EVENT_HANDLE_WRITABLE;
	if (e & EPOLLERR)
		events |= VIR_EVENT_HANDLE_ERROR;
	if (e & (EPOLLHUP | EPOLLRDHUP))
		events |= VIR_EVENT_HANDLE_HANGUP;
	return events;
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct lv_watch *w = userdata;

	(void)s;
	(void)fd;
	/* The callback may remove @w: do not touch it afterwards. */
	w->handle_cb(w->id, w->fd, from_epoll(revents), w->opaque);
	return 0;
}

static void set_handle_events(struct lv_watch *w, int events)
{
	uint32_t e = to_epoll(events);

	if (!e) {
		sd_event_source_set_enabled(w->src, SD_EVENT_OFF);
		return;
	}
	sd_event_source_set_io_events(w->src, e);
	sd_event_source_set_enabled(w->src, SD_EVENT_ON);
}

static int do_add_handle(int id, int fd, int events, virEventHandleCallback cb,
			 void *opaque, virFreeCallback ff)
{
	struct lv_watch *w;
	int own, r;

	w = calloc(1, sizeof(*w));
	if (!w)
		return -1;
	own = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (own < 0) {
		free(w);
		return -1;
	}
	r = sd_event_add_io(lv.loop, &w->src, own, EPOLLIN, on_io, w);
	if (r < 0) {
		log_err("libvirt loop: cannot watch fd %d: %s", fd,
			strerror(-r));
		close(own);
		free(w);
		return -1;
	}
	sd_event_source_set_io_fd_own(w->src, true);
	w->id = id;
	w->fd = fd;
	w->handle_cb = cb;
	w->opaque = opaque;
	w->ff = ff;
	set_handle_events(w, events);
	w->next = lv.live;
	lv.live = w;
	return w->id;
}

static int add_handle(int fd, int events, virEventHandleCallback cb,
		      void *opaque, virFreeCallback ff)
{
	struct lv_op op = { .kind = LV_OP_ADD_HANDLE,
			    .arg = events,
			    .fd = fd,
			    .handle_cb = cb,
			    .opaque = opaque,
			    .ff = ff };

	if (on_owner_thread())
		return do_add_handle(new_id(), fd, events, cb, opaque, ff);
	/* libvirt owns @fd until it removes the watch: a later dup works. */
	op.id = new_id();
	return post(&op) < 0 ? -1 : op.id;
}

static void do_update_handle(int id, int events)
{
	struct lv_watch *w = find(id, false);

	if (w)
		set_handle_events(w, events);
}

static void update_handle(int id, int events)
{
	struct lv_op op = { .kind = LV_OP_UPDATE_HANDLE,
			    .id = id,
			    .arg = events };

	if (on_owner_thread())
		do_update_handle(id, events);
	else
		post(&op);
}

static int do_remove(int id, bool timer)
{
	struct lv_watch *w = find(id, timer);

	if (!w)
		return -1;
	retire(w);
	return 0;
}

static int remove_handle(int id)
{
	struct lv_op op = { .kind = LV_OP_REMOVE_HANDLE, .id = id };

	if (on_owner_thread())
		return do_remove(id, false);
	return post(&op);
}

/* ---- timers ---- */

static uint64_t loop_now(void)
{
	uint64_t now = 0;

	sd_event_now(lv.loop, CLOCK_MONOTONIC, &now);
	return now;
}

static void arm_timer(struct lv_watch *w, uint64_t now)
{
	if (w->interval_ms < 0) {
		sd_event_source_set_enabled(w->src, SD_EVENT_OFF);
		return;
	}
	sd_event_source_set_time(w->src, now + (uint64_t)w->interval_ms * 1000);
	sd_event_source_set_enabled(w->src, SD_EVENT_ON);
}

static int on_time(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct lv_watch *w = userdata;

	(void)s;
	(void)usec;
	arm_timer(w, loop_now());
	/* The callback may update or remove @w: do not touch it after. */
	w->timer_cb(w->id, w->opaque);
	return 0;
}

static int do_add_timeout(int id, int timeout, virEventTimeoutCallback cb,
			  void *opaque, virFreeCallback ff)
{
	struct lv_watch *w;
	int r;

	w = calloc(1, sizeof(*w));
	if (!w)
		return -1;
	r = sd_event_add_time(lv.loop, &w->src, CLOCK_MONOTONIC, 0,
			      TIMER_ACCURACY_USEC, on_time, w);
	if (r < 0) {
		log_err("libvirt loop: cannot add a timer: %s", strerror(-r));
		free(w);
		return -1;
	}
	w->id = id;
	w->timer = true;
	w->fd = -1;
	w->interval_ms = timeout;
	w->timer_cb = cb;
	w->opaque = opaque;
	w->ff = ff;
	arm_timer(w, loop_now());
	w->next = lv.live;
	lv.live = w;
	return w->id;
}

static int add_timeout(int timeout, virEventTimeoutCallback cb, void *opaque,
		       virFreeCallback ff)
{
	struct lv_op op = { .kind = LV_OP_ADD_TIMEOUT,
			    .arg = timeout,
			    .timer_cb = cb,
			    .opaque = opaque,
			    .ff = ff };

	if (on_owner_thread())
		return do_add_timeout(new_id(), timeout, cb, opaque, ff);
	op.id = new_id();
	return post(&op) < 0 ? -1 : op.id;
}

static void do_update_timeout(int id, int timeout)
{
	struct lv_watch *w = find(id, true);

	if (!w)
		return;
	w->interval_ms = timeout;
	arm_timer(w, loop_now());
}

static void update_timeout(int id, int timeout)
{
	struct lv_op op = { .kind = LV_OP_UPDATE_TIMEOUT,
			    .id = id,
			    .arg = timeout };

	if (on_owner_thread())
		do_update_timeout(id, timeout);
	else
		post(&op);
}

static int remove_timeout(int id)
{
	struct lv_op op = { .kind = LV_OP_REMOVE_TIMEOUT, .id = id };

	if (on_owner_thread())
		return do_remove(id, true);
	return post(&op);
}

/* ---- calls from other threads, carried out on the loop ---- */

static void run_op(const struct lv_op *o)
{
	switch (o->kind) {
	case LV_OP_ADD_HANDLE:
		if (do_add_handle(o->id, o->fd, o->arg, o->handle_cb, o->opaque,
				  o->ff) < 0 &&
		    o->ff)
			o->ff(o->opaque);
		break;
	case LV_OP_UPDATE_HANDLE:
		do_update_handle(o->id, o->arg);
		break;
	case LV_OP_REMOVE_HANDLE:
		do_remove(o->id, false);
		break;
	case LV_OP_ADD_TIMEOUT:
		if (do_add_timeout(o->id, o->arg, o->timer_cb, o->opaque,
				   o->ff) < 0 &&
		    o->ff)
			o->ff(o->opaque);
		break;
	case LV_OP_UPDATE_TIMEOUT:
		do_update_timeout(o->id, o->arg);
		break;
	case LV_OP_REMOVE_TIMEOUT:
		do_remove(o->id, true);
		break;
	}
}

/* Carry out what other threads queued, in their order. */
static void run_ops(void)
{
	struct lv_op *o;

	pthread_mutex_lock(&lv.lock);
	o = lv.ops;
	lv.ops = NULL;
	lv.ops_tail = &lv.ops;
	pthread_mutex_unlock(&lv.lock);
	while (o) {
		struct lv_op *next = o->next;

		run_op(o);
		free(o);
		o = next;
	}
}

static int on_wake(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	uint64_t n;

	(void)s;
	(void)revents;
	(void)userdata;
	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_err("libvirt loop: reading the wake-up counter: %m");
	run_ops();
	return 0;
}

/* ---- the module's API ---- */

int libvirt_loop_register(sd_event *loop)
{
	static bool registered;
	int r;

	if (lv.loop == loop && registered)
		return 0;
	if (lv.live)
		return -EBUSY;
	libvirt_loop_flush();
	lv.wake = sd_event_source_disable_unref(lv.wake);
	if (lv.wake_fd < 0) {
		lv.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (lv.wake_fd < 0)
			return -errno;
	}
	r = sd_event_add_io(loop, &lv.wake, lv.wake_fd, EPOLLIN, on_wake, NULL);
	if (r < 0)
		return r;
	lv.loop = loop;
	lv.owner = pthread_self();
	if (!registered) {
		virEventRegisterImpl(add_handle, update_handle, remove_handle,
				     add_timeout, update_timeout,
				     remove_timeout);
		registered = true;
	}
	return 0;
}

void libvirt_loop_flush(void)
{
	if (on_owner_thread())
		run_ops();
	reap();
	lv.reaper = sd_event_source_disable_unref(lv.reaper);
}

static size_t count(bool timer)
{
	size_t n = 0;

	for (struct lv_watch *w = lv.live; w; w = w->next)
		n += w->timer == timer;
	return n;
}

size_t libvirt_loop_watches(void)
{
	return count(false);
}

size_t libvirt_loop_timers(void)
{
	return count(true);
}
