// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The Server-Sent Events parser of hactl watch: see hactl_sse.h.
 */
#include "hactl_sse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void sse_dispatch(struct hactl_sse *s)
{
	if (!s->data)
		return;
	s->on_event(s->event, s->data, s->userdata);
	free(s->data);
	s->data = NULL;
	s->data_len = 0;
	s->event[0] = '\0';
}

static void sse_line(struct hactl_sse *s, char *line)
{
	char *v = strchr(line, ':');

	if (!line[0]) {
		sse_dispatch(s);
		return;
	}
	if (line[0] == ':')
		return; /* comment (keepalive) */
	if (v) {
		*v++ = '\0';
		if (*v == ' ')
			v++;
	} else {
		v = line + strlen(line);
	}
	if (strcmp(line, "id") == 0) {
		snprintf(s->last_id, sizeof(s->last_id), "%s", v);
	} else if (strcmp(line, "event") == 0) {
		snprintf(s->event, sizeof(s->event), "%s", v);
	} else if (strcmp(line, "retry") == 0) {
		s->retry_ms = (unsigned)strtoul(v, NULL, 10);
	} else if (strcmp(line, "data") == 0) {
		size_t n = strlen(v);
		char *d = realloc(s->data, s->data_len + n + 2);

		if (!d)
			return;
		if (s->data_len)
			d[s->data_len++] = '\n';
		memcpy(d + s->data_len, v, n + 1);
		s->data_len += n;
		s->data = d;
	}
}

int hactl_sse_data(const char *data, size_t len, void *sse)
{
	struct hactl_sse *s = sse;

	for (size_t i = 0; i < len; i++) {
		if (data[i] == '\n') {
			if (s->len && s->line[s->len - 1] == '\r')
				s->len--;
			s->line[s->len] = '\0';
			sse_line(s, s->line);
			s->len = 0;
		} else if (s->len + 1 < sizeof(s->line)) {
			s->line[s->len++] = data[i];
		}
	}
	return 0;
}
