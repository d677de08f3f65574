// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The HTTP/1.1 client of hactl (see http_client.h): just enough of the
 * protocol to talk to hyperallocd, written out so hactl needs no libcurl.
 */
#include "http_client.h"

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define READ_TIMEOUT_S 30
#define LINE_MAX_LEN   8192

struct conn {
	int fd;
	char buf[16384];
	size_t start, end;
};

struct head {
	int status;
	bool chunked, has_length;
	uint64_t length;
	char content_type[128];
};

static void set_err(char *err, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!err || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

int http_client_target_url(const char *url, struct http_client_target *t)
{
	const char *p, *end, *colon;
	size_t n;

	memset(t->host, 0, sizeof(t->host));
	t->socket_path[0] = '\0';
	if (strncasecmp(url, "http://", 7) != 0)
		return -EINVAL;
	p = url + 7;
	end = p + strcspn(p, "/");
	if (*end && strcmp(end, "/") != 0)
		return -EINVAL; /* the API lives at the root */
	if (*p == '[') {
		const char *close = memchr(p, ']', (size_t)(end - p));

		if (!close)
			return -EINVAL;
		n = (size_t)(close - p - 1);
		if (n == 0 || n >= sizeof(t->host))
			return -EINVAL;
		memcpy(t->host, p + 1, n);
		colon = close + 1 < end && close[1] == ':' ? close + 1 : NULL;
		if (!colon && close + 1 != end)
			return -EINVAL;
	} else {
		colon = memchr(p, ':', (size_t)(end - p));
		n = (size_t)((colon ? colon : end) - p);
		if (n == 0 || n >= sizeof(t->host))
			return -EINVAL;
		memcpy(t->host, p, n);
	}
	if (colon) {
		n = (size_t)(end - colon - 1);
		if (n == 0 || n >= sizeof(t->port) ||
		    strspn(colon + 1, "0123456789") < n)
			return -EINVAL;
		memcpy(t->port, colon + 1, n);
		t->port[n] = '\0';
		if (strtoul(t->port, NULL, 10) > 65535)
			return -EINVAL;
	} else {
		strcpy(t->port, "80");
	}
	return 0;
}

const char *http_client_target_name(const struct http_client_target *t,
				    char *buf, size_t len)
{
	if (t->socket_path[0])
		snprintf(buf, len, "unix socket %s", t->socket_path);
	else if (strchr(t->host, ':'))
		snprintf(buf, len, "http://[%s]:%s", t->host, t->port);
	else
		snprintf(buf, len, "http://%s:%s", t->host, t->port);
	return buf;
}

static int connect_target(const struct http_client_target *t, char *err,
			  size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	char name[400];
	int fd = -1, r;

	http_client_target_name(t, name, sizeof(name));
	if (t->socket_path[0]) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		if (strlen(t->socket_path) >= sizeof(sa.sun_path)) {
			set_err(err, errlen, "socket path too long: %s",
				t->socket_path);
			return -ENAMETOOLONG;
		}
		strcpy(sa.sun_path, t->socket_path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			r = -errno;
			set_err(err, errlen, "cannot connect to %s: %s", name,
				strerror(-r));
			close(fd);
			return r;
		}
		return fd;
	}
	r = getaddrinfo(t->host, t->port, &hints, &res);
	if (r != 0) {
		set_err(err, errlen, "cannot resolve %s: %s", t->host,
			gai_strerror(r));
		return -EHOSTUNREACH;
	}
	r = -ECONNREFUSED;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0) {
			r = -errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		r = -errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		set_err(err, errlen, "cannot connect to %s: %s", name,
			strerror(-r));
		return r;
	}
	return fd;
}

static int send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int send_request(int fd, const struct http_client_target *t,
			const char *method, const char *path,
			const char *headers, const char *body)
{
	char *req = NULL;
	char auth[300] = "", host[300];
	int n, r;

	if (t->socket_path[0])
		snprintf(host, sizeof(host), "localhost");
	else if (strchr(t->host, ':'))
		snprintf(host, sizeof(host), "[%s]:%s", t->host, t->port);
	else
		snprintf(host, sizeof(host), "%s:%s", t->host, t->port);
	if (t->token[0])
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s\r\n",
			 t->token);
	if (body)
		n = asprintf(&req,
			     "%s %s HTTP/1.1\r\nHost: %s\r\n"
			     "User-Agent: hactl\r\nConnection: close\r\n%s%s"
			     "Content-Type: application/json\r\n"
			     "Content-Length: %zu\r\n\r\n%s",
			     method, path, host, auth, headers ? headers : "",
			     strlen(body), body);
	else
		n = asprintf(&req,
			     "%s %s HTTP/1.1\r\nHost: %s\r\n"
			     "User-Agent: hactl\r\nConnection: close\r\n%s%s"
			     "\r\n",
			     method, path, host, auth, headers ? headers : "");
	if (n < 0)
		return -ENOMEM;
	r = send_all(fd, req, (size_t)n);
	free(req);
	return r;
}

/* Read more bytes into the buffer. >0, 0 at EOF, or -errno. */
static int conn_fill(struct conn *c)
{
	ssize_t n;

	if (c->start == c->end) {
		c->start = c->end = 0;
	} else if (c->start > 0) {
		memmove(c->buf, c->buf + c->start, c->end - c->start);
		c->end -= c->start;
		c->start = 0;
	}
	if (c->end == sizeof(c->buf))
		return -EPROTO; /* a line longer than the buffer */
	do
		n = read(c->fd, c->buf + c->end, sizeof(c->buf) - c->end);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT :
								 -errno;
	c->end += (size_t)n;
	return (int)n;
}

/* One line without its CRLF into @out. -EPROTO at EOF or if too long. */
static int conn_line(struct conn *c, char *out, size_t len)
{
	for (;;) {
		char *nl = memchr(c->buf + c->start, '\n', c->end - c->start);
		int r;

		if (nl) {
			size_t n = (size_t)(nl - (c->buf + c->start));

			if (n && nl[-1] == '\r')
				n--;
			if (n >= len)
				return -EPROTO;
			memcpy(out, c->buf + c->start, n);
			out[n] = '\0';
			c->start = (size_t)(nl + 1 - c->buf);
			return 0;
		}
		r = conn_fill(c);
		if (r <= 0)
			return r < 0 ? r : -EPROTO;
	}
}

/* Pass @n bytes (or all until EOF if @to_eof) to @fn. */
static int conn_take(struct conn *c, uint64_t n, bool to_eof,
		     http_client_data_fn fn, void *ud)
{
	while (to_eof || n > 0) {
		size_t have = c->end - c->start;
		int r;

		if (have == 0) {
			r = conn_fill(c);
			if (r < 0)
				return r;
			if (r == 0)
				return to_eof ? 0 : -EPROTO;
			continue;
		}
		if (!to_eof && have > n)
			have = (size_t)n;
		r = fn(c->buf + c->start, have, ud);
		c->start += have;
		if (!to_eof)
			n -= have;
		if (r)
			return r;
	}
	return 0;
}

static int read_head(struct conn *c, struct head *h)
{
	char line[LINE_MAX_LEN];
	int r;

	do {
		memset(h, 0, sizeof(*h));
		r = conn_line(c, line, sizeof(line));
		if (r < 0)
			return r;
		if (sscanf(line, "HTTP/1.%*1[01] %3d", &h->status) != 1 ||
		    h->status < 100)
			return -EPROTO;
		for (;;) {
			char *v;

			r = conn_line(c, line, sizeof(line));
			if (r < 0)
				return r;
			if (!line[0])
				break;
			v = strchr(line, ':');
			if (!v)
				return -EPROTO;
			*v++ = '\0';
			v += strspn(v, " \t");
			if (strcasecmp(line, "Content-Length") == 0) {
				h->has_length = true;
				h->length = strtoull(v, NULL, 10);
			} else if (strcasecmp(line, "Transfer-Encoding") == 0) {
				h->chunked = strcasestr(v, "chunked") != NULL;
			} else if (strcasecmp(line, "Content-Type") == 0) {
				snprintf(h->content_type,
					 sizeof(h->content_type), "%s", v);
			}
		}
	} while (h->status < 200); /* 100 Continue and friends */
	return 0;
}

static int read_body(struct conn *c, const struct head *h, const char *method,
		     http_client_data_fn fn, void *ud)
{
	char line[LINE_MAX_LEN];
	int r;

	if (strcmp(method, "HEAD") == 0 || h->status == 204 || h->status == 304)
		return 0;
	if (!h->chunked)
		return conn_take(c, h->length, !h->has_length, fn, ud);
	for (;;) {
		char *end;
		uint64_t size;

		r = conn_line(c, line, sizeof(line));
		if (r < 0)
			return r;
		size = strtoull(line, &end, 16);
		if (end == line)
			return -EPROTO;
		if (size == 0)
			break;
		r = conn_take(c, size, false, fn, ud);
		if (r)
			return r;
		r = conn_line(c, line, sizeof(line));
		if (r < 0)
			return r;
		if (line[0])
			return -EPROTO;
	}
	/* trailers, up to the empty line */
	do
		r = conn_line(c, line, sizeof(line));
	while (r == 0 && line[0]);
	return r;
}

struct buffer {
	char *data;
	size_t len;
};

static int buffer_append(const char *data, size_t len, void *ud)
{
	struct buffer *b = ud;
	char *p;

	if (b->len + len > HTTP_CLIENT_MAX_BODY)
		return -EFBIG;
	p = realloc(b->data, b->len + len + 1);
	if (!p)
		return -ENOMEM;
	memcpy(p + b->len, data, len);
	b->len += len;
	p[b->len] = '\0';
	b->data = p;
	return 0;
}

static void fill_response(struct http_client_response *ret,
			  const struct head *h, struct buffer *b)
{
	memset(ret, 0, sizeof(*ret));
	ret->status = h->status;
	snprintf(ret->content_type, sizeof(ret->content_type), "%s",
		 h->content_type);
	if (!b->data)
		b->data = calloc(1, 1);
	ret->body = b->data;
	ret->body_len = b->len;
}

static void body_error(int r, char *err, size_t errlen)
{
	if (r == -EPROTO)
		set_err(err, errlen, "malformed answer from the daemon");
	else if (r == -ETIMEDOUT)
		set_err(err, errlen, "the daemon did not answer in %d s",
			READ_TIMEOUT_S);
	else if (r == -EFBIG)
		set_err(err, errlen, "answer larger than %u bytes",
			HTTP_CLIENT_MAX_BODY);
	else
		set_err(err, errlen, "reading the answer: %s", strerror(-r));
}

static int exchange(const struct http_client_target *t, const char *method,
		    const char *path, const char *headers, const char *body,
		    bool stream, http_client_data_fn fn, void *ud,
		    struct http_client_response *ret, char *err, size_t errlen)
{
	struct timeval tv = { .tv_sec = READ_TIMEOUT_S };
	struct buffer b = { 0 };
	struct conn *c;
	struct head h;
	int fd, r;

	fd = connect_target(t, err, errlen);
	if (fd < 0)
		return fd;
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	c->fd = fd;
	if (!stream)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	r = send_request(fd, t, method, path, headers, body);
	if (r < 0) {
		set_err(err, errlen, "sending the request: %s", strerror(-r));
		goto cleanup;
	}
	r = read_head(c, &h);
	if (r < 0) {
		body_error(r, err, errlen);
		goto cleanup;
	}
	if (stream && h.status == 200) {
		r = read_body(c, &h, method, fn, ud);
		if (r < 0)
			body_error(r, err, errlen);
		memset(ret, 0, sizeof(*ret));
		ret->status = h.status;
		goto cleanup;
	}
	r = read_body(c, &h, method, buffer_append, &b);
	if (r < 0) {
		body_error(r, err, errlen);
		free(b.data);
		goto cleanup;
	}
	fill_response(ret, &h, &b);
cleanup:
	close(fd);
	free(c);
	return r;
}

int http_client_request(const struct http_client_target *t, const char *method,
			const char *path, const char *body,
			struct http_client_response *ret, char *err,
			size_t errlen)
{
	return exchange(t, method, path, NULL, body, false, NULL, NULL, ret,
			err, errlen);
}

int http_client_stream(const struct http_client_target *t, const char *path,
		       const char *headers, http_client_data_fn fn,
		       void *userdata, struct http_client_response *ret,
		       char *err, size_t errlen)
{
	return exchange(t, "GET", path, headers, NULL, true, fn, userdata, ret,
			err, errlen);
}

void http_client_response_free(struct http_client_response *r)
{
	if (!r)
		return;
	free(r->body);
	r->body = NULL;
	r->body_len = 0;
}
