#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "log.h"
#include "parse.h"
#include "storage_rados.h"
#include "store-internal.h"
#include "util.h"

#define BUCKETS_OID "oss.buckets"

void oss_entry_clear(struct oss_entry *e)
{
	if (e && e->meta) {
		json_object_put(e->meta);
		e->meta = NULL;
	}
}

void oss_oid_shard(char *buf, size_t size, const char *bucket_id, unsigned shard)
{
	snprintf(buf, size, "oss.idx.%s.%02u", bucket_id, shard);
}

void oss_oid_stripe(char *buf, size_t size, const char *bucket_id, const char *version, uint64_t n)
{
	snprintf(buf, size, "oss.data.%s.%s.%llu", bucket_id, version, (unsigned long long)n);
}

unsigned oss_key_shard(const char *key)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h % OSS_SHARDS;
}

void oss_random_hex(char out[17])
{
	uint8_t b[8];

	if (ecs_random_bytes(b, sizeof(b)) < 0)
		memset(b, 0, sizeof(b));
	ecs_hex_encode(b, sizeof(b), out);
}

/* One omap value by key: *ret (malloc'd, NUL-terminated) or -ENOENT. */
int oss_omap_get(struct oss *o, const char *oid, const char *key, char **ret, size_t *ret_len)
{
	rados_read_op_t op = rados_create_read_op();
	rados_omap_iter_t it = NULL;
	const char *keys[1] = { key };
	size_t klen[1] = { strlen(key) };
	int prval = 0, r;

	if (!op)
		return -ENOMEM;
	rados_read_op_omap_get_vals_by_keys2(op, keys, 1, klen, &it, &prval);
	r = storage_read_op(o->io, op, oid, &prval);
	if (r >= 0) {
		char *k, *v;
		size_t kl, vl;

		r = -ENOENT;
		if (rados_omap_get_next2(it, &k, &v, &kl, &vl) == 0 && k) {
			char *copy = malloc(vl + 1);

			if (!copy) {
				r = -ENOMEM;
			} else {
				memcpy(copy, v, vl);
				copy[vl] = '\0';
				*ret = copy;
				if (ret_len)
					*ret_len = vl;
				r = 0;
			}
		}
	}
	if (it)
		rados_omap_get_end(it);
	rados_release_read_op(op);
	return r;
}

/* Set (val non-NULL) or remove one omap key, creating the object when create. */
int oss_omap_put(struct oss *o, const char *oid, const char *key, const char *val, bool create)
{
	rados_write_op_t op = rados_create_write_op();
	int r;

	if (!op)
		return -ENOMEM;
	if (create)
		rados_write_op_create(op, LIBRADOS_CREATE_IDEMPOTENT, NULL);
	if (val) {
		const char *keys[1] = { key }, *vals[1] = { val };
		size_t lens[1] = { strlen(val) };

		rados_write_op_omap_set(op, keys, vals, lens, 1);
	} else {
		const char *keys[1] = { key };

		rados_write_op_omap_rm_keys(op, keys, 1);
	}
	r = rados_write_op_operate(op, o->io, oid, NULL, 0);
	rados_release_write_op(op);
	return r;
}

int oss_store_init(struct oss *o)
{
	const char *oids[] = { BUCKETS_OID, OSS_GC_OID };
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(oids); i++) {
		if ((r = storage_create_object(o->io, oids[i], false)) < 0) {
			log_error("cannot create the store's objects", "oid=%s error=%s", oids[i], strerror(-r));
			return r;
		}
	}
	return 0;
}

static char *bucket_json(const struct oss_bucket *b)
{
	struct json_object *j = json_object_new_object();

	json_object_object_add(j, "id", json_object_new_string(b->id));
	json_object_object_add(j, "owner", json_object_new_string(b->owner));
	json_object_object_add(j, "acl", json_object_new_string(b->acl));
	json_object_object_add(j, "created", json_object_new_int64(b->created));
	return oss_json_take_text(j);
}

const char *oss_jstr(struct json_object *j, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(j, k, &v) && json_object_is_type(v, json_type_string) ? json_object_get_string(v)
												: "";
}

char *oss_json_take_text(struct json_object *j)
{
	char *s = j ? strdup(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN)) : NULL;

	json_object_put(j);
	return s;
}

static long long jint(struct json_object *j, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(j, k, &v) ? json_object_get_int64(v) : 0;
}

int oss_bucket_get(struct oss *o, const char *name, struct oss_bucket *ret)
{
	char *val = NULL;
	struct json_object *j;
	struct oss_bucket b = { 0 };
	int r = oss_omap_get(o, BUCKETS_OID, name, &val, NULL);

	if (r < 0)
		return r;
	j = json_tokener_parse(val);
	free(val);
	if (!j)
		return -EIO;
	snprintf(b.name, sizeof(b.name), "%s", name);
	snprintf(b.id, sizeof(b.id), "%s", oss_jstr(j, "id"));
	snprintf(b.owner, sizeof(b.owner), "%s", oss_jstr(j, "owner"));
	snprintf(b.acl, sizeof(b.acl), "%s", oss_jstr(j, "acl"));
	b.created = jint(j, "created");
	json_object_put(j);
	*ret = b;
	return 0;
}

static int owner_count(struct oss *o, const char *owner, unsigned *ret)
{
	char **names = NULL;
	size_t n = 0;
	bool more = false;
	int r = oss_bucket_names(o, owner, "", "", 1000, &names, &n, &more);

	if (r < 0)
		return r;
	ecs_strv_free(names, n);
	*ret = (unsigned)n;
	return 0;
}

int oss_bucket_create(struct oss *o, const struct oss_bucket *b)
{
	char owner_oid[128], oid[128];
	_cleanup_free_ char *val = bucket_json(b);
	rados_write_op_t op;
	unsigned count;
	int r, prval = 0;

	if (!val)
		return -ENOMEM;
	if ((r = owner_count(o, b->owner, &count)) < 0)
		return r;
	if (count >= o->max_buckets)
		return -EDQUOT;
	/* The index shards first, so an entry never lands in a missing one. */
	for (unsigned i = 0; i < OSS_SHARDS; i++) {
		oss_oid_shard(oid, sizeof(oid), b->id, i);
		if ((r = storage_create_object(o->io, oid, false)) < 0)
			return r;
	}
	op = rados_create_write_op();
	if (!op)
		return -ENOMEM;
	{
		const char *keys[1] = { b->name }, *vals[1] = { val };
		size_t lens[1] = { strlen(val) };

		/* A missing key compares equal to "": the name is taken atomically. */
		rados_write_op_omap_cmp(op, b->name, LIBRADOS_CMPXATTR_OP_EQ, "", 0, &prval);
		rados_write_op_omap_set(op, keys, vals, lens, 1);
	}
	r = rados_write_op_operate(op, o->io, BUCKETS_OID, NULL, 0);
	rados_release_write_op(op);
	if (r == -ECANCELED)
		return -EEXIST;
	if (r < 0)
		return r;
	snprintf(owner_oid, sizeof(owner_oid), "oss.owner.%s", b->owner);
	return oss_omap_put(o, owner_oid, b->name, b->id, true);
}

int oss_bucket_set_acl(struct oss *o, const struct oss_bucket *b, const char *acl)
{
	struct oss_bucket nb = *b;
	_cleanup_free_ char *val = NULL;

	snprintf(nb.acl, sizeof(nb.acl), "%s", acl);
	val = bucket_json(&nb);
	if (!val)
		return -ENOMEM;
	return oss_omap_put(o, BUCKETS_OID, b->name, val, false);
}

/* Whether a shard holds any key. */
static int shard_empty(struct oss *o, const char *oid, bool *ret)
{
	rados_read_op_t op = rados_create_read_op();
	rados_omap_iter_t it = NULL;
	unsigned char more = 0;
	int prval = 0, r;

	if (!op)
		return -ENOMEM;
	rados_read_op_omap_get_keys2(op, "", 1, &it, &more, &prval);
	r = storage_read_op(o->io, op, oid, &prval);
	if (r >= 0)
		*ret = rados_omap_iter_size(it) == 0;
	if (it)
		rados_omap_get_end(it);
	rados_release_read_op(op);
	return r == -ENOENT ? (*ret = true, 0) : r;
}

int oss_bucket_delete(struct oss *o, const struct oss_bucket *b)
{
	char oid[128];
	bool empty;
	int r;

	for (unsigned i = 0; i < OSS_SHARDS; i++) {
		oss_oid_shard(oid, sizeof(oid), b->id, i);
		if ((r = shard_empty(o, oid, &empty)) < 0)
			return r;
		if (!empty)
			return -ENOTEMPTY;
	}
	/* Uploads in progress keep it too (OSS): abort them first. */
	snprintf(oid, sizeof(oid), "oss.uploads.%s", b->id);
	if ((r = shard_empty(o, oid, &empty)) < 0)
		return r;
	if (!empty)
		return -ENOTEMPTY;
	rados_remove(o->io, oid);
	if ((r = oss_omap_put(o, BUCKETS_OID, b->name, NULL, false)) < 0)
		return r;
	snprintf(oid, sizeof(oid), "oss.owner.%s", b->owner);
	if ((r = oss_omap_put(o, oid, b->name, NULL, false)) < 0 && r != -ENOENT)
		return r;
	for (unsigned i = 0; i < OSS_SHARDS; i++) {
		oss_oid_shard(oid, sizeof(oid), b->id, i);
		r = rados_remove(o->io, oid);
		if (r < 0 && r != -ENOENT)
			log_warn("cannot remove an index shard", "oid=%s error=%s", oid, strerror(-r));
	}
	return 0;
}

int oss_bucket_names(struct oss *o, const char *owner, const char *prefix, const char *marker, unsigned max,
		     char ***ret_names, size_t *ret_n, bool *ret_more)
{
	char oid[128];
	rados_read_op_t op;
	rados_omap_iter_t it = NULL;
	unsigned char more = 0;
	char **names = calloc(max + 1, sizeof(*names));
	size_t n = 0;
	int prval = 0, r;

	if (!names)
		return -ENOMEM;
	snprintf(oid, sizeof(oid), "oss.owner.%s", owner);
	op = rados_create_read_op();
	if (!op) {
		free(names);
		return -ENOMEM;
	}
	/* max <= 1000: one request (an OSD answers at most 1,024). */
	rados_read_op_omap_get_vals2(op, marker, prefix, max, &it, &more, &prval);
	r = storage_read_op(o->io, op, oid, &prval);
	if (r == -ENOENT) {
		r = 0;
	} else if (r >= 0) {
		char *k, *v;
		size_t kl, vl;

		while (n < max && rados_omap_get_next2(it, &k, &v, &kl, &vl) == 0 && k) {
			names[n] = strndup(k, kl);
			if (!names[n]) {
				r = -ENOMEM;
				break;
			}
			n++;
		}
	}
	if (it)
		rados_omap_get_end(it);
	rados_release_read_op(op);
	if (r < 0) {
		ecs_strv_free(names, n);
		return r;
	}
	*ret_names = names;
	*ret_n = n;
	*ret_more = more;
	return 0;
}
