/* store.h: buckets, the bucket index and object bytes in RADOS (docs/oss-api.md, "Storage
 * layout"). Buckets are omap keys of `oss.buckets` (names global) and of
 * `oss.owner.<account>`; an object's index entry is an omap key of one of its bucket's
 * OSS_SHARDS `oss.idx.<bucket id>.<n>` objects; its bytes are OSS_STRIPE-sized RADOS
 * objects `oss.data.<bucket id>.<version>.<n>` never rewritten; `oss.gc` queues versions to
 * remove. A PUT writes every stripe, then the entry in one RADOS operation. */
#ifndef OSS_STORE_H
#define OSS_STORE_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "oss.h"

#define OSS_STRIPE (4u << 20)
#define OSS_WRITE_CHUNK (1u << 20) /* bytes buffered before a RADOS write */
#define OSS_SHARDS 16
#define OSS_PENDING_S (6 * 3600)   /* a PUT may take this long; its stripes are collected after */
#define OSS_OBJECT_MAX (5ull << 30)
#define OSS_LIST_BATCH 100	    /* omap entries read from one shard at a time (OSD cap: 1,024) */

struct oss_bucket {
	char name[64];
	char id[17];
	char owner[64];
	char acl[24];
	long long created;
};

struct oss_entry {
	char key[1024];
	char version[17];
	uint64_t size;
	char etag[33]; /* hex MD5, lower case */
	long long mtime;
	char ctype[256];
	char acl[24];		  /* "default" or a canned ACL */
	struct json_object *meta; /* {"name": "value"} of x-oss-meta-*, owned */
};
void oss_entry_clear(struct oss_entry *e);

int oss_store_init(struct oss *o);
/* 16 random hex digits: bucket ids and versions. */
void oss_random_hex(char out[17]);

int oss_bucket_get(struct oss *o, const char *name, struct oss_bucket *ret); /* -ENOENT */
/* -EEXIST when the name is taken (by anyone), -EDQUOT past o->max_buckets for the owner. */
int oss_bucket_create(struct oss *o, const struct oss_bucket *b);
int oss_bucket_set_acl(struct oss *o, const struct oss_bucket *b, const char *acl);
int oss_bucket_delete(struct oss *o, const struct oss_bucket *b); /* -ENOTEMPTY */
/* An owner's bucket names after marker, in order, at most max; *ret_more when others follow. */
int oss_bucket_names(struct oss *o, const char *owner, const char *prefix, const char *marker, unsigned max,
		     char ***ret_names, size_t *ret_n, bool *ret_more);

int oss_entry_get(struct oss *o, const struct oss_bucket *b, const char *key, struct oss_entry *ret); /* -ENOENT */
/* Remove the entry (its version queued for GC); -ENOENT when there was none. */
int oss_entry_delete(struct oss *o, const struct oss_bucket *b, const char *key);

/* Read len bytes at off of a version's stripes into buf; returns the bytes read. */
long oss_data_read(struct oss *o, const char *bucket_id, const char *version, uint64_t off, char *buf, size_t len);

/* Writing one object: begin, write the bytes in order, commit (or abort). */
struct oss_writer;
int oss_writer_begin(struct oss *o, const struct oss_bucket *b, const char *key, struct oss_writer **ret);
int oss_writer_write(struct oss_writer *w, const void *buf, size_t len); /* -EFBIG past OSS_OBJECT_MAX */
uint64_t oss_writer_size(const struct oss_writer *w);
/* Finish: e (ctype, acl, meta; key, version, size, etag and mtime are set here) becomes
 * the key's entry. md5 (16 bytes) when the client sent Content-MD5: -EBADMSG on mismatch.
 * -EEXIST when forbid_overwrite and the key exists. The writer is freed either way. */
int oss_writer_commit(struct oss_writer *w, struct oss_entry *e, const uint8_t *md5, bool forbid_overwrite);
void oss_writer_abort(struct oss_writer *w); /* accepts NULL */

/* One page of a listing. */
struct oss_listing {
	struct oss_entry *entries;
	size_t n;
	char **prefixes; /* CommonPrefixes */
	size_t n_prefixes;
	bool truncated;
	char next_marker[1040];
};
int oss_list(struct oss *o, const struct oss_bucket *b, const char *prefix, const char *delimiter, const char *marker,
	     unsigned max, struct oss_listing *ret);
void oss_listing_clear(struct oss_listing *l);

/* Remove the stripes of queued versions due by now; returns how many were removed. */
int oss_gc_run(struct oss *o, time_t now);

#endif
