// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The worker threads of libvirt/worker.h. Threads are detached; the
 * worker is reference-counted so that a thread stuck in libvirt past the
 * daemon's shutdown still finds it when it comes back.
 */
#include "libvirt/worker.h"

#include <errno.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LV_WORKER_STOP_WAIT_S 2

static void call_free(struct lv_call *c)
{
	if (!c)
		return;
	sd_event_source_disable_unref(c->timer);
	if (c->dom)
		virDomainFree(c->dom);
	free(c->arg);
	free(c->reply);
	free(c);
}

static void worker_unref_locked(struct lv_worker *w, bool *ret_free)
{
	*ret_free = --w->refs == 0;
}

static void worker_free(struct lv_worker *w)
{
	while (w->finished) {
		struct lv_call *c = w->finished;

		w->finished = c->next;
		call_free(c);
	}
	if (w->wake_fd >= 0)
		close(w->wake_fd);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

static bool key_busy(const struct lv_worker *w, const char *key)
{
	for (const struct lv_call *c = w->running; c; c = c->next) {
		if (strcmp(c->key, key) == 0)
			return true;
	}
	return false;
}

/* The first queued call whose key has no call running: unlinked. */
static struct lv_call *take(struct lv_worker *w)
{
	for (struct lv_call **p = &w->queue; *p; p = &(*p)->next) {
		struct lv_call *c = *p;
		bool earlier = false;

		if (key_busy(w, c->key))
			continue;
		/* An earlier queued call of the same key goes first. */
		for (struct lv_call *e = w->queue; e != c; e = e->next)
			earlier |= strcmp(e->key, c->key) == 0;
		if (earlier)
			continue;
		*p = c->next;
		c->next = NULL;
		return c;
	}
	return NULL;
}

static void unlink_from(struct lv_call **list, struct lv_call *c)
{
	for (struct lv_call **p = list; *p; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			c->next = NULL;
			return;
		}
	}
}

static int errno_of_libvirt(void)
{
	switch (virGetLastErrorCode()) {
	case VIR_ERR_NO_DOMAIN:
		return -ENOENT;
	case VIR_ERR_OPERATION_TIMEOUT:
		return -ETIMEDOUT;
	case VIR_ERR_OPERATION_INVALID:
	case VIR_ERR_INVALID_ARG:
		return -EINVAL;
	case VIR_ERR_AGENT_UNRESPONSIVE:
		return -EAGAIN;
	case VIR_ERR_NO_SUPPORT:
		return -EOPNOTSUPP;
	default:
		return -EIO;
	}
}

static void *thread_main(void *arg)
{
	struct lv_worker *w = arg;
	uint64_t one = 1;
	bool last;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct lv_call *c = take(w);

		if (!c) {
			if (w->stopping)
				break;
			w->idle++;
			pthread_cond_wait(&w->cond, &w->lock);
			w->idle--;
			continue;
		}
		c->running = true;
		c->next = w->running;
		w->running = c;
		pthread_mutex_unlock(&w->lock);

		c->r = c->run(c);
		if (c->r == -1) {
			const char *m = virGetLastErrorMessage();

			snprintf(c->err, sizeof(c->err), "%s",
				 m ? m : "libvirt call failed");
			c->r = errno_of_libvirt();
			virResetLastError();
		} else if (c->r < 0 && !c->err[0]) {
			snprintf(c->err, sizeof(c->err), "%s", strerror(-c->r));
		}

		pthread_mutex_lock(&w->lock);
		unlink_from(&w->running, c);
		c->running = false;
		c->finished = true;
		if (w->stopping) {
			call_free(c); /* nobody left to tell */
		} else {
			c->next = w->finished;
			w->finished = c;
			if (write(w->wake_fd, &one, sizeof(one)) < 0)
				log_err("libvirt worker: cannot wake the loop: "
					"%m");
		}
		/* A call of the same key may be able to run now. */
		pthread_cond_broadcast(&w->cond);
	}
	w->threads--;
	pthread_cond_broadcast(&w->cond); /* lv_worker_stop() waits for it */
	worker_unref_locked(w, &last);
	pthread_mutex_unlock(&w->lock);
	if (last)
		worker_free(w);
	return NULL;
}

static void report(struct lv_call *c)
{
	if (c->reported)
		return;
	c->reported = true;
	c->timer = sd_event_source_disable_unref(c->timer);
	if (c->done)
		c->done(c);
}

static int on_wake(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct lv_worker *w = userdata;
	struct lv_call *list, *rev = NULL;
	uint64_t n;

	(void)s;
	(void)revents;
	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_err("libvirt worker: reading the wake-up counter: %m");
	pthread_mutex_lock(&w->lock);
	list = w->finished;
	w->finished = NULL;
	pthread_mutex_unlock(&w->lock);
	/* Oldest first. */
	while (list) {
		struct lv_call *next = list->next;

		list->next = rev;
		rev = list;
		list = next;
	}
	while (rev) {
		struct lv_call *c = rev;

		rev = c->next;
		c->next = NULL;
		report(c);
		call_free(c);
	}
	return 0;
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct lv_call *c = userdata;
	struct lv_worker *w = c->w;
	bool queued;

	(void)s;
	(void)usec;
	pthread_mutex_lock(&w->lock);
	queued = !c->running && !c->finished;
	if (queued)
		unlink_from(&w->queue, c);
	pthread_mutex_unlock(&w->lock);
	w->timeouts++;
	c->r = -ETIMEDOUT;
	snprintf(c->err, sizeof(c->err), "%s",
		 queued ? "not started: an earlier call for this VM has not "
			  "been answered" :
			  "no answer in time (is the VM's QEMU stopped or "
			  "hung?)");
	report(c);
	/* A call a thread still runs is freed when it comes back. */
	if (queued)
		call_free(c);
	return 0;
}

struct lv_worker *lv_worker_new(sd_event *loop)
{
	struct lv_worker *w = calloc(1, sizeof(*w));
	int r;

	if (!w)
		return NULL;
	w->loop = loop;
	w->refs = 1;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	w->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->wake_fd < 0)
		goto fail;
	r = sd_event_add_io(loop, &w->wake, w->wake_fd, EPOLLIN, on_wake, w);
	if (r < 0)
		goto fail;
	return w;
fail:
	worker_free(w);
	return NULL;
}

struct lv_call *lv_call_new(virDomainPtr dom, const char *key)
{
	struct lv_call *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	if (dom) {
		virDomainRef(dom);
		c->dom = dom;
	}
	snprintf(c->key, sizeof(c->key), "%s", key ? key : "");
	return c;
}

int lv_worker_submit(struct lv_worker *w, struct lv_call *c,
		     uint64_t timeout_usec)
{
	uint64_t now = 0;
	pthread_t th;
	pthread_attr_t attr;
	int r;

	if (!w || w->stopping) {
		call_free(c);
		return -ESHUTDOWN;
	}
	c->w = w;
	sd_event_now(w->loop, CLOCK_MONOTONIC, &now);
	r = sd_event_add_time(w->loop, &c->timer, CLOCK_MONOTONIC,
			      now + timeout_usec, 1000, on_timeout, c);
	if (r < 0) {
		call_free(c);
		return r;
	}
	w->calls++;
	pthread_mutex_lock(&w->lock);
	c->seq = ++w->seq;
	{
		struct lv_call **p = &w->queue;

		while (*p)
			p = &(*p)->next;
		*p = c;
	}
	if (w->idle == 0 && w->threads < LV_WORKER_THREADS_MAX) {
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&th, &attr, thread_main, w) == 0) {
			w->threads++;
			w->refs++;
		} else if (w->threads == 0) {
			log_err("libvirt worker: cannot start a thread");
		}
		pthread_attr_destroy(&attr);
	}
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	return 0;
}

unsigned lv_worker_pending(const struct lv_worker *w, const char *key)
{
	unsigned n = 0;

	if (!w)
		return 0;
	pthread_mutex_lock((pthread_mutex_t *)&w->lock);
	for (const struct lv_call *c = w->queue; c; c = c->next)
		n += strcmp(c->key, key) == 0;
	for (const struct lv_call *c = w->running; c; c = c->next)
		n += strcmp(c->key, key) == 0 && !c->reported;
	pthread_mutex_unlock((pthread_mutex_t *)&w->lock);
	return n;
}

void lv_worker_stop(struct lv_worker *w)
{
	struct lv_call *queued, *done;
	bool last;

	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	queued = w->queue;
	w->queue = NULL;
	done = w->finished;
	w->finished = NULL;
	/* Calls still running are the threads' now: forget their timers. */
	for (struct lv_call *c = w->running; c; c = c->next) {
		c->timer = sd_event_source_disable_unref(c->timer);
		c->reported = true;
	}
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	w->wake = sd_event_source_disable_unref(w->wake);
	while (done) {
		struct lv_call *c = done;

		done = c->next;
		report(c);
		call_free(c);
	}
	while (queued) {
		struct lv_call *c = queued;

		queued = c->next;
		c->r = -ECANCELED;
		snprintf(c->err, sizeof(c->err), "the daemon is stopping");
		report(c);
		call_free(c);
	}
	/* Threads with a call that comes back soon finish it before the
	 * process goes on (libraries' exit handlers must not race with
	 * them); one stuck in a QEMU that does not answer is left. */
	pthread_mutex_lock(&w->lock);
	{
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += LV_WORKER_STOP_WAIT_S;
		while (w->threads &&
		       pthread_cond_timedwait(&w->cond, &w->lock, &until) == 0)
			;
		if (w->threads)
			log_warn("libvirt worker: %u call%s still waiting for "
				 "QEMU at shutdown",
				 w->threads, w->threads == 1 ? "" : "s");
	}
	worker_unref_locked(w, &last);
	pthread_mutex_unlock(&w->lock);
	if (last)
		worker_free(w);
}
