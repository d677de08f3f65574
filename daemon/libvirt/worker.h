/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libvirt calls that may wait for a guest's QEMU run here, not on the
 * daemon's loop: a QEMU that is stopped or hung must not stall the API or
 * the other VMs. A call is queued with a key (the domain's UUID) and a
 * timeout; worker threads run the calls, those with one key one after the
 * other in submission order, and the loop thread gets each result through
 * the call's done() callback: the call's own result, or -ETIMEDOUT once
 * its timeout passed (the call may still be running on its thread; its
 * late result is dropped). A thread stuck in a call stays with it, and
 * another thread serves the other keys, up to LV_WORKER_THREADS_MAX.
 *
 * The submitting side (lv_worker_*) and done(): loop thread only. run():
 * on a worker thread; it may touch only the call.
 */
#ifndef HA_LIBVIRT_WORKER_H
#define HA_LIBVIRT_WORKER_H

#include <libvirt/libvirt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#define LV_WORKER_THREADS_MAX 16
#define LV_CALL_KEY_LEN	      48
#define LV_CALL_ERR_LEN	      512

struct lv_worker;

struct lv_call {
	/* Filled by the submitter. */
	char key[LV_CALL_KEY_LEN];
	virDomainPtr dom; /* a reference the call owns (freed with it) */
	/* On a worker: 0, or -1 with libvirt's error set (its message goes
	 * to err), or -errno. */
	int (*run)(struct lv_call *c);
	/* On the loop, once: r is run()'s result as -errno (or
	 * -ETIMEDOUT), err says why for people. The call is freed after. */
	void (*done)(struct lv_call *c);
	void *opaque; /* for done() */
	const void *run_ctx; /* for run() */
	char *arg; /* free()d with the call */
	unsigned long ularg;
	/* Results. */
	char *reply; /* run() may set it (malloc'd); free()d with the call */
	int r;
	char err[LV_CALL_ERR_LEN];

	/* The worker's. */
	struct lv_worker *w;
	uint64_t seq;
	bool running, finished, reported;
	sd_event_source *timer;
	struct lv_call *next;
};

struct lv_worker {
	sd_event *loop;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct lv_call *queue; /* submitted, not yet taken (in order) */
	struct lv_call *running; /* taken by a thread */
	struct lv_call *finished; /* done on a thread, for the loop */
	int wake_fd;
	sd_event_source *wake;
	unsigned threads, idle;
	unsigned refs; /* the owner's and each thread's */
	uint64_t seq;
	bool stopping;
	/* Statistics (loop thread). */
	uint64_t calls, timeouts;
};

/* A worker with no thread yet (threads start on demand), or NULL. */
struct lv_worker *lv_worker_new(sd_event *loop);

/*
 * A new call for @dom (referenced; may be NULL) with key @key, or NULL
 * without memory. Set run, done, opaque and arg, then submit it.
 */
struct lv_call *lv_call_new(virDomainPtr dom, const char *key);

/* Queue @c; done() follows within @timeout_usec. 0, or -errno (the call
 * is freed, done() is not called). */
int lv_worker_submit(struct lv_worker *w, struct lv_call *c,
		     uint64_t timeout_usec);

/* Calls with @key queued or running (not yet reported). */
unsigned lv_worker_pending(const struct lv_worker *w, const char *key);

/*
 * Stop and release @w: calls still queued are reported as -ECANCELED;
 * idle threads exit; a thread stuck in a libvirt call finishes on its own
 * and frees its call (its done() is not called), the last one out frees
 * the worker. Accepts NULL.
 */
void lv_worker_stop(struct lv_worker *w);

#endif
