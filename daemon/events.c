// SPDX-License-Identifier: GPL-2.0-or-later
#include "events.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "text.h"

static const char *const type_names[EV_TYPE_COUNT] = {
	[EV_VM_ADDED] = "vm_added",
	[EV_VM_REMOVED] = "vm_removed",
	[EV_TARGET_CHANGED] = "target_changed",
	[EV_RECLAIM_DONE] = "reclaim_done",
	[EV_VM_QUARANTINED] = "vm_quarantined",
	[EV_VM_STUCK] = "vm_stuck",
	[EV_POLICY_CHANGED] = "policy_changed",
	[EV_CONFIG_RELOADED] = "config_reloaded",
	/* Not "error": EventSource fires its own "error" on connection
	 * losses, and a listener for ours would get both. */
	[EV_ERROR] = "daemon_error",
};

const char *event_type_to_string(enum event_type t)
{
	if ((unsigned)t >= EV_TYPE_COUNT)
		return "unknown";
	return type_names[t];
}

void event_bus_init(struct event_bus *bus)
{
	uint64_t r = 0;
	struct timespec ts;

	memset(bus, 0, sizeof(*bus));
	bus->next_seq = 1;
	/* Only distinct from the runs before matters: without entropy yet,
	 * the clock and the pid do. */
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
		clock_gettime(CLOCK_REALTIME, &ts);
		r = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
		r ^= (uint64_t)getpid() << 48;
	}
	snprintf(bus->run, sizeof(bus->run), "%016llx", (unsigned long long)r);
}

const char *event_format_id(const struct event *ev, char *buf, size_t len)
{
	snprintf(buf, len, "%s-%llu", ev->run, (unsigned long long)ev->seq);
	return buf;
}

void event_publish(struct event_bus *bus, struct event *ev)
{
	struct timespec ts;

	/* Events go out as JSON: their texts must be valid UTF-8. */
	text_utf8_fix(ev->message);
	text_utf8_fix(ev->vm);
	clock_gettime(CLOCK_REALTIME, &ts);
	ev->seq = bus->next_seq++;
	memcpy(ev->run, bus->run, sizeof(ev->run));
	if ((unsigned)ev->type < EV_TYPE_COUNT)
		bus->published[ev->type]++;
	ev->time_usec =
		(uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
	bus->ring[ev->seq % EVENT_RING] = *ev;
	for (int i = 0; i < EVENT_SUBSCRIBERS_MAX; i++)
		if (bus->subs[i].fn)
			bus->subs[i].fn(ev, bus->subs[i].userdata);
}

int event_subscribe(struct event_bus *bus, event_fn fn, void *userdata)
{
	for (int i = 0; i < EVENT_SUBSCRIBERS_MAX; i++) {
		if (!bus->subs[i].fn) {
			bus->subs[i].fn = fn;
			bus->subs[i].userdata = userdata;
			return i;
		}
	}
	return -ENOSPC;
}

void event_unsubscribe(struct event_bus *bus, int handle)
{
	if (handle >= 0 && handle < EVENT_SUBSCRIBERS_MAX) {
		bus->subs[handle].fn = NULL;
		bus->subs[handle].userdata = NULL;
	}
}

const struct event *event_get(const struct event_bus *bus, uint64_t seq)
{
	const struct event *ev;

	if (seq == 0 || seq >= bus->next_seq)
		return NULL;
	ev = &bus->ring[seq % EVENT_RING];
	return ev->seq == seq ? ev : NULL;
}

void event_vm(struct event_bus *bus, enum event_type t, const struct vm *vm,
	      const char *fmt, ...)
{
	struct event ev = { .type = t };
	va_list ap;

	if (vm) {
		snprintf(ev.vm, sizeof(ev.vm), "%s", vm->id);
		ev.target_bytes = vm->mem.target_bytes;
		ev.current_bytes = vm->mem.current_bytes;
		snprintf(ev.source, sizeof(ev.source), "%s",
			 vm_target_source_to_string(vm->mem.target_source));
	}
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(ev.message, sizeof(ev.message), fmt, ap);
		va_end(ap);
	}
	event_publish(bus, &ev);
}

const char *event_format_time(uint64_t usec, char *buf, size_t len)
{
	time_t secs = (time_t)(usec / 1000000);
	unsigned ms = (unsigned)(usec % 1000000 / 1000);
	struct tm tm;
	char date[24];

	if (!gmtime_r(&secs, &tm) ||
	    !strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm)) {
		snprintf(buf, len, "1970-01-01T00:00:00.000Z");
		return buf;
	}
	snprintf(buf, len, "%s.%03uZ", date, ms);
	return buf;
}
