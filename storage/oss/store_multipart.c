/* Multipart uploads (store.h): the uploads of a bucket, their parts, and Complete and
 * Abort, which claim an upload once (the `state` key of its parts object) so a part
 * committed concurrently never goes unnoticed: it either lands before the claim and is
 * used or collected, or fails. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "crypto.h"
#include "log.h"
#include "storage_rados.h"
#include "crc64.h"
#include "store-internal.h"
#include "util.h"

#define STATE_KEY "state"
#define UPLOAD_SEP '\x01' /* below every byte a key may hold */

static void uploads_oid(char *buf, size_t size, const char *bucket_id)
{
	snprintf(buf, size, "oss.uploads.%s", bucket_id);
}

static void parts_oid(char *buf, size_t size, const char *bucket_id, const char *upload_id)
{
	snprintf(buf, size, "oss.parts.%s.%s", bucket_id, upload_id);
}

static void upload_key(char *buf, size_t size, const char *key, const char *id)
{
	snprintf(buf, size, "%s%c%s", key, UPLOAD_SEP, id);
}

void oss_upload_clear(struct oss_upload *u)
{
	if (u)
		oss_entry_clear(&u->e);
}

static char *upload_json(const struct oss_upload *u)
{
	struct json_object *j = json_object_new_object();

	json_object_object_add(j, "t", json_object_new_int64(u->initiated));
	json_object_object_add(j, "o", json_object_new_string(u->initiator));
	json_object_object_add(j, "c", json_object_new_string(u->e.ctype));
	json_object_object_add(j, "a", json_object_new_string(u->e.acl[0] ? u->e.acl : "default"));
	json_object_object_add(j, "m", u->e.meta ? json_object_get(u->e.meta) : json_object_new_object());
	return oss_json_take_text(j);
}

/* An upload record's value (key and id set by the caller). */
static int upload_parse(const char *val, size_t len, struct oss_upload *u)
{
	struct json_object *j, *v;
	struct oss_entry e = { 0 };
	int r = oss_entry_parse(val, len, &e); /* c, a, m as an entry's */

	if (r < 0)
		return r;
	u->e.meta = e.meta;
	snprintf(u->e.ctype, sizeof(u->e.ctype), "%s", e.ctype);
	snprintf(u->e.acl, sizeof(u->e.acl), "%s", e.acl);
	j = json_tokener_parse(val);
	if (!j)
		return -EIO;
	u->initiated = json_object_object_get_ex(j, "t", &v) ? json_object_get_int64(v) : 0;
	snprintf(u->initiator, sizeof(u->initiator), "%s", oss_jstr(j, "o"));
	json_object_put(j);
	return 0;
}

int oss_upload_create(struct oss *o, const struct oss_bucket *b, struct oss_upload *u)
{
	char oid[160], ukey[1100];
	uint8_t rnd[OSS_UPLOAD_ID_LEN / 2];
	_cleanup_free_ char *val = NULL;
	int r;

	if ((r = ecs_random_bytes(rnd, sizeof(rnd))) < 0)
		return r;
	ecs_hex_encode(rnd, sizeof(rnd), u->id);
	for (char *p = u->id; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 32);
	u->initiated = time(NULL);
	if (!(val = upload_json(u)))
		return -ENOMEM;
	/* The parts object first: an upload listed always has one. */
	parts_oid(oid, sizeof(oid), b->id, u->id);
	if ((r = storage_create_object(o->io, oid, true)) < 0)
		return r;
	uploads_oid(oid, sizeof(oid), b->id);
	upload_key(ukey, sizeof(ukey), u->e.key, u->id);
	return oss_omap_put(o, oid, ukey, val, true);
}

int oss_upload_get(struct oss *o, const struct oss_bucket *b, const char *key, const char *id, struct oss_upload *ret)
{
	char oid[160], ukey[1100], *val = NULL;
	size_t len = 0;
	int r;

	if (strlen(id) != OSS_UPLOAD_ID_LEN || strspn(id, "0123456789ABCDEF") != OSS_UPLOAD_ID_LEN)
		return -ENOENT;
	uploads_oid(oid, sizeof(oid), b->id);
	upload_key(ukey, sizeof(ukey), key, id);
	if ((r = oss_omap_get(o, oid, ukey, &val, &len)) < 0)
		return r;
	memset(ret, 0, sizeof(*ret));
	snprintf(ret->id, sizeof(ret->id), "%s", id);
	snprintf(ret->e.key, sizeof(ret->e.key), "%s", key);
	r = upload_parse(val, len, ret);
	free(val);
	if (r < 0)
		oss_upload_clear(ret);
	return r;
}

static char *part_json(const struct oss_part *p)
{
	struct json_object *j = json_object_new_object();

	json_object_object_add(j, "v", json_object_new_string(p->version));
	json_object_object_add(j, "s", json_object_new_int64((int64_t)p->size));
	json_object_object_add(j, "e", json_object_new_string(p->etag));
	json_object_object_add(j, "t", json_object_new_int64(p->mtime));
	if (p->has_crc64) {
		char crc[24];

		snprintf(crc, sizeof(crc), "%llu", (unsigned long long)p->crc64);
		json_object_object_add(j, "k", json_object_new_string(crc));
	}
	return oss_json_take_text(j);
}

/* Part number of the version e tells (its version, ETag, size, time and CRC-64). */
static void part_from_entry(const struct oss_entry *e, unsigned number, struct oss_part *p)
{
	memset(p, 0, sizeof(*p));
	p->number = number;
	snprintf(p->version, sizeof(p->version), "%s", e->version);
	snprintf(p->etag, sizeof(p->etag), "%.32s", e->etag);
	p->size = e->size;
	p->mtime = e->mtime;
	p->has_crc64 = e->has_crc64;
	p->crc64 = e->crc64;
}

static int part_parse(const char *k, size_t kl, const char *val, size_t vl, struct oss_part *p)
{
	struct oss_entry e = { 0 };
	int r;

	char num[6];

	if (kl != 5)
		return -EINVAL;
	memcpy(num, k, 5);
	num[5] = '\0';
	if (strspn(num, "0123456789") != 5)
		return -EINVAL;
	if ((r = oss_entry_parse(val, vl, &e)) < 0)
		return r;
	part_from_entry(&e, (unsigned)atoi(num), p);
	oss_entry_clear(&e);
	return 0;
}

int oss_part_commit(struct oss_writer *w, const struct oss_upload *u, unsigned number, const uint8_t *md5,
		    struct oss_part *ret)
{
	struct oss_entry e = { 0 };
	struct oss_part p;
	_cleanup_free_ char *val = NULL;
	char oid[160], pkey[16];
	int r;

	if ((r = oss_writer_seal(w, md5, &e)) < 0)
		goto fail;
	part_from_entry(&e, number, &p);
	if (!(val = part_json(&p))) {
		r = -ENOMEM;
		goto fail;
	}
	parts_oid(oid, sizeof(oid), w->b.id, u->id);
	snprintf(pkey, sizeof(pkey), "%05u", number);
	for (int attempt = 0;; attempt++) {
		const char *keys[1] = { pkey }, *vals[1] = { val };
		size_t lens[1] = { strlen(val) }, curlen = 0;
		char *cur = NULL;
		int prval = 0, prval2 = 0;
		rados_write_op_t op;
		struct oss_part old;

		r = oss_omap_get(w->o, oid, pkey, &cur, &curlen);
		if (r < 0 && r != -ENOENT)
			goto fail;
		if (!(op = rados_create_write_op())) {
			free(cur);
			r = -ENOMEM;
			goto fail;
		}
		/* Fails when the upload is gone or claimed, or the part changed meanwhile. */
		rados_write_op_assert_exists(op);
		rados_write_op_omap_cmp(op, STATE_KEY, LIBRADOS_CMPXATTR_OP_EQ, "", 0, &prval);
		rados_write_op_omap_cmp(op, pkey, LIBRADOS_CMPXATTR_OP_EQ, cur ? cur : "", curlen, &prval2);
		rados_write_op_omap_set(op, keys, vals, lens, 1);
		r = rados_write_op_operate(op, w->o->io, oid, NULL, 0);
		rados_release_write_op(op);
		if (r == 0 && cur && part_parse(pkey, 5, cur, curlen, &old) == 0)
			oss_gc_queue(w->o, w->b.id, w->key, old.version, time(NULL) + w->o->gc_delay_s);
		free(cur);
		if (r == 0)
			break;
		if (r == -ECANCELED && prval2 < 0 && prval >= 0 && attempt < 8)
			continue; /* another upload of this part number won: replace it */
		if (r == -ECANCELED || r == -ENOENT)
			r = -ENOENT;
		goto fail;
	}
	*ret = p;
fail:
	return oss_writer_end(w, r);
}

/* Up to max parts after marker (a part number) of the parts object oid. */
static int parts_read(struct oss *o, const char *oid, unsigned marker, unsigned max, struct oss_part *out,
		      size_t *ret_n, bool *ret_more)
{
	rados_read_op_t op = rados_create_read_op();
	rados_omap_iter_t it = NULL;
	unsigned char more = 0;
	char after[16] = "";
	size_t n = 0;
	int prval = 0, r;

	if (!op)
		return -ENOMEM;
	if (marker)
		snprintf(after, sizeof(after), "%05u", marker);
	/* Part keys are digits and sort before "state". */
	rados_read_op_omap_get_vals2(op, after, "", max, &it, &more, &prval);
	r = storage_read_op(o->io, op, oid, &prval);
	if (r >= 0) {
		char *k, *v;
		size_t kl, vl;

		while (n < max && rados_omap_get_next2(it, &k, &v, &kl, &vl) == 0 && k) {
			if (part_parse(k, kl, v, vl, &out[n]) < 0) {
				more = 0; /* the state key: past the parts */
				break;
			}
			n++;
		}
	}
	if (it)
		rados_omap_get_end(it);
	rados_release_read_op(op);
	if (r < 0)
		return r;
	*ret_n = n;
	*ret_more = more;
	return 0;
}

int oss_parts_list(struct oss *o, const struct oss_bucket *b, const char *upload_id, unsigned marker, unsigned max,
		   struct oss_part **ret, size_t *ret_n, bool *ret_more)
{
	char oid[160];
	struct oss_part *parts = calloc(max ? max : 1, sizeof(*parts));
	size_t n = 0;
	bool more = false;
	int r;

	if (!parts)
		return -ENOMEM;
	parts_oid(oid, sizeof(oid), b->id, upload_id);
	/* An OSD may answer fewer than asked: read on until max or the end. */
	while (n < max) {
		size_t got = 0;

		r = parts_read(o, oid, n ? parts[n - 1].number : marker, max - (unsigned)n, parts + n, &got, &more);
		if (r < 0) {
			free(parts);
			return r;
		}
		n += got;
		if (!more || !got)
			break;
	}
	*ret = parts;
	*ret_n = n;
	*ret_more = more && n == max;
	if (*ret_more) {
		/* "more" may be only the state key: look. */
		struct oss_part next;
		size_t got = 0;
		bool m2;

		if (parts_read(o, oid, parts[n - 1].number, 1, &next, &got, &m2) == 0 && !got)
			*ret_more = false;
	}
	return 0;
}

/* All parts of an upload (at most OSS_PART_NUMBER_MAX), in order. */
static int parts_all(struct oss *o, const struct oss_bucket *b, const char *id, struct oss_part **ret, size_t *ret_n)
{
	bool more;

	return oss_parts_list(o, b, id, 0, OSS_PART_NUMBER_MAX, ret, ret_n, &more);
}

/* Claim the upload for Complete ("complete") or Abort ("abort"); -ENOENT when it is gone
 * or claimed already. */
static int claim(struct oss *o, const char *oid, const char *state)
{
	rados_write_op_t op = rados_create_write_op();
	const char *keys[1] = { STATE_KEY }, *vals[1] = { state };
	size_t lens[1] = { strlen(state) };
	int prval = 0, r;

	if (!op)
		return -ENOMEM;
	rados_write_op_assert_exists(op);
	rados_write_op_omap_cmp(op, STATE_KEY, LIBRADOS_CMPXATTR_OP_EQ, "", 0, &prval);
	rados_write_op_omap_set(op, keys, vals, lens, 1);
	r = rados_write_op_operate(op, o->io, oid, NULL, 0);
	rados_release_write_op(op);
	return r == -ECANCELED ? -ENOENT : r;
}

/* The upload's record and parts object, once its parts are used or queued. */
static void upload_forget(struct oss *o, const struct oss_bucket *b, const struct oss_upload *u)
{
	char oid[160], ukey[1100];
	int r;

	uploads_oid(oid, sizeof(oid), b->id);
	upload_key(ukey, sizeof(ukey), u->e.key, u->id);
	if ((r = oss_omap_put(o, oid, ukey, NULL, false)) < 0 && r != -ENOENT)
		log_warn("cannot remove an upload's record", "upload=%s error=%s", u->id, strerror(-r));
	parts_oid(oid, sizeof(oid), b->id, u->id);
	if ((r = rados_remove(o->io, oid)) < 0 && r != -ENOENT)
		log_warn("cannot remove an upload's parts", "upload=%s error=%s", u->id, strerror(-r));
}

int oss_upload_abort(struct oss *o, const struct oss_bucket *b, const struct oss_upload *u)
{
	struct oss_part *parts = NULL;
	size_t n = 0;
	char oid[160];
	int r;

	parts_oid(oid, sizeof(oid), b->id, u->id);
	if ((r = claim(o, oid, "abort")) < 0)
		return r;
	if ((r = parts_all(o, b, u->id, &parts, &n)) < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		if ((r = oss_gc_queue(o, b->id, u->e.key, parts[i].version, time(NULL))) < 0) {
			free(parts);
			return r;
		}
	free(parts);
	upload_forget(o, b, u);
	return 0;
}

static const struct oss_part *find_part(const struct oss_part *parts, size_t n, unsigned number)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (parts[mid].number == number)
			return &parts[mid];
		if (parts[mid].number < number)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int oss_upload_complete(struct oss *o, const struct oss_bucket *b, struct oss_upload *u, const unsigned *numbers,
			char (*etags)[33], size_t n, bool forbid_overwrite, struct oss_entry *ret_e, size_t *ret_bad)
{
	struct oss_part *parts = NULL;
	const struct oss_part **use = NULL;
	struct oss_part_ref *refs = NULL;
	size_t np = 0;
	EVP_MD_CTX *md5 = NULL;
	uint8_t digest[ECS_MD5_LEN], pd[ECS_MD5_LEN];
	unsigned dlen;
	char oid[160];
	struct oss_entry *e = &u->e;
	int r;

	if ((r = parts_all(o, b, u->id, &parts, &np)) < 0)
		return r;
	if (!(use = calloc(n ? n : 1, sizeof(*use))) || !(md5 = EVP_MD_CTX_new()) ||
	    EVP_DigestInit_ex(md5, EVP_md5(), NULL) != 1) {
		r = -ENOMEM;
		goto out;
	}
	e->size = 0;
	e->has_crc64 = true;
	e->crc64 = 0;
	for (size_t i = 0; i < n; i++) {
		use[i] = find_part(parts, np, numbers[i]);
		if (!use[i] || !strcaseeq(use[i]->etag, etags[i])) {
			*ret_bad = i;
			r = -ENXIO;
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (i + 1 < n && use[i]->size < OSS_PART_MIN) {
			*ret_bad = i;
			r = -ERANGE;
			goto out;
		}
		if (ecs_hex_decode(use[i]->etag, pd, sizeof(pd)) < 0) {
			r = -EIO;
			goto out;
		}
		EVP_DigestUpdate(md5, pd, sizeof(pd));
		e->size += use[i]->size;
		e->has_crc64 = e->has_crc64 && use[i]->has_crc64;
		e->crc64 = oss_crc64_combine(e->crc64, use[i]->crc64, use[i]->size);
	}
	EVP_DigestFinal_ex(md5, digest, &dlen);
	oss_random_hex(e->version);
	if (!(refs = calloc(n, sizeof(*refs)))) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		memcpy(refs[i].version, use[i]->version, sizeof(refs[i].version));
		refs[i].size = use[i]->size;
	}
	if ((r = oss_manifest_write(o, b->id, e->version, refs, n)) < 0)
		goto out;
	parts_oid(oid, sizeof(oid), b->id, u->id);
	if ((r = claim(o, oid, "complete")) < 0) {
		/* Another Complete or an Abort came first: the parts are theirs, the manifest goes. */
		oss_gc_queue_manifest_only(o, b->id, e->key, e->version);
		goto out;
	}
	ecs_hex_encode(digest, ECS_MD5_LEN, e->etag);
	snprintf(e->etag + 32, sizeof(e->etag) - 32, "-%zu", n);
	e->parts = (unsigned)n;
	e->mtime = time(NULL);
	r = oss_index_put(o, b, e, forbid_overwrite);
	/* The parts not used are collected; on failure (the key exists, forbidden to
	 * overwrite), all of them and the manifest: the upload is over either way. */
	for (size_t i = 0; i < np; i++) {
		bool used = false;

		for (size_t j = 0; r == 0 && j < n && !used; j++)
			used = use[j] == &parts[i];
		if (!used)
			oss_gc_queue(o, b->id, e->key, parts[i].version, time(NULL));
	}
	if (r < 0) /* the parts are queued one by one above */
		oss_gc_queue_manifest_only(o, b->id, e->key, e->version);
	upload_forget(o, b, u);
	if (r == 0) {
		*ret_e = *e;
		e->meta = NULL; /* moved */
	}
out:
	EVP_MD_CTX_free(md5);
	free(refs);
	free(use);
	free(parts);
	return r;
}

void oss_upload_listing_clear(struct oss_upload_listing *l)
{
	for (size_t i = 0; i < l->n; i++)
		oss_upload_clear(&l->uploads[i]);
	free(l->uploads);
	ecs_strv_free(l->prefixes, l->n_prefixes);
	memset(l, 0, sizeof(*l));
}

int oss_uploads_list(struct oss *o, const struct oss_bucket *b, const char *prefix, const char *delimiter,
		     const char *key_marker, const char *id_marker, unsigned max, struct oss_upload_listing *ret)
{
	struct oss_upload_listing l = { 0 };
	char oid[160], start[1100] = "";
	size_t plen = strlen(prefix), dlen = delimiter ? strlen(delimiter) : 0;
	bool done = false;
	int r = 0;

	if (!(l.uploads = calloc(max ? max : 1, sizeof(*l.uploads))) ||
	    !(l.prefixes = calloc(max ? max : 1, sizeof(*l.prefixes))))
		goto nomem;
	uploads_oid(oid, sizeof(oid), b->id);
	/* After key-marker: every upload of it when no upload-id-marker, else those after it. */
	if (*key_marker && *id_marker)
		upload_key(start, sizeof(start), key_marker, id_marker);
	else if (*key_marker)
		snprintf(start, sizeof(start), "%s%c\x7f", key_marker, UPLOAD_SEP);
	/* A marker that is a common prefix (ends with the delimiter): past all keys under it. */
	if (*key_marker && !*id_marker && dlen && strlen(key_marker) >= dlen &&
	    streq(key_marker + strlen(key_marker) - dlen, delimiter))
		snprintf(start, sizeof(start), "%s\xff", key_marker);
	while (!done) {
		rados_read_op_t op = rados_create_read_op();
		rados_omap_iter_t it = NULL;
		unsigned char more = 0;
		int prval = 0, got = 0;
		char *k, *v;
		size_t kl, vl;

		if (!op)
			goto nomem;
		rados_read_op_omap_get_vals2(op, start, prefix, OSS_LIST_BATCH, &it, &more, &prval);
		r = storage_read_op(o->io, op, oid, &prval);
		if (r == -ENOENT)
			r = 0, more = 0;
		while (r >= 0 && rados_omap_get_next2(it, &k, &v, &kl, &vl) == 0 && k) {
			_cleanup_free_ char *full = strndup(k, kl);
			char *sep = full ? strchr(full, UPLOAD_SEP) : NULL;
			const char *d;

			got++;
			if (!full) {
				r = -ENOMEM;
				break;
			}
			snprintf(start, sizeof(start), "%s", full);
			if (!sep)
				continue;
			*sep = '\0';
			d = dlen ? strstr(full + plen, delimiter) : NULL;
			if (d) {
				char cp[1100];

				snprintf(cp, sizeof(cp), "%.*s", (int)(d - full + dlen), full);
				/* One entry per prefix, and none for the prefix the marker ends in. */
				if ((l.n_prefixes && streq(l.prefixes[l.n_prefixes - 1], cp)) ||
				    (*key_marker && str_has_prefix(key_marker, cp)))
					continue;
				if (l.n + l.n_prefixes >= max) {
					l.truncated = true;
					done = true;
					break;
				}
				if (!(l.prefixes[l.n_prefixes] = strdup(cp))) {
					r = -ENOMEM;
					break;
				}
				l.n_prefixes++;
				/* The next page starts after every key under it. */
				snprintf(l.next_key, sizeof(l.next_key), "%s", cp);
				l.next_id[0] = '\0';
				continue;
			}
			if (l.n + l.n_prefixes >= max) {
				l.truncated = true;
				done = true;
				break;
			}
			{
				struct oss_upload *u = &l.uploads[l.n];

				memset(u, 0, sizeof(*u));
				snprintf(u->e.key, sizeof(u->e.key), "%s", full);
				snprintf(u->id, sizeof(u->id), "%s", sep + 1);
				if (upload_parse(v, vl, u) == 0)
					l.n++;
				snprintf(l.next_key, sizeof(l.next_key), "%s", full);
				snprintf(l.next_id, sizeof(l.next_id), "%s", sep + 1);
			}
		}
		if (it)
			rados_omap_get_end(it);
		rados_release_read_op(op);
		if (r < 0)
			goto fail;
		if (!more || !got)
			break;
	}
	if (!l.truncated)
		l.next_key[0] = l.next_id[0] = '\0';
	*ret = l;
	return 0;
nomem:
	r = -ENOMEM;
fail:
	oss_upload_listing_clear(&l);
	return r;
}
