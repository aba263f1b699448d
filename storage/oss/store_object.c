/* Objects: index entries, their bytes, and the GC queue of versions no entry names. */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "log.h"
#include "crc64.h"
#include "storage_rados.h"
#include "store-internal.h"
#include "util.h"

#define GC_BATCH 100

char *oss_entry_json(const struct oss_entry *e)
{
	struct json_object *j = json_object_new_object();

	json_object_object_add(j, "v", json_object_new_string(e->version));
	json_object_object_add(j, "s", json_object_new_int64((int64_t)e->size));
	json_object_object_add(j, "e", json_object_new_string(e->etag));
	json_object_object_add(j, "t", json_object_new_int64(e->mtime));
	json_object_object_add(j, "c", json_object_new_string(e->ctype));
	json_object_object_add(j, "a", json_object_new_string(e->acl[0] ? e->acl : "default"));
	json_object_object_add(j, "m", e->meta ? json_object_get(e->meta) : json_object_new_object());
	if (e->parts)
		json_object_object_add(j, "p", json_object_new_int64(e->parts));
	if (e->appendable)
		json_object_object_add(j, "y", json_object_new_boolean(1));
	if (e->has_crc64) {
		char crc[24];

		snprintf(crc, sizeof(crc), "%llu", (unsigned long long)e->crc64);
		json_object_object_add(j, "k", json_object_new_string(crc));
	}
	return oss_json_take_text(j);
}

int oss_entry_parse(const char *json, size_t len, struct oss_entry *ret)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *j, *v;

	if (!tok)
		return -ENOMEM;
	j = json_tokener_parse_ex(tok, json, (int)len);
	json_tokener_free(tok);
	if (!j || !json_object_is_type(j, json_type_object)) {
		json_object_put(j);
		return -EIO;
	}
	snprintf(ret->version, sizeof(ret->version), "%s", oss_jstr(j, "v"));
	snprintf(ret->etag, sizeof(ret->etag), "%s", oss_jstr(j, "e"));
	snprintf(ret->ctype, sizeof(ret->ctype), "%s", oss_jstr(j, "c"));
	snprintf(ret->acl, sizeof(ret->acl), "%s", oss_jstr(j, "a"));
	ret->size = json_object_object_get_ex(j, "s", &v) ? (uint64_t)json_object_get_int64(v) : 0;
	ret->mtime = json_object_object_get_ex(j, "t", &v) ? json_object_get_int64(v) : 0;
	ret->meta = json_object_object_get_ex(j, "m", &v) ? json_object_get(v) : json_object_new_object();
	ret->parts = json_object_object_get_ex(j, "p", &v) ? (unsigned)json_object_get_int64(v) : 0;
	ret->appendable = json_object_object_get_ex(j, "y", &v) && json_object_get_boolean(v);
	ret->has_crc64 = json_object_object_get_ex(j, "k", &v);
	ret->crc64 = ret->has_crc64 ? strtoull(json_object_get_string(v), NULL, 10) : 0;
	json_object_put(j);
	return 0;
}

int oss_entry_get(struct oss *o, const struct oss_bucket *b, const char *key, struct oss_entry *ret)
{
	char oid[128], *val = NULL;
	size_t len = 0;
	int r;

	oss_oid_shard(oid, sizeof(oid), b->id, oss_key_shard(key));
	if ((r = oss_omap_get(o, oid, key, &val, &len)) < 0)
		return r;
	memset(ret, 0, sizeof(*ret));
	snprintf(ret->key, sizeof(ret->key), "%s", key);
	r = oss_entry_parse(val, len, ret);
	free(val);
	return r;
}

/* The GC queue's key for a version due at t: sorted by time. */
static void gc_key(char *buf, size_t size, time_t t, const char *bucket_id, const char *version)
{
	snprintf(buf, size, "%012lld.%s.%s", (long long)t, bucket_id, version);
}

/* Queue (due non-zero) and/or dequeue versions in one operation on the queue. */
static int gc_update(struct oss *o, const char *add_key, const char *add_val, const char *rm_key)
{
	rados_write_op_t op = rados_create_write_op();
	int r;

	if (!op)
		return -ENOMEM;
	if (add_key) {
		const char *keys[1] = { add_key }, *vals[1] = { add_val };
		size_t lens[1] = { strlen(add_val) };

		rados_write_op_omap_set(op, keys, vals, lens, 1);
	}
	if (rm_key) {
		const char *keys[1] = { rm_key };

		rados_write_op_omap_rm_keys(op, keys, 1);
	}
	r = rados_write_op_operate(op, o->io, OSS_GC_OID, NULL, 0);
	rados_release_write_op(op);
	if (r < 0)
		log_error("cannot update the GC queue", "error=%s", strerror(-r));
	return r;
}

static char *gc_value(const char *key)
{
	struct json_object *j = json_object_new_object();

	json_object_object_add(j, "k", json_object_new_string(key));
	return oss_json_take_text(j);
}

int oss_gc_queue(struct oss *o, const char *bucket_id, const char *key, const char *version, time_t due)
{
	char k[160];
	_cleanup_free_ char *v = gc_value(key);

	if (!v)
		return -ENOMEM;
	gc_key(k, sizeof(k), due, bucket_id, version);
	return gc_update(o, k, v, NULL);
}

int oss_gc_queue_manifest_only(struct oss *o, const char *bucket_id, const char *key, const char *version)
{
	char k[160];
	struct json_object *j = json_object_new_object();
	_cleanup_free_ char *v = NULL;

	json_object_object_add(j, "k", json_object_new_string(key));
	json_object_object_add(j, "m", json_object_new_boolean(1));
	v = oss_json_take_text(j);
	if (!v)
		return -ENOMEM;
	gc_key(k, sizeof(k), time(NULL) + o->gc_delay_s, bucket_id, version);
	return gc_update(o, k, v, NULL);
}

int oss_entry_delete(struct oss *o, const struct oss_bucket *b, const char *key)
{
	struct oss_entry e;
	char oid[128], *cur = NULL;
	size_t len;
	int r, prval = 0;

	oss_oid_shard(oid, sizeof(oid), b->id, oss_key_shard(key));
	for (int attempt = 0; attempt < 8; attempt++) {
		rados_write_op_t op;
		const char *keys[1] = { key };

		if ((r = oss_omap_get(o, oid, key, &cur, &len)) < 0)
			return r;
		memset(&e, 0, sizeof(e));
		r = oss_entry_parse(cur, len, &e);
		if (r < 0) {
			free(cur);
			return r;
		}
		op = rados_create_write_op();
		if (!op) {
			free(cur);
			oss_entry_clear(&e);
			return -ENOMEM;
		}
		/* Only the entry read: a PUT in between keeps its new version. */
		rados_write_op_omap_cmp(op, key, LIBRADOS_CMPXATTR_OP_EQ, cur, len, &prval);
		rados_write_op_omap_rm_keys(op, keys, 1);
		r = rados_write_op_operate(op, o->io, oid, NULL, 0);
		rados_release_write_op(op);
		free(cur);
		cur = NULL;
		if (r == 0)
			r = oss_gc_queue(o, b->id, key, e.version, time(NULL) + o->gc_delay_s);
		oss_entry_clear(&e);
		if (r != -ECANCELED)
			return r;
	}
	return -EBUSY;
}

int oss_writer_begin(struct oss *o, const struct oss_bucket *b, const char *key, struct oss_writer **ret)
{
	struct oss_writer *w = calloc(1, sizeof(*w));
	_cleanup_free_ char *v = gc_value(key);
	int r;

	if (!w || !v || !(w->buf = malloc(OSS_WRITE_CHUNK)) || !(w->md5 = EVP_MD_CTX_new()) ||
	    EVP_DigestInit_ex(w->md5, EVP_md5(), NULL) != 1) {
		oss_writer_abort(w);
		return -ENOMEM;
	}
	w->o = o;
	w->b = *b;
	snprintf(w->key, sizeof(w->key), "%s", key);
	oss_random_hex(w->version);
	/* Queued before the first byte: a gateway that dies mid-PUT leaves a collectable version. */
	gc_key(w->pending, sizeof(w->pending), time(NULL) + o->gc_pending_s, b->id, w->version);
	if ((r = gc_update(o, w->pending, v, NULL)) < 0) {
		w->pending[0] = '\0';
		oss_writer_abort(w);
		return r;
	}
	*ret = w;
	return 0;
}

static int flush(struct oss_writer *w)
{
	char oid[192];
	uint64_t stripe = w->flushed / OSS_STRIPE, in = w->flushed % OSS_STRIPE;
	int r;

	if (!w->len)
		return 0;
	oss_oid_stripe(oid, sizeof(oid), w->b.id, w->version, stripe);
	r = in ? rados_write(w->o->io, oid, w->buf, w->len, in) : rados_write_full(w->o->io, oid, w->buf, w->len);
	if (r < 0) {
		log_error("cannot write a stripe", "oid=%s error=%s", oid, strerror(-r));
		return r;
	}
	w->flushed += w->len;
	w->len = 0;
	return 0;
}

int oss_writer_write(struct oss_writer *w, const void *buf, size_t len)
{
	const char *p = buf;

	if (w->error)
		return w->error;
	if (w->size + len > OSS_OBJECT_MAX)
		return w->error = -EFBIG;
	EVP_DigestUpdate(w->md5, buf, len);
	w->crc64 = oss_crc64_update(w->crc64, buf, len);
	w->size += len;
	while (len) {
		/* A chunk never crosses a stripe's end. */
		size_t room = OSS_WRITE_CHUNK - w->len;
		uint64_t stripe_left = OSS_STRIPE - (w->flushed + w->len) % OSS_STRIPE;
		size_t n = len < room ? len : room;

		if (n > stripe_left)
			n = (size_t)stripe_left;
		memcpy(w->buf + w->len, p, n);
		w->len += n;
		p += n;
		len -= n;
		if (w->len == OSS_WRITE_CHUNK || (w->flushed + w->len) % OSS_STRIPE == 0) {
			int r = flush(w);

			if (r < 0)
				return w->error = r;
		}
	}
	return 0;
}

uint64_t oss_writer_size(const struct oss_writer *w)
{
	return w->size;
}

static void writer_free(struct oss_writer *w)
{
	if (!w)
		return;
	free(w->buf);
	EVP_MD_CTX_free(w->md5);
	free(w);
}

void oss_writer_abort(struct oss_writer *w)
{
	char now_key[160];
	_cleanup_free_ char *v = NULL;

	if (!w)
		return;
	/* Due at once: nothing will ever name this version. */
	if (w->pending[0] && (v = gc_value(w->key))) {
		gc_key(now_key, sizeof(now_key), time(NULL), w->b.id, w->version);
		gc_update(w->o, now_key, v, w->pending);
	}
	writer_free(w);
}

int oss_writer_finish(struct oss_writer *w, const uint8_t *expect_md5, uint8_t digest[16])
{
	unsigned dlen = 0;
	int r;

	if (w->error || (r = flush(w)) < 0)
		return w->error ? w->error : r;
	EVP_DigestFinal_ex(w->md5, digest, &dlen);
	return expect_md5 && memcmp(expect_md5, digest, ECS_MD5_LEN) != 0 ? -EBADMSG : 0;
}

void oss_writer_done(struct oss_writer *w)
{
	gc_update(w->o, NULL, NULL, w->pending);
	writer_free(w);
}

int oss_index_put(struct oss *o, const struct oss_bucket *b, const struct oss_entry *e, bool forbid_overwrite)
{
	_cleanup_free_ char *val = oss_entry_json(e);
	char oid[128];
	int r;

	if (!val)
		return -ENOMEM;
	oss_oid_shard(oid, sizeof(oid), b->id, oss_key_shard(e->key));
	for (int attempt = 0;; attempt++) {
		struct oss_entry old = { 0 };
		const char *keys[1] = { e->key }, *vals[1] = { val };
		size_t lens[1] = { strlen(val) }, curlen = 0;
		char *cur = NULL;
		rados_write_op_t op;
		int prval = 0;

		r = oss_omap_get(o, oid, e->key, &cur, &curlen);
		if (r == -ENOENT)
			cur = NULL;
		else if (r < 0)
			return r;
		else if (forbid_overwrite)
			r = -EEXIST;
		if (r == -EEXIST || !(op = rados_create_write_op())) {
			free(cur);
			return r == -EEXIST ? r : -ENOMEM;
		}
		/* Atomic against a concurrent PUT or DELETE of the key: the replaced version
		 * is the one queued for GC, never one nobody collects. */
		rados_write_op_omap_cmp(op, e->key, LIBRADOS_CMPXATTR_OP_EQ, cur ? cur : "", curlen, &prval);
		rados_write_op_omap_set(op, keys, vals, lens, 1);
		r = rados_write_op_operate(op, o->io, oid, NULL, 0);
		rados_release_write_op(op);
		if (r == 0 && cur && oss_entry_parse(cur, curlen, &old) == 0) {
			oss_gc_queue(o, b->id, e->key, old.version, time(NULL) + o->gc_delay_s);
			oss_entry_clear(&old);
		}
		free(cur);
		if (r != -ECANCELED || attempt >= 8)
			return r == -ECANCELED ? -EBUSY : r;
		if (forbid_overwrite)
			return -EEXIST;
	}
}

int oss_writer_seal(struct oss_writer *w, const uint8_t *md5, struct oss_entry *e)
{
	uint8_t digest[ECS_MD5_LEN];
	int r = oss_writer_finish(w, md5, digest);

	if (r < 0)
		return r;
	snprintf(e->key, sizeof(e->key), "%s", w->key);
	snprintf(e->version, sizeof(e->version), "%s", w->version);
	ecs_hex_encode(digest, ECS_MD5_LEN, e->etag);
	e->size = w->size;
	e->mtime = time(NULL);
	e->has_crc64 = true;
	e->crc64 = w->crc64;
	return 0;
}

int oss_writer_end(struct oss_writer *w, int r)
{
	if (r < 0)
		oss_writer_abort(w);
	else
		oss_writer_done(w);
	return r;
}

int oss_writer_commit(struct oss_writer *w, struct oss_entry *e, const uint8_t *md5, bool forbid_overwrite)
{
	int r = oss_writer_seal(w, md5, e);

	e->parts = 0;
	if (r == 0)
		r = oss_index_put(w->o, &w->b, e, forbid_overwrite);
	/* Committed: the version is no longer pending. */
	return oss_writer_end(w, r);
}

/* A multipart version: remove its parts' stripes, then its manifest. */
static int gc_manifest(struct oss *o, const char *bucket_id, const char *version)
{
	struct oss_bucket b = { 0 };
	struct oss_entry e = { .parts = 1 };
	struct oss_layout l;
	char oid[192];
	int r;

	snprintf(b.id, sizeof(b.id), "%s", bucket_id);
	snprintf(e.version, sizeof(e.version), "%s", version);
	r = oss_layout_load(o, &b, &e, &l);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	for (size_t i = 0; i < l.n; i++)
		for (uint64_t n = 0;; n++) {
			oss_oid_stripe(oid, sizeof(oid), bucket_id, l.parts[i].version, n);
			r = rados_remove(o->io, oid);
			if (r == -ENOENT)
				break;
			if (r < 0) {
				oss_layout_clear(&l);
				return r;
			}
		}
	oss_layout_clear(&l);
	oss_oid_manifest(oid, sizeof(oid), bucket_id, version);
	r = rados_remove(o->io, oid);
	return r == -ENOENT ? 0 : r;
}

/* Remove a queued version's stripes unless its key's entry names it after all (a gateway
 * that died between the index write and dequeuing its pending key). */
static int gc_one(struct oss *o, const char *gkey, const char *val, size_t vlen)
{
	char bucket_id[17], version[17], oid[192];
	struct json_object *j;
	const char *dot1 = strchr(gkey, '.'), *dot2;
	bool live = false, manifest_only = false;
	int r;

	if (!dot1 || !(dot2 = strchr(dot1 + 1, '.')) || dot2 - dot1 - 1 != 16 || strlen(dot2 + 1) != 16)
		return 0;
	memcpy(bucket_id, dot1 + 1, 16);
	bucket_id[16] = '\0';
	memcpy(version, dot2 + 1, 17);
	j = json_tokener_parse(strndupa(val, vlen));
	if (j) {
		struct json_object *k, *m;
		struct oss_bucket b = { 0 };
		struct oss_entry e;

		manifest_only = json_object_object_get_ex(j, "m", &m) && json_object_get_boolean(m);
		snprintf(b.id, sizeof(b.id), "%s", bucket_id);
		if (json_object_object_get_ex(j, "k", &k) && oss_entry_get(o, &b, json_object_get_string(k), &e) == 0) {
			live = streq(e.version, version);
			oss_entry_clear(&e);
		}
		json_object_put(j);
	}
	if (live)
		return 0;
	if (manifest_only) { /* an appendable object's earlier manifest: its parts live on */
		oss_oid_manifest(oid, sizeof(oid), bucket_id, version);
		r = rados_remove(o->io, oid);
		return r < 0 && r != -ENOENT ? r : 1;
	}
	if ((r = gc_manifest(o, bucket_id, version)) < 0)
		return r;
	for (uint64_t n = 0;; n++) {
		oss_oid_stripe(oid, sizeof(oid), bucket_id, version, n);
		r = rados_remove(o->io, oid);
		if (r == -ENOENT)
			break;
		if (r < 0)
			return r;
	}
	return 1;
}

int oss_gc_run(struct oss *o, time_t now)
{
	char due[32], start[160] = "";
	int removed = 0;

	snprintf(due, sizeof(due), "%012lld/", (long long)now); /* '/' sorts after '.' */
	for (;;) {
		rados_read_op_t op = rados_create_read_op();
		rados_omap_iter_t it = NULL;
		unsigned char more = 0;
		int prval = 0, r, n = 0;
		char *k, *v;
		size_t kl, vl;

		if (!op)
			return -ENOMEM;
		rados_read_op_omap_get_vals2(op, start, "", GC_BATCH, &it, &more, &prval);
		r = storage_read_op(o->io, op, OSS_GC_OID, &prval);
		while (r >= 0 && rados_omap_get_next2(it, &k, &v, &kl, &vl) == 0 && k) {
			char key[160];

			n++;
			snprintf(key, sizeof(key), "%.*s", (int)kl, k);
			snprintf(start, sizeof(start), "%s", key);
			if (strcmp(key, due) > 0) {
				more = 0;
				break;
			}
			r = gc_one(o, key, v, vl);
			if (r >= 0) {
				removed += r;
				r = gc_update(o, NULL, NULL, key);
			}
		}
		if (it)
			rados_omap_get_end(it);
		rados_release_read_op(op);
		if (r < 0)
			return r;
		if (!more || !n)
			break;
	}
	return removed;
}
