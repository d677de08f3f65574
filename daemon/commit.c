// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Group commit of the state file (see commit.h).
 *
 * The loop takes the text of the state (state_snapshot) and a writer
 * thread writes it: temporary file, fsync, rename, fsync of the
 * directory. The loop goes on serving meanwhile; the changes made during
 * a write, and the requests waiting for them, go with the next one. So a
 * flood of changes costs one write per fsync's time, however many
 * requests it answers, and readers never wait for the disk.
 *
 * Waiters are in two lists: "next" (their changes are not in a write
 * yet) and "flight" (the write under way has them). A write is started by
 * a deferred source, armed by the first change or waiter after the last
 * one; sd-event dispatches pending sources of one priority oldest first,
 * so a busy listener cannot starve it. The writer says it is done on an
 * eventfd, and the loop answers the flight list then.
 *
 * commit_now() is the synchronous path (gRPC, shut-down): it waits for
 * the write under way, then writes what is left on the loop thread.
 */
#include "commit.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "state.h"

struct commit_waiter {
	commit_done_fn fn;
	void *userdata;
};

struct waiter_list {
	struct commit_waiter *w;
	size_t n, cap;
};

struct commit {
	struct daemon *d;
	sd_event_source *defer, *done_src;
	int efd; /* the writer's "done" */
	struct waiter_list next, flight;
	bool in_flight; /* a write is under way (loop's view) */
	bool failing; /* the last write failed (logged once per run) */
	struct commit_stats stats;

	pthread_t thread;
	bool thread_started;
	pthread_mutex_t lock; /* the fields below */
	pthread_cond_t cond;
	char *job; /* text to write, NULL: none */
	const char *job_path;
	bool job_done; /* job written (or failed), result in job_result */
	int job_result;
	bool quit;
};

/* ---- the writer thread ---- */

static void *writer_main(void *arg)
{
	struct commit *c = arg;
	static const uint64_t one = 1;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (!c->quit && (!c->job || c->job_done))
			pthread_cond_wait(&c->cond, &c->lock);
		if (c->quit)
			break;
		const char *text = c->job, *path = c->job_path;
		int r;

		pthread_mutex_unlock(&c->lock);
		r = state_write_text(path, text);
		pthread_mutex_lock(&c->lock);
		c->job_result = r;
		c->job_done = true;
		pthread_cond_broadcast(&c->cond);
		/* EAGAIN: the counter is full, the loop is awake anyway. */
		if (write(c->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			log_err("commit: cannot wake the loop: %s",
				strerror(errno));
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* ---- waiters ---- */

static int list_add(struct waiter_list *l, commit_done_fn fn, void *userdata)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		struct commit_waiter *w = realloc(l->w, cap * sizeof(*w));

		if (!w)
			return -ENOMEM;
		l->w = w;
		l->cap = cap;
	}
	l->w[l->n++] = (struct commit_waiter){ fn, userdata };
	return 0;
}

/* Answer every waiter of @l with @result; @l is empty after. A waiter
 * may make changes and wait again: it goes into a fresh list. */
static void list_answer(struct commit *c, struct waiter_list *l, int result)
{
	struct waiter_list taken = *l;

	*l = (struct waiter_list){ 0 };
	for (size_t i = 0; i < taken.n; i++)
		taken.w[i].fn(taken.w[i].userdata, result);
	c->stats.waiters += taken.n;
	free(taken.w);
}

static void list_forget(struct waiter_list *l, void *userdata)
{
	size_t j = 0;

	for (size_t i = 0; i < l->n; i++)
		if (l->w[i].userdata != userdata)
			l->w[j++] = l->w[i];
	l->n = j;
}

/* ---- the loop side ---- */

static void note_result(struct commit *c, int r)
{
	if (r < 0) {
		c->stats.failures++;
		if (!c->failing)
			daemon_error(c->d, NULL,
				     "cannot write the state file: %s; the "
				     "changes are applied but would be lost "
				     "in a restart",
				     strerror(-r));
		c->failing = true;
		state_mark_dirty(c->d->state);
	} else {
		c->stats.flushes++;
		if (c->failing)
			log_info("the state file is written again");
		c->failing = false;
	}
}

static void arm(struct commit *c)
{
	if (sd_event_source_set_enabled(c->defer, SD_EVENT_ONESHOT) < 0)
		(void)commit_now(c); /* no deferred start: write now */
}

/* Start a write of what changed, or answer waiters with nothing to
 * wait for. Nothing while a write is under way: its end comes back
 * here. */
static void start(struct commit *c)
{
	const char *path = state_path(c->d->state);
	char *text;
	int r;

	if (c->in_flight)
		return;
	if (!state_dirty(c->d->state) || !path) {
		list_answer(c, &c->next, 0);
		return;
	}
	r = state_snapshot(c->d->state, &text);
	if (r < 0) {
		list_answer(c, &c->next, r);
		return;
	}
	c->flight = c->next;
	c->next = (struct waiter_list){ 0 };
	c->in_flight = true;
	pthread_mutex_lock(&c->lock);
	free(c->job);
	c->job = text;
	c->job_path = path;
	c->job_done = false;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

/* The write under way is done: take its result, answer its waiters. */
static int end_flight(struct commit *c)
{
	int r;

	pthread_mutex_lock(&c->lock);
	r = c->job_result;
	free(c->job);
	c->job = NULL;
	pthread_mutex_unlock(&c->lock);
	c->in_flight = false;
	note_result(c, r);
	list_answer(c, &c->flight, r);
	return r;
}

/* The write under way ended: answer its waiters, and start the next if
 * more came. */
static void finish(struct commit *c)
{
	int r = end_flight(c);

	/* After a failure, only new changes or waiters try again: a disk
	 * that stays broken must not spin the loop. */
	if (c->next.n || (r == 0 && state_dirty(c->d->state)))
		arm(c);
}

static bool job_done(struct commit *c)
{
	bool done;

	pthread_mutex_lock(&c->lock);
	done = c->job_done;
	pthread_mutex_unlock(&c->lock);
	return done;
}

static int on_done(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct commit *c = userdata;
	uint64_t count;

	(void)s;
	(void)revents;
	if (read(fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_warn("commit: eventfd: %s", strerror(errno));
	if (c->in_flight && job_done(c))
		finish(c);
	return 0;
}

static int on_defer(sd_event_source *s, void *userdata)
{
	(void)s;
	start(userdata);
	return 0;
}

int commit_new(struct daemon *d, struct commit **ret)
{
	struct commit *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	c->d = d;
	c->efd = -1;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->efd < 0) {
		r = -errno;
		goto fail;
	}
	r = sd_event_add_defer(d->loop, &c->defer, on_defer, c);
	if (r < 0)
		goto fail;
	(void)sd_event_source_set_enabled(c->defer, SD_EVENT_OFF);
	(void)sd_event_source_set_description(c->defer, "state-commit");
	r = sd_event_add_io(d->loop, &c->done_src, c->efd, EPOLLIN, on_done, c);
	if (r < 0)
		goto fail;
	(void)sd_event_source_set_description(c->done_src, "state-written");
	r = -pthread_create(&c->thread, NULL, writer_main, c);
	if (r < 0)
		goto fail;
	c->thread_started = true;
	*ret = c;
	return 0;
fail:
	commit_free(c);
	return r;
}

void commit_free(struct commit *c)
{
	if (!c)
		return;
	(void)commit_now(c);
	if (c->thread_started) {
		pthread_mutex_lock(&c->lock);
		c->quit = true;
		pthread_cond_broadcast(&c->cond);
		pthread_mutex_unlock(&c->lock);
		pthread_join(c->thread, NULL);
	}
	sd_event_source_disable_unref(c->defer);
	sd_event_source_disable_unref(c->done_src);
	if (c->efd >= 0)
		close(c->efd);
	free(c->job);
	free(c->next.w);
	free(c->flight.w);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

void commit_changed(struct commit *c)
{
	if (c && state_dirty(c->d->state) && !c->in_flight)
		arm(c);
}

bool commit_pending(const struct commit *c)
{
	return c && (c->in_flight || state_dirty(c->d->state));
}

int commit_wait(struct commit *c, commit_done_fn fn, void *userdata)
{
	int r = list_add(&c->next, fn, userdata);

	if (r == 0 && !c->in_flight)
		arm(c);
	return r;
}

void commit_forget(struct commit *c, void *userdata)
{
	if (!c)
		return;
	list_forget(&c->next, userdata);
	list_forget(&c->flight, userdata);
}

int commit_now(struct commit *c)
{
	int r = 0;

	if (!c)
		return 0;
	if (c->in_flight) {
		pthread_mutex_lock(&c->lock);
		while (!c->job_done)
			pthread_cond_wait(&c->cond, &c->lock);
		pthread_mutex_unlock(&c->lock);
		r = end_flight(c);
	}
	if (state_dirty(c->d->state)) {
		r = state_flush(c->d->state);
		note_result(c, r);
	}
	(void)sd_event_source_set_enabled(c->defer, SD_EVENT_OFF);
	list_answer(c, &c->next, r);
	return r;
}

void commit_get_stats(const struct commit *c, struct commit_stats *ret)
{
	*ret = c ? c->stats : (struct commit_stats){ 0 };
}
