/* AppendObject and object ACLs: changes of one index entry guarded by comparing it with
 * the value read, so a concurrent change makes this one fail (append) or retry (ACL). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc64.h"
#include "crypto.h"
#include "store-internal.h"
#include "util.h"

/* Replace key's entry by val if it is still cur (NULL: absent). -ECANCELED otherwise. */
static int entry_swap(struct oss *o, const struct oss_bucket *b, const char *key, const char *cur, size_t curlen,
		      const char *val)
{
	rados_write_op_t op = rados_create_write_op();
	const char *keys[1] = { key }, *vals[1] = { val };
	size_t lens[1] = { strlen(val) };
	char oid[128];
	int prval = 0, r;

	if (!op)
		return -ENOMEM;
	oss_oid_shard(oid, sizeof(oid), b->id, oss_key_shard(key));
	rados_write_op_omap_cmp(op, key, LIBRADOS_CMPXATTR_OP_EQ, cur ? cur : "", cur ? curlen : 0, &prval);
	rados_write_op_omap_set(op, keys, vals, lens, 1);
	r = rados_write_op_operate(op, o->io, oid, NULL, 0);
	rados_release_write_op(op);
	return r;
}

int oss_append(struct oss_writer *w, uint64_t position, const struct oss_entry *tmpl, struct oss_entry *ret_e,
	       uint64_t *ret_len)
{
	struct oss *o = w->o;
	struct oss_entry old = { 0 }, e = { 0 };
	struct oss_layout l = { 0 };
	struct oss_part_ref *refs = NULL;
	uint8_t digest[ECS_MD5_LEN], chain[ECS_MD5_LEN];
	char oid[128], *cur = NULL, chained[80];
	_cleanup_free_ char *val = NULL;
	size_t curlen = 0;
	bool exists;
	int r;

	if ((r = oss_writer_finish(w, NULL, digest)) < 0)
		goto fail;
	oss_oid_shard(oid, sizeof(oid), w->b.id, oss_key_shard(w->key));
	r = oss_omap_get(o, oid, w->key, &cur, &curlen);
	if (r < 0 && r != -ENOENT)
		goto fail;
	exists = r == 0;
	if (exists && (r = oss_entry_parse(cur, curlen, &old)) < 0)
		goto fail;
	*ret_len = exists ? old.size : 0;
	if (exists && !old.appendable) {
		r = -EPERM;
		goto fail;
	}
	if (position != *ret_len) {
		r = -ESPIPE;
		goto fail;
	}
	if ((exists && old.parts >= OSS_APPEND_MAX) || *ret_len + w->size > OSS_OBJECT_MAX) {
		r = -E2BIG;
		goto fail;
	}
	if (exists && (r = oss_layout_load(o, &w->b, &old, &l)) < 0)
		goto fail;
	if (!(refs = calloc(l.n + 1, sizeof(*refs)))) {
		r = -ENOMEM;
		goto fail;
	}
	if (l.n)
		memcpy(refs, l.parts, l.n * sizeof(*refs));
	memcpy(refs[l.n].version, w->version, sizeof(refs[l.n].version));
	refs[l.n].size = w->size;
	/* The entry: the template's or the old one's metadata, a new manifest version. */
	snprintf(e.key, sizeof(e.key), "%s", w->key);
	snprintf(e.ctype, sizeof(e.ctype), "%s", exists ? old.ctype : tmpl->ctype);
	snprintf(e.acl, sizeof(e.acl), "%s", exists ? old.acl : tmpl->acl);
	e.meta = json_object_get(exists ? old.meta : tmpl->meta);
	oss_random_hex(e.version);
	e.size = *ret_len + w->size;
	e.parts = (unsigned)(l.n + 1);
	e.appendable = true;
	e.mtime = time(NULL);
	e.has_crc64 = !exists || old.has_crc64;
	e.crc64 = oss_crc64_combine(exists ? old.crc64 : 0, w->crc64, w->size);
	/* The ETag chains the earlier one with this part's MD5. */
	snprintf(chained, sizeof(chained), "%s", exists ? old.etag : "");
	ecs_hex_encode(digest, ECS_MD5_LEN, chained + strlen(chained));
	ecs_md5(chained, strlen(chained), chain);
	ecs_hex_encode(chain, ECS_MD5_LEN, e.etag);
	if ((r = oss_manifest_write(o, w->b.id, e.version, refs, l.n + 1)) < 0)
		goto fail;
	if (!(val = oss_entry_json(&e))) {
		r = -ENOMEM;
		goto fail_manifest;
	}
	r = entry_swap(o, &w->b, w->key, exists ? cur : NULL, curlen, val);
	if (r == -ECANCELED) {
		r = -ESPIPE; /* another append (or a PUT, a DELETE) came first */
		goto fail_manifest;
	}
	if (r < 0)
		goto fail_manifest;
	if (exists)
		oss_gc_queue_manifest_only(o, w->b.id, w->key, old.version);
	oss_writer_done(w);
	*ret_e = e;
	e.meta = NULL;
	r = 0;
	goto out;
fail_manifest:
	oss_gc_queue_manifest_only(o, w->b.id, w->key, e.version);
fail:
	oss_writer_abort(w);
out:
	free(refs);
	free(cur);
	oss_layout_clear(&l);
	oss_entry_clear(&old);
	oss_entry_clear(&e);
	return r;
}

int oss_entry_set_acl(struct oss *o, const struct oss_bucket *b, const char *key, const char *acl)
{
	char oid[128];
	int r;

	oss_oid_shard(oid, sizeof(oid), b->id, oss_key_shard(key));
	for (int attempt = 0; attempt < 8; attempt++) {
		struct oss_entry e = { 0 };
		char *cur = NULL;
		_cleanup_free_ char *val = NULL;
		size_t curlen = 0;

		if ((r = oss_omap_get(o, oid, key, &cur, &curlen)) < 0)
			return r;
		if ((r = oss_entry_parse(cur, curlen, &e)) == 0) {
			snprintf(e.key, sizeof(e.key), "%s", key);
			snprintf(e.acl, sizeof(e.acl), "%s", acl);
			val = oss_entry_json(&e);
			r = val ? entry_swap(o, b, key, cur, curlen, val) : -ENOMEM;
		}
		oss_entry_clear(&e);
		free(cur);
		if (r != -ECANCELED)
			return r;
	}
	return -EBUSY;
}
