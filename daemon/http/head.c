// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Pure checks of HTTP/1.x request heads (see http/head.h). The grammar
 * is RFC 9112's, read the way libmicrohttpd 0.9.75 reads it where the
 * two could differ on a request it then serves: header values start
 * after the whitespace that follows the colon and keep whatever trails,
 * "chunked" is compared without case, a bare LF ends a line. Where
 * libmicrohttpd is lenient and the RFC lets a server refuse (a space in
 * the request target, whitespace before a colon, obsolete line folding,
 * a bare CR), this refuses.
 */
#include "http/head.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define U64_MAX_TEXT "18446744073709551615"

static bool is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* A control character other than HT (a bare CR, NUL, ...) or DEL. */
static bool is_ctl(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

/* Copy @len bytes of @in to @out for a refusal: printable ASCII as it
 * is, every other byte as \xNN; cut to fit, never inside an escape. */
static void quote(char *out, size_t size, const char *in, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c >= 0x20 && c < 0x7f) {
			if (o + 1 >= size)
				break;
			out[o++] = (char)c;
		} else {
			if (o + 4 >= size)
				break;
			snprintf(out + o, size - o, "\\x%02x", c);
			o += 4;
		}
	}
	out[o] = '\0';
}

static const char *title_of(unsigned status)
{
	switch (status) {
	case 408:
		return "Request Timeout";
	case 413:
		return "Content Too Large";
	case 414:
		return "URI Too Long";
	case 415:
		return "Unsupported Media Type";
	case 431:
		return "Request Header Fields Too Large";
	case 501:
		return "Not Implemented";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Bad Request";
	}
}

static void refuse(struct http_refusal *ret, unsigned status, const char *field,
		   const char *value, size_t value_len, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

static void refuse(struct http_refusal *ret, unsigned status, const char *field,
		   const char *value, size_t value_len, const char *fmt, ...)
{
	va_list ap;

	memset(ret, 0, sizeof(*ret));
	ret->status = status;
	ret->title = title_of(status);
	snprintf(ret->field, sizeof(ret->field), "%s", field ? field : "");
	if (value)
		quote(ret->value, sizeof(ret->value), value, value_len);
	va_start(ap, fmt);
	vsnprintf(ret->detail, sizeof(ret->detail), fmt, ap);
	va_end(ap);
}

static bool name_is(const char *name, size_t len, const char *want)
{
	return len == strlen(want) && strncasecmp(name, want, len) == 0;
}

/* ---- framing ---- */

/* @v (@len bytes) as a Content-Length: 0 and *ret, -1 if it is not
 * 1*DIGIT, -2 if it does not fit 64 bits. */
static int parse_length(const char *v, size_t len, uint64_t *ret)
{
	uint64_t n = 0;

	if (!len)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (v[i] < '0' || v[i] > '9')
			return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned)(v[i] - '0');

		if (n > (UINT64_MAX - d) / 10)
			return -2;
		n = n * 10 + d;
	}
	*ret = n;
	return 0;
}

void http_framing_field(struct http_framing *f, const char *name,
			size_t name_len, const char *value, size_t value_len)
{
	bool token = name_len > 0;

	for (size_t i = 0; i < name_len && token; i++)
		token = is_tchar((unsigned char)name[i]);
	if (!token) {
		if (!f->has_bad_name)
			quote(f->bad_name, sizeof(f->bad_name), name, name_len);
		f->has_bad_name = true;
		return;
	}
	if (name_is(name, name_len, "Content-Length")) {
		uint64_t n = 0;
		int r = parse_length(value, value_len, &n);

		f->lengths++;
		if (r < 0) {
			if (!f->length_bad && !f->length_overflow)
				quote(f->length_text, sizeof(f->length_text),
				      value, value_len);
			if (r == -1)
				f->length_bad = true;
			else
				f->length_overflow = true;
		} else if (!f->has_length) {
			f->has_length = true;
			f->length = n;
			quote(f->first_length, sizeof(f->first_length), value,
			      value_len);
		} else if (n != f->length && !f->length_differs) {
			f->length_differs = true;
			quote(f->other_length, sizeof(f->other_length), value,
			      value_len);
		}
	} else if (name_is(name, name_len, "Transfer-Encoding")) {
		if (f->codings++ == 0)
			quote(f->coding, sizeof(f->coding), value, value_len);
		f->coding_chunked = f->codings == 1 && value_len == 7 &&
				    strncasecmp(value, "chunked", 7) == 0;
	}
}

bool http_framing_refused(const struct http_framing *f,
			  struct http_refusal *ret)
{
	const char *cl = "Content-Length", *te = "Transfer-Encoding";

	if (f->has_bad_name) {
		refuse(ret, 400, f->bad_name, NULL, 0,
		       "header field name \"%s\" is not a token: whitespace or "
		       "a control character before the colon would make its "
		       "name unclear",
		       f->bad_name);
		return true;
	}
	if (f->length_bad) {
		refuse(ret, 400, cl, f->length_text, strlen(f->length_text),
		       "Content-Length \"%s\" is not a number of bytes",
		       f->length_text);
		return true;
	}
	if (f->length_overflow) {
		refuse(ret, 413, cl, f->length_text, strlen(f->length_text),
		       "Content-Length %s is above " U64_MAX_TEXT,
		       f->length_text);
		return true;
	}
	if (f->length_differs) {
		refuse(ret, 400, cl, f->other_length, strlen(f->other_length),
		       "two different Content-Length values, %s and %s: where "
		       "the body ends would be ambiguous",
		       f->first_length, f->other_length);
		return true;
	}
	if (!f->codings)
		return false;
	if (f->codings > 1) {
		refuse(ret, 400, te, NULL, 0,
		       "more than one Transfer-Encoding field");
		return true;
	}
	if (f->lengths) {
		refuse(ret, 400, te, f->coding, strlen(f->coding),
		       "both Content-Length and Transfer-Encoding: where the "
		       "body ends would be ambiguous (RFC 9112, section 6.1)");
		return true;
	}
	if (f->http10) {
		refuse(ret, 400, te, f->coding, strlen(f->coding),
		       "Transfer-Encoding in an HTTP/1.0 request (RFC 9112, "
		       "section 6.1)");
		return true;
	}
	if (!f->coding_chunked) {
		refuse(ret, 501, te, f->coding, strlen(f->coding),
		       "Transfer-Encoding \"%s\" is not supported: send the "
		       "body with Content-Length, or chunked",
		       f->coding);
		return true;
	}
	return false;
}

/* ---- media type ---- */

static const char *skip_ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static const char *skip_token(const char *p)
{
	while (is_tchar((unsigned char)*p))
		p++;
	return p;
}

bool http_content_type_refused(const char *value, struct http_refusal *ret)
{
	const char *ct = "Content-Type";
	const char *p, *type, *slash, *end;

	if (!value)
		return false;
	p = skip_ows(value);
	type = p;
	slash = skip_token(type);
	end = *slash == '/' && slash > type ? skip_token(slash + 1) : slash;
	if (end == slash) {
		refuse(ret, 415, ct, value, strlen(value),
		       "Content-Type is not a media type: request bodies are "
		       "JSON (application/json)");
		return true;
	}
	if (!name_is(type, (size_t)(end - type), "application/json")) {
		char shown[64];

		quote(shown, sizeof(shown), type, (size_t)(end - type));
		refuse(ret, 415, ct, type, (size_t)(end - type),
		       "Content-Type %s is not accepted: request bodies are "
		       "JSON (application/json)",
		       shown);
		return true;
	}
	/* Parameters: ; name=token or ; name="quoted". Only charset
	 * matters: JSON is UTF-8 (RFC 8259). */
	p = skip_ows(end);
	while (*p == ';') {
		const char *name = skip_ows(p + 1),
			   *name_end = skip_token(name);
		const char *v, *v_end;

		if (name_end == name || *name_end != '=')
			break;
		v = name_end + 1;
		if (*v == '"') {
			v++;
			v_end = strchr(v, '"');
			if (!v_end)
				break;
			p = v_end + 1;
		} else {
			v_end = skip_token(v);
			p = v_end;
		}
		if (name_is(name, (size_t)(name_end - name), "charset") &&
		    !name_is(v, (size_t)(v_end - v), "utf-8")) {
			char shown[40];

			quote(shown, sizeof(shown), v, (size_t)(v_end - v));
			refuse(ret, 415, ct, value, strlen(value),
			       "charset %s is not accepted: JSON request "
			       "bodies are UTF-8",
			       shown);
			return true;
		}
		p = skip_ows(p);
	}
	if (*p) {
		refuse(ret, 415, ct, value, strlen(value),
		       "Content-Type has malformed parameters: expected "
		       "application/json, optionally with ; charset=utf-8");
		return true;
	}
	return false;
}

/* ---- the first request's head ---- */

/* A control character in @len bytes at @s other than HT, and other than
 * a CR that ends them (@cr_at_end: the CR of a CRLF, or the last byte
 * received so far, which may be one). Its offset, or -1. */
static long find_ctl(const char *s, size_t len, bool cr_at_end)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\r' && cr_at_end && i + 1 == len)
			continue;
		if (is_ctl(c))
			return (long)i;
	}
	return -1;
}

static enum http_head_verdict
ctl_refused(struct http_refusal *ret, const char *where, const char *s, long at)
{
	refuse(ret, 400, where, s + at, 1,
	       "a control character (byte 0x%02x) in the %s",
	       (unsigned char)s[at], where);
	return HTTP_HEAD_REFUSED;
}

/* The request line @s (@len bytes, without its line end): METHOD SP
 * TARGET SP HTTP/1.x. Fills f->http10. */
static enum http_head_verdict check_request_line(const char *s, size_t len,
						 struct http_framing *f,
						 struct http_refusal *ret)
{
	const char *rl = "request-line";
	const char *m_end = skip_token(s);
	const char *target, *t_end, *v, *e = s + len;
	long at = find_ctl(s, len, false);

	if (at >= 0)
		return ctl_refused(ret, rl, s, at);
	target = m_end + 1;
	t_end = target < e ? memchr(target, ' ', (size_t)(e - target)) : NULL;
	if (!t_end || t_end == target) {
		refuse(ret, 400, rl, s, len,
		       "the request line is not METHOD TARGET HTTP/1.1");
		return HTTP_HEAD_REFUSED;
	}
	v = t_end + 1;
	if (memchr(v, ' ', (size_t)(e - v))) {
		refuse(ret, 400, rl, s, len,
		       "the request line has a space in its target or more "
		       "than two spaces: it is not METHOD TARGET HTTP/1.1");
		return HTTP_HEAD_REFUSED;
	}
	if (e - v != 8 || memcmp(v, "HTTP/", 5) != 0 || v[5] < '0' ||
	    v[5] > '9' || v[6] != '.' || v[7] < '0' || v[7] > '9') {
		refuse(ret, 400, rl, v, (size_t)(e - v),
		       "the request line does not end in an HTTP version "
		       "such as HTTP/1.1");
		return HTTP_HEAD_REFUSED;
	}
	if (v[5] != '1') {
		refuse(ret, 505, rl, v, 8,
		       "%.8s is not supported: this API speaks HTTP/1.1 (and "
		       "1.0)%s",
		       v, v[5] >= '2' ? "; gRPC has a port of its own" : "");
		return HTTP_HEAD_REFUSED;
	}
	f->http10 = v[7] == '0';
	return HTTP_HEAD_OK;
}

/* One header field line @s (@len bytes, without its line end). */
static enum http_head_verdict check_field_line(const char *s, size_t len,
					       struct http_framing *f,
					       struct http_refusal *ret)
{
	const char *colon, *v, *e = s + len;
	long at;

	if (*s == ' ' || *s == '\t') {
		refuse(ret, 400, "header", s, len,
		       "obsolete line folding: a header field line starts "
		       "with whitespace");
		return HTTP_HEAD_REFUSED;
	}
	colon = memchr(s, ':', len);
	if (!colon) {
		refuse(ret, 400, "header", s, len,
		       "a header field line without a colon");
		return HTTP_HEAD_REFUSED;
	}
	at = find_ctl(s, len, false);
	if (at >= 0) {
		char name[40];

		quote(name, sizeof(name), s, (size_t)(colon - s));
		refuse(ret, 400, name, s + at, 1,
		       "a control character (byte 0x%02x) in header field %s",
		       (unsigned char)s[at], name);
		return HTTP_HEAD_REFUSED;
	}
	v = colon + 1;
	while (v < e && (*v == ' ' || *v == '\t'))
		v++;
	http_framing_field(f, s, (size_t)(colon - s), v, (size_t)(e - v));
	return HTTP_HEAD_OK;
}

/* The next line from @p: its end (without CR LF) in *ret_end and the
 * start of the next in *ret_next; false if no LF yet. */
static bool next_line(const char *buf, size_t len, size_t p, size_t *ret_end,
		      size_t *ret_next)
{
	const char *lf = memchr(buf + p, '\n', len - p);
	size_t e;

	if (!lf)
		return false;
	e = (size_t)(lf - buf);
	*ret_next = e + 1;
	if (e > p && buf[e - 1] == '\r')
		e--;
	*ret_end = e;
	return true;
}

enum http_head_verdict http_head_check(const char *buf, size_t len,
				       struct http_refusal *ret)
{
	struct http_framing f = { 0 };
	enum http_head_verdict v;
	size_t p = 0, start, m, e, next;
	long at;

	while (p < len && (buf[p] == '\r' || buf[p] == '\n'))
		p++;
	if (p >= HTTP_HEAD_MAX) {
		refuse(ret, 400, "request-line", NULL, 0,
		       "%zu bytes of empty lines and no request", p);
		return HTTP_HEAD_REFUSED;
	}
	if (p == len)
		return HTTP_HEAD_MORE;
	start = p;
	if (buf[p] == 0x16) {
		refuse(ret, 400, "request-line", buf + p,
		       len - p < 3 ? len - p : 3,
		       "a TLS handshake on a plain HTTP port: this API "
		       "speaks HTTP without TLS (http://, not https://)");
		return HTTP_HEAD_REFUSED;
	}
	for (m = p; m < len && is_tchar((unsigned char)buf[m]); m++)
		;
	if (m < len && (m == p || buf[m] != ' ')) {
		refuse(ret, 400, "request-line", buf + p,
		       len - p < 8 ? len - p : 8,
		       "the request does not start with a method and a "
		       "space: not an HTTP/1.x request");
		return HTTP_HEAD_REFUSED;
	}
	if (!next_line(buf, len, p, &e, &next)) {
		at = find_ctl(buf + p, len - p, true);
		if (at >= 0)
			return ctl_refused(ret, "request-line", buf + p, at);
		if (len < HTTP_HEAD_MAX)
			return HTTP_HEAD_MORE;
		refuse(ret, 414, "request-line", NULL, 0,
		       "the request line is longer than %u bytes",
		       HTTP_HEAD_MAX);
		return HTTP_HEAD_REFUSED;
	}
	if (next > HTTP_HEAD_MAX) {
		refuse(ret, 414, "request-line", NULL, 0,
		       "the request line is longer than %u bytes",
		       HTTP_HEAD_MAX);
		return HTTP_HEAD_REFUSED;
	}
	v = check_request_line(buf + start, e - start, &f, ret);
	if (v != HTTP_HEAD_OK)
		return v;
	for (p = next;;) {
		if (!next_line(buf, len, p, &e, &next)) {
			/* Refuse what is wrong already, not only at the
			 * end of the line. */
			at = find_ctl(buf + p, len - p, true);
			if (at >= 0)
				return ctl_refused(ret, "header", buf + p, at);
			if (len < HTTP_HEAD_MAX)
				return HTTP_HEAD_MORE;
			break;
		}
		if (next > HTTP_HEAD_MAX)
			break;
		if (e == p)
			return http_framing_refused(&f, ret) ?
				       HTTP_HEAD_REFUSED :
				       HTTP_HEAD_OK;
		v = check_field_line(buf + p, e - p, &f, ret);
		if (v != HTTP_HEAD_OK)
			return v;
		p = next;
	}
	refuse(ret, 431, "header", NULL, 0,
	       "the request head is longer than %u bytes", HTTP_HEAD_MAX);
	return HTTP_HEAD_REFUSED;
}
