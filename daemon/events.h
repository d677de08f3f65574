/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The event bus: everything that happens to a VM or to the daemon, kept in
 * a ring of recent events and pushed to subscribers (SSE streams, gRPC
 * WatchEvents, the log). Loop thread only.
 */
#ifndef HA_EVENTS_H
#define HA_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "vm.h"

enum event_type {
	EV_VM_ADDED = 0,
	EV_VM_REMOVED,
	EV_TARGET_CHANGED,
	EV_RECLAIM_DONE,
	EV_VM_QUARANTINED,
	EV_VM_STUCK,
	EV_POLICY_CHANGED,
	EV_CONFIG_RELOADED,
	EV_ERROR, /* "daemon_error" on the wire */
	EV_TYPE_COUNT,
};

/* A run of the daemon: 16 lower-case hex digits, random per start. */
#define EVENT_RUN_LEN 17

struct event {
	uint64_t seq; /* 1, 2, ... per daemon run */
	char run[EVENT_RUN_LEN]; /* the run it was published in */
	uint64_t time_usec; /* CLOCK_REALTIME */
	enum event_type type;
	char vm[VM_ID_MAX]; /* empty for host-wide events */
	uint64_t target_bytes; /* TARGET_CHANGED, RECLAIM_DONE */
	uint64_t current_bytes; /* RECLAIM_DONE */
	uint64_t bytes; /* RECLAIM_DONE: bytes moved */
	uint64_t duration_us; /* RECLAIM_DONE: request to completion */
	char source[16]; /* TARGET_CHANGED: "policy" / "manual" */
	char message[256]; /* human text; the reason for errors */
};

typedef void (*event_fn)(const struct event *ev, void *userdata);

#define EVENT_RING	      1024
#define EVENT_SUBSCRIBERS_MAX 64

struct event_bus {
	struct event ring[EVENT_RING];
	uint64_t next_seq;
	char run[EVENT_RUN_LEN]; /* this run's id, set by event_bus_init */
	uint64_t published[EV_TYPE_COUNT]; /* events of each type so far */
	struct {
		event_fn fn;
		void *userdata;
	} subs[EVENT_SUBSCRIBERS_MAX];
};

/* Empty the bus and give it a fresh random run id. */
void event_bus_init(struct event_bus *bus);

/* Fill seq, run and time, store, call every subscriber. */
void event_publish(struct event_bus *bus, struct event *ev);

/* Subscribe; returns a handle >= 0, or -ENOSPC. */
int event_subscribe(struct event_bus *bus, event_fn fn, void *userdata);
void event_unsubscribe(struct event_bus *bus, int handle);

/* The stored event with sequence @seq, or NULL if it has left the ring
 * or does not exist yet. */
const struct event *event_get(const struct event_bus *bus, uint64_t seq);

/* Sequence number the next event will get. */
static inline uint64_t event_next_seq(const struct event_bus *bus)
{
	return bus->next_seq;
}

const char *event_type_to_string(enum event_type t);

/* An event's id as SSE sends it, "<run>-<seq>" ("3f09a1c2d4e5b607-42"),
 * into @buf (at least EVENT_ID_LEN bytes). Returns @buf. */
#define EVENT_ID_LEN (EVENT_RUN_LEN + 21)
const char *event_format_id(const struct event *ev, char *buf, size_t len);

/* The API's timestamps (events, a VM's updated_at, in JSON and gRPC):
 * RFC 3339 UTC with milliseconds ("2026-11-26T10:00:00.000Z") of a
 * CLOCK_REALTIME time in microseconds. Returns @buf (at least 32 bytes). */
const char *event_format_time(uint64_t usec, char *buf, size_t len);

/* Helpers that build and publish the common events. */
void event_vm(struct event_bus *bus, enum event_type t, const struct vm *vm,
	      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
