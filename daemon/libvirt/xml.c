// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Domain XML with libxml2 and XPath. Sizes follow libvirt's scaled
 * integers: a number with a unit attribute (b, KB, KiB, MB, MiB, … where
 * the decimal units count in powers of 1000), KiB when there is none.
 */
#include "libvirt/xml.h"

#include <errno.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "user/size.h"

#define PARSE_OPTS (XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)

struct doc {
	xmlDocPtr doc;
	xmlXPathContextPtr ctx;
};

static int doc_open(const char *xml, struct doc *d)
{
	size_t len = strlen(xml);

	d->ctx = NULL;
	if (len > INT32_MAX)
		return -EINVAL;
	d->doc = xmlReadMemory(xml, (int)len, "domain.xml", NULL, PARSE_OPTS);
	if (!d->doc)
		return -EINVAL;
	d->ctx = xmlXPathNewContext(d->doc);
	if (!d->ctx) {
		xmlFreeDoc(d->doc);
		return -ENOMEM;
	}
	return 0;
}

static void doc_close(struct doc *d)
{
	xmlXPathFreeContext(d->ctx);
	xmlFreeDoc(d->doc);
}

/* Nodes matching @expr relative to @node (NULL: the document). */
static xmlXPathObjectPtr nodes(struct doc *d, xmlNodePtr node, const char *expr)
{
	xmlXPathObjectPtr o;

	d->ctx->node = node ? node : xmlDocGetRootElement(d->doc);
	o = xmlXPathEvalExpression((const xmlChar *)expr, d->ctx);
	if (o && (o->type != XPATH_NODESET || !o->nodesetval ||
		  o->nodesetval->nodeNr == 0)) {
		xmlXPathFreeObject(o);
		o = NULL;
	}
	return o;
}

/* The string value of @expr into @buf ("" if none). */
static const char *text(struct doc *d, xmlNodePtr node, const char *expr,
			char *buf, size_t len)
{
	xmlXPathObjectPtr o;
	xmlChar *s;

	buf[0] = '\0';
	d->ctx->node = node ? node : xmlDocGetRootElement(d->doc);
	o = xmlXPathEvalExpression((const xmlChar *)expr, d->ctx);
	if (!o)
		return buf;
	s = xmlXPathCastToString(o);
	if (s) {
		snprintf(buf, len, "%s", (const char *)s);
		xmlFree(s);
	}
	xmlXPathFreeObject(o);
	return buf;
}

/* libvirt's unit names (virScaleInteger): "b"/"bytes"; a power letter
 * k, M, G, T, P, E alone or with "iB" counts in 1024s, with "B" in 1000s;
 * no unit means KiB. 0 if unknown. */
static uint64_t unit_scale(const char *unit)
{
	static const char powers[] = "kmgtpe";
	const char *p;
	uint64_t scale = 1, base;

	if (!unit[0])
		return 1024;
	if (strcasecmp(unit, "b") == 0 || strcasecmp(unit, "bytes") == 0)
		return 1;
	p = strchr(powers, unit[0] | 0x20);
	if (!p || !unit[0])
		return 0;
	if (!unit[1] || strcasecmp(unit + 1, "iB") == 0)
		base = 1024;
	else if (strcasecmp(unit + 1, "B") == 0)
		base = 1000;
	else
		return 0;
	for (const char *q = powers; q <= p; q++)
		scale *= base;
	return scale;
}

/* A scaled integer: the element @expr with its unit attribute. */
static int scaled(struct doc *d, xmlNodePtr node, const char *expr,
		  uint64_t *ret)
{
	char value[64], unit[16], uexpr[256];
	unsigned long long v;
	uint64_t scale;
	char *end;

	*ret = 0;
	text(d, node, expr, value, sizeof(value));
	if (!value[0])
		return -ENOENT;
	snprintf(uexpr, sizeof(uexpr), "string((%s)/@unit)", expr);
	text(d, node, uexpr, unit, sizeof(unit));
	scale = unit_scale(unit);
	errno = 0;
	v = strtoull(value, &end, 10);
	if (!scale || errno || end == value || *end || value[0] == '-' ||
	    v > UINT64_MAX / scale)
		return -EINVAL;
	*ret = v * scale;
	return 0;
}

static unsigned count(struct doc *d, const char *expr)
{
	char buf[32];
	char cexpr[256];

	snprintf(cexpr, sizeof(cexpr), "count(%s)", expr);
	text(d, NULL, cexpr, buf, sizeof(buf));
	return (unsigned)strtoul(buf, NULL, 10);
}

static char *node_xml(xmlDocPtr doc, xmlNodePtr node)
{
	xmlBufferPtr b = xmlBufferCreate();
	char *s = NULL;

	if (!b)
		return NULL;
	if (xmlNodeDump(b, doc, node, 0, 0) >= 0)
		s = strdup((const char *)xmlBufferContent(b));
	xmlBufferFree(b);
	return s;
}

static int parse_vmem(struct doc *d, struct lv_domain_xml *x)
{
	static const char expr[] =
		"/domain/devices/memory[@model='virtio-mem']";
	xmlXPathObjectPtr o = nodes(d, NULL, expr);
	struct lv_vmem_dev *v = &x->vmem;
	char buf[32];
	int r = 0;

	if (!o)
		return 0;
	x->n_vmem = (size_t)o->nodesetval->nodeNr;
	for (int i = 0; i < o->nodesetval->nodeNr; i++) {
		xmlNodePtr n = o->nodesetval->nodeTab[i];
		uint64_t size;

		if (scaled(d, n, "target/size", &size) < 0) {
			r = -EINVAL;
			goto cleanup;
		}
		x->vmem_total_bytes += size;
		if (i > 0)
			continue;
		v->size_bytes = size;
		if (scaled(d, n, "target/block", &v->block_bytes) < 0 ||
		    v->block_bytes == 0) {
			r = -EINVAL;
			goto cleanup;
		}
		scaled(d, n, "target/requested", &v->requested_bytes);
		scaled(d, n, "target/current", &v->current_bytes);
		text(d, n, "string(alias/@name)", v->alias, sizeof(v->alias));
		v->node = atoi(
			text(d, n, "string(target/node)", buf, sizeof(buf)));
		v->xml = node_xml(d->doc, n);
		if (!v->xml) {
			r = -ENOMEM;
			goto cleanup;
		}
	}
cleanup:
	xmlXPathFreeObject(o);
	return r;
}

/* The value of property @key in a key=value device argument ("on"), or
 * NULL. */
static const char *prop(const char *arg, const char *key, char *buf, size_t len)
{
	size_t klen = strlen(key);

	for (const char *p = strchr(arg, ','); p; p = strchr(p + 1, ',')) {
		if (strncmp(p + 1, key, klen) == 0 && p[1 + klen] == '=') {
			const char *v = p + 2 + klen;
			size_t n = strcspn(v, ",");

			snprintf(buf, len, "%.*s", (int)n, v);
			return buf;
		}
	}
	return NULL;
}

/*
 * -device virtio-hyperalloc-pci[,…] in <qemu:commandline>, in either the
 * key=value or the JSON form of the device argument; the key=value form
 * also gives the device's automatic reclaim settings.
 */
static bool has_hyperalloc(struct doc *d, struct lv_hyperalloc_dev *ret)
{
	static const char expr[] = "/domain/*[local-name()='commandline']/"
				   "*[local-name()='arg']/@value";
	static const char name[] = LV_HYPERALLOC_DEVICE;
	xmlXPathObjectPtr o = nodes(d, NULL, expr);
	bool found = false;
	char buf[32];

	if (!o)
		return false;
	for (int i = 0; i < o->nodesetval->nodeNr && !found; i++) {
		xmlChar *x = xmlNodeGetContent(o->nodesetval->nodeTab[i]);
		const char *v = (const char *)x;

		if (!v)
			continue;
		if (strncmp(v, name, sizeof(name) - 1) == 0 &&
		    (v[sizeof(name) - 1] == ',' || v[sizeof(name) - 1] == 0)) {
			found = true;
			if (prop(v, "auto-reclaim", buf, sizeof(buf)))
				ret->auto_reclaim = strcmp(buf, "on") == 0 ||
						    strcmp(buf, "true") == 0;
			if (prop(v, "auto-interval", buf, sizeof(buf)))
				ret->auto_interval_ms = strtoull(buf, NULL, 10);
			ret->iothread = prop(v, "iothread", buf, sizeof(buf)) !=
					NULL;
		} else if (strstr(v, "\"" LV_HYPERALLOC_DEVICE "\"")) {
			found = true;
		}
		xmlFree(x);
	}
	xmlXPathFreeObject(o);
	return found;
}

int lv_xml_parse_domain(const char *xml, struct lv_domain_xml *x, char *err,
			size_t err_len)
{
	char buf[64];
	struct doc d;
	int r;

	memset(x, 0, sizeof(*x));
	snprintf(err, err_len, "%s", "");
	r = doc_open(xml, &d);
	if (r < 0) {
		snprintf(err, err_len, "not well-formed XML");
		return r;
	}
	if (!xmlDocGetRootElement(d.doc) ||
	    strcmp((const char *)xmlDocGetRootElement(d.doc)->name, "domain") !=
		    0) {
		snprintf(err, err_len, "the root element is not <domain>");
		r = -EINVAL;
		goto cleanup;
	}
	text(&d, NULL, "string(/domain/name)", x->name, sizeof(x->name));
	text(&d, NULL, "string(/domain/uuid)", x->uuid, sizeof(x->uuid));
	if (!x->name[0]) {
		snprintf(err, err_len, "the domain has no <name>");
		r = -EINVAL;
		goto cleanup;
	}
	if (scaled(&d, NULL, "/domain/memory", &x->memory_bytes) < 0) {
		snprintf(err, err_len, "<memory> is missing or not a size");
		r = -EINVAL;
		goto cleanup;
	}
	if (scaled(&d, NULL, "/domain/currentMemory",
		   &x->current_memory_bytes) < 0)
		x->current_memory_bytes = x->memory_bytes;

	xmlXPathObjectPtr cells = nodes(&d, NULL, "/domain/cpu/numa/cell");

	for (int i = 0; cells && i < cells->nodesetval->nodeNr; i++) {
		xmlNodePtr c = cells->nodesetval->nodeTab[i];
		char v[32], u[16];
		uint64_t scale;

		text(&d, c, "string(@memory)", v, sizeof(v));
		text(&d, c, "string(@unit)", u, sizeof(u));
		scale = unit_scale(u);
		x->numa_bytes += strtoull(v, NULL, 10) * scale;
	}
	xmlXPathFreeObject(cells);

	text(&d, NULL, "string(/domain/devices/memballoon/@model)", buf,
	     sizeof(buf));
	x->balloon = strncmp(buf, "virtio", 6) == 0;
	text(&d, NULL, "string(/domain/devices/memballoon/@freePageReporting)",
	     buf, sizeof(buf));
	x->free_page_reporting = strcmp(buf, "on") == 0;
	text(&d, NULL, "string(/domain/devices/memballoon/stats/@period)", buf,
	     sizeof(buf));
	x->stats_period = (unsigned)strtoul(buf, NULL, 10);

	r = parse_vmem(&d, x);
	if (r < 0) {
		snprintf(err, err_len,
			 "a virtio-mem device without a valid "
			 "<size> or <block>");
		goto cleanup;
	}
	x->hyperalloc_device = has_hyperalloc(&d, &x->hyperalloc);

	text(&d, NULL, "string(/domain/memoryBacking/source/@type)", buf,
	     sizeof(buf));
	if (strcmp(buf, "memfd") == 0)
		x->backing = LV_BACKING_MEMFD;
	else if (strcmp(buf, "file") == 0 ||
		 count(&d, "/domain/memoryBacking/hugepages"))
		x->backing = LV_BACKING_FILE;
	text(&d, NULL, "string(/domain/memoryBacking/access/@mode)", buf,
	     sizeof(buf));
	x->shared = strcmp(buf, "shared") == 0 ||
		    (count(&d, "/domain/cpu/numa/cell") &&
		     count(&d, "/domain/cpu/numa/cell") ==
			     count(&d, "/domain/cpu/numa/cell"
				       "[@memAccess='shared']"));

	if (x->hyperalloc_device)
		x->mechanism = VM_MECH_HYPERALLOC;
	else if (x->n_vmem)
		x->mechanism = VM_MECH_VIRTIO_MEM;
	else if (x->balloon)
		x->mechanism = VM_MECH_BALLOON;
	else
		x->mechanism = VM_MECH_NONE;
cleanup:
	doc_close(&d);
	if (r < 0)
		lv_xml_domain_clear(x);
	return r;
}

void lv_xml_domain_clear(struct lv_domain_xml *x)
{
	if (!x)
		return;
	free(x->vmem.xml);
	x->vmem.xml = NULL;
}

uint64_t lv_xml_base_bytes(const struct lv_domain_xml *x)
{
	if (x->numa_bytes)
		return x->numa_bytes;
	return x->memory_bytes > x->vmem_total_bytes ?
		       x->memory_bytes - x->vmem_total_bytes :
		       0;
}

/* ---- the metadata element ---- */

static int limit_size(struct doc *d, const char *attr, bool *has, uint64_t *ret,
		      char *err, size_t err_len)
{
	char expr[64], v[64];

	snprintf(expr, sizeof(expr), "string(/*/@%s)", attr);
	text(d, NULL, expr, v, sizeof(v));
	*has = false;
	if (!v[0])
		return 0;
	if (ha_parse_size(v, ret) < 0) {
		snprintf(err, err_len, "%s=\"%s\" is not a size", attr, v);
		return -EINVAL;
	}
	*has = true;
	return 0;
}

int lv_xml_parse_limits(const char *xml, struct lv_limits *l, char *err,
			size_t err_len)
{
	char v[64], *end;
	struct doc d;
	int r;

	memset(l, 0, sizeof(*l));
	snprintf(err, err_len, "%s", "");
	r = doc_open(xml, &d);
	if (r < 0) {
		snprintf(err, err_len, "not well-formed XML");
		return r;
	}
	if (strcmp((const char *)xmlDocGetRootElement(d.doc)->name, "memory") !=
	    0) {
		snprintf(err, err_len, "the element is not <memory>");
		r = -EINVAL;
		goto cleanup;
	}
	r = limit_size(&d, "min", &l->has_min, &l->min_bytes, err, err_len);
	if (r == 0)
		r = limit_size(&d, "max", &l->has_max, &l->max_bytes, err,
			       err_len);
	if (r < 0)
		goto cleanup;
	text(&d, NULL, "string(/*/@shares)", v, sizeof(v));
	if (v[0]) {
		unsigned long s;

		errno = 0;
		s = strtoul(v, &end, 10);
		if (errno || *end || v[0] == '-' || s < LV_SHARES_MIN ||
		    s > LV_SHARES_MAX) {
			snprintf(err, err_len,
				 "shares=\"%s\" is not a number in %d..%d", v,
				 LV_SHARES_MIN, LV_SHARES_MAX);
			r = -EINVAL;
			goto cleanup;
		}
		l->has_shares = true;
		l->shares = (uint32_t)s;
	}
	if (l->has_min && l->has_max && l->min_bytes > l->max_bytes) {
		snprintf(err, err_len, "min is above max");
		r = -EINVAL;
	}
cleanup:
	doc_close(&d);
	return r;
}

int lv_xml_format_limits(const struct lv_limits *l, char *buf, size_t len)
{
	char min[40] = "", max[40] = "", shares[32] = "";
	int n;

	if (l->has_min)
		snprintf(min, sizeof(min), " min=\"%llu\"",
			 (unsigned long long)l->min_bytes);
	if (l->has_max)
		snprintf(max, sizeof(max), " max=\"%llu\"",
			 (unsigned long long)l->max_bytes);
	if (l->has_shares)
		snprintf(shares, sizeof(shares), " shares=\"%u\"", l->shares);
	n = snprintf(buf, len, "<memory%s%s%s/>", min, max, shares);
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return n;
}

/* ---- virtio-mem resize ---- */

static xmlNodePtr child(xmlNodePtr parent, const char *name)
{
	for (xmlNodePtr c = parent->children; c; c = c->next) {
		if (c->type == XML_ELEMENT_NODE &&
		    strcmp((const char *)c->name, name) == 0)
			return c;
	}
	return NULL;
}

uint64_t lv_xml_vmem_request_for(const struct lv_domain_xml *x, uint64_t target)
{
	uint64_t base = lv_xml_base_bytes(x);
	uint64_t block = x->vmem.block_bytes ? x->vmem.block_bytes : 1;
	uint64_t want = target > base ? target - base : 0;

	if (want >= x->vmem.size_bytes)
		return x->vmem.size_bytes / block * block;
	/* Round up: the VM never ends up below what was asked (nor below
	 * its min, which asked for it). */
	return (want + block - 1) / block * block;
}

int lv_xml_vmem_request(const char *device_xml, uint64_t requested_bytes,
			char **ret)
{
	xmlNodePtr root, target, req;
	xmlChar *model;
	char kib[32];
	struct doc d;
	bool ok;
	int r;

	*ret = NULL;
	r = doc_open(device_xml, &d);
	if (r < 0)
		return r;
	root = xmlDocGetRootElement(d.doc);
	model = xmlGetProp(root, (const xmlChar *)"model");
	ok = strcmp((const char *)root->name, "memory") == 0 && model &&
	     strcmp((const char *)model, "virtio-mem") == 0;
	xmlFree(model);
	target = ok ? child(root, "target") : NULL;
	if (!target) {
		r = -EINVAL;
		goto cleanup;
	}
	req = child(target, "requested");
	if (!req)
		req = xmlNewChild(target, NULL, (const xmlChar *)"requested",
				  NULL);
	if (!req) {
		r = -ENOMEM;
		goto cleanup;
	}
	snprintf(kib, sizeof(kib), "%llu",
		 (unsigned long long)(requested_bytes >> 10));
	xmlNodeSetContent(req, (const xmlChar *)kib);
	xmlSetProp(req, (const xmlChar *)"unit", (const xmlChar *)"KiB");
	*ret = node_xml(d.doc, root);
	if (!*ret)
		r = -ENOMEM;
cleanup:
	doc_close(&d);
	return r;
}
