/* Where an object's bytes are: its own stripes, or the parts a multipart manifest names
 * (`oss.manifest.<bucket id>.<version>`, one line "<part version> <size>" a part), and
 * reading them at any offset. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "store-internal.h"
#include "util.h"

#define MANIFEST_MAX (OSS_PART_NUMBER_MAX * 48u)
#define COPY_CHUNK (1u << 20)

void oss_oid_manifest(char *buf, size_t size, const char *bucket_id, const char *version)
{
	snprintf(buf, size, "oss.manifest.%s.%s", bucket_id, version);
}

int oss_manifest_write(struct oss *o, const char *bucket_id, const char *version, const struct oss_part_ref *parts,
		       size_t n)
{
	struct ecs_buf text = { 0 };
	char oid[192], line[64];
	int r = 0;

	for (size_t i = 0; i < n && !r; i++) {
		snprintf(line, sizeof(line), "%s %llu\n", parts[i].version, (unsigned long long)parts[i].size);
		r = ecs_buf_append(&text, line, strlen(line), SIZE_MAX);
	}
	if (!r) {
		oss_oid_manifest(oid, sizeof(oid), bucket_id, version);
		r = rados_write_full(o->io, oid, text.data, text.len);
	}
	ecs_buf_free(&text);
	return r;
}

void oss_layout_clear(struct oss_layout *l)
{
	if (!l)
		return;
	free(l->parts);
	l->parts = NULL;
	l->n = 0;
}

static int manifest_parse(char *text, size_t len, struct oss_layout *l)
{
	size_t cap = 0;
	uint64_t start = 0;

	for (char *p = text, *end = text + len; p < end;) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char v[17];
		unsigned long long size;

		if (!nl)
			return -EIO;
		*nl = '\0';
		if (sscanf(p, "%16s %llu", v, &size) != 2 || strlen(v) != 16)
			return -EIO;
		if (l->n == cap) {
			struct oss_part_ref *np;

			cap = cap ? cap * 2 : 64;
			if (!(np = realloc(l->parts, cap * sizeof(*np))))
				return -ENOMEM;
			l->parts = np;
		}
		memcpy(l->parts[l->n].version, v, sizeof(v));
		l->parts[l->n].size = size;
		l->parts[l->n].start = start;
		start += size;
		l->n++;
		p = nl + 1;
	}
	return l->n ? 0 : -EIO;
}

int oss_layout_load(struct oss *o, const struct oss_bucket *b, const struct oss_entry *e, struct oss_layout *ret)
{
	struct oss_layout l = { 0 };
	char oid[192];
	_cleanup_free_ char *text = NULL;
	uint64_t size = 0;
	time_t mtime;
	size_t got = 0;
	int r;

	snprintf(l.bucket_id, sizeof(l.bucket_id), "%s", b->id);
	snprintf(l.version, sizeof(l.version), "%s", e->version);
	if (!e->parts) {
		*ret = l;
		return 0;
	}
	oss_oid_manifest(oid, sizeof(oid), b->id, e->version);
	if ((r = rados_stat(o->io, oid, &size, &mtime)) < 0)
		return r;
	if (!size || size > MANIFEST_MAX)
		return -EIO;
	if (!(text = malloc(size + 1)))
		return -ENOMEM;
	while (got < size) {
		r = rados_read(o->io, oid, text + got, size - got, got);
		if (r <= 0)
			return r < 0 ? r : -EIO;
		got += (size_t)r;
	}
	text[size] = '\0';
	if ((r = manifest_parse(text, size, &l)) < 0) {
		log_error("a manifest is not readable", "oid=%s", oid);
		oss_layout_clear(&l);
		return r;
	}
	*ret = l;
	return 0;
}

static long stripes_read(struct oss *o, const char *bucket_id, const char *version, uint64_t off, char *buf,
			 size_t len)
{
	uint64_t stripe = off / OSS_STRIPE, in = off % OSS_STRIPE;
	char oid[192];
	int r;

	if (len > OSS_STRIPE - in)
		len = OSS_STRIPE - in;
	oss_oid_stripe(oid, sizeof(oid), bucket_id, version, stripe);
	r = rados_read(o->io, oid, buf, len, in);
	if (r < 0)
		log_error("cannot read a stripe", "oid=%s error=%s", oid, strerror(-r));
	return r;
}

long oss_layout_read(struct oss *o, const struct oss_layout *l, uint64_t off, char *buf, size_t len)
{
	size_t lo = 0, hi;

	if (!l->parts)
		return stripes_read(o, l->bucket_id, l->version, off, buf, len);
	/* The part holding off: the last whose start is <= off. */
	hi = l->n;
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;

		if (l->parts[mid].start <= off)
			lo = mid;
		else
			hi = mid;
	}
	while (lo < l->n && off >= l->parts[lo].start + l->parts[lo].size)
		lo++; /* empty parts */
	if (lo >= l->n)
		return 0;
	if (len > l->parts[lo].start + l->parts[lo].size - off)
		len = (size_t)(l->parts[lo].start + l->parts[lo].size - off);
	return stripes_read(o, l->bucket_id, l->parts[lo].version, off - l->parts[lo].start, buf, len);
}

int oss_writer_copy(struct oss_writer *w, const struct oss_layout *l, uint64_t off, uint64_t len)
{
	_cleanup_free_ char *buf = malloc(COPY_CHUNK);
	int r;

	if (!buf)
		return -ENOMEM;
	while (len) {
		size_t want = len < COPY_CHUNK ? (size_t)len : COPY_CHUNK;
		long n = oss_layout_read(w->o, l, off, buf, want);

		if (n <= 0)
			return n < 0 ? (int)n : -EIO;
		if ((r = oss_writer_write(w, buf, (size_t)n)) < 0)
			return r;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}
