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
	char etag[48]; /* hex MD5, lower case; "hex-N" for an object made of N parts */
	unsigned parts;	  /* 0: the version's own stripes; N: a manifest names N parts */
	bool appendable;  /* made by AppendObject */
	bool has_crc64;	  /* crc64 known (objects written before it was kept have none) */
	uint64_t crc64;	  /* CRC-64/ECMA of the whole object (crc64.h): x-oss-hash-crc64ecma */
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

/* Where an object's bytes are: its version's stripes, or (multipart) the parts its
 * manifest `oss.manifest.<bucket id>.<version>` names, in order. */
struct oss_part_ref {
	char version[17];
	uint64_t size;
	uint64_t start; /* offset of its first byte in the object */
};
struct oss_layout {
	char bucket_id[17];
	char version[17];
	struct oss_part_ref *parts; /* NULL: a simple object */
	size_t n;
};
int oss_layout_load(struct oss *o, const struct oss_bucket *b, const struct oss_entry *e, struct oss_layout *ret);
void oss_layout_clear(struct oss_layout *l);
/* Read at most len bytes at off of an object into buf; returns the bytes read (> 0). */
long oss_layout_read(struct oss *o, const struct oss_layout *l, uint64_t off, char *buf, size_t len);

/* Writing one object: begin, write the bytes in order, commit (or abort). */
struct oss_writer;
int oss_writer_begin(struct oss *o, const struct oss_bucket *b, const char *key, struct oss_writer **ret);
/* Copy len bytes at off of the object l into the writer. */
int oss_writer_copy(struct oss_writer *w, const struct oss_layout *l, uint64_t off, uint64_t len);
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

/* AppendObject (store_append.c): the writer's bytes become one more part of key's
 * appendable object (made when position is 0 and the key has none), its manifest
 * rewritten and the entry swapped only if it is still the one read. tmpl gives ctype, acl
 * and meta of a new object. -ESPIPE with *ret_len when position is not the length (or
 * another append won), -EPERM when the object is not appendable, -E2BIG past
 * OSS_APPEND_MAX appends or OSS_OBJECT_MAX bytes. The writer is freed either way. */
#define OSS_APPEND_MAX 10000
int oss_append(struct oss_writer *w, uint64_t position, const struct oss_entry *tmpl, struct oss_entry *ret_e,
	       uint64_t *ret_len);
/* An object's canned ACL ("default" or one of oss_acl_canonical's); -ENOENT. */
int oss_entry_set_acl(struct oss *o, const struct oss_bucket *b, const char *key, const char *acl);

/* Multipart uploads (store_multipart.c). An upload is an omap key `<key>\x01<upload id>`
 * of `oss.uploads.<bucket id>`; its parts are omap keys `%05u` of `oss.parts.<bucket
 * id>.<upload id>`, each a version of its own stripes; the key `state` of that object,
 * set once, claims the upload for Complete or Abort (atomic against a part's commit). */
#define OSS_PART_NUMBER_MAX 10000
#define OSS_PART_MIN (100u * 1024) /* but the last */
#define OSS_UPLOAD_ID_LEN 32

struct oss_upload {
	char id[OSS_UPLOAD_ID_LEN + 1];
	long long initiated;
	char initiator[64];
	struct oss_entry e; /* key, ctype, acl, meta the object gets */
};
struct oss_part {
	unsigned number;
	char version[17];
	uint64_t size;
	char etag[33];
	long long mtime;
	bool has_crc64;
	uint64_t crc64;
};
void oss_upload_clear(struct oss_upload *u);
/* u->e's key, ctype, acl, meta; u->initiator. Sets u->id and u->initiated. */
int oss_upload_create(struct oss *o, const struct oss_bucket *b, struct oss_upload *u);
/* The upload id of key in bucket b: -ENOENT when there is none (ids of other buckets or keys). */
int oss_upload_get(struct oss *o, const struct oss_bucket *b, const char *key, const char *id, struct oss_upload *ret);
/* The writer's bytes become part number of u (replacing an earlier one); the writer is
 * freed either way. -ENOENT when the upload was completed or aborted meanwhile, -EBADMSG
 * when md5 (the client's Content-MD5) is not the bytes'. */
int oss_part_commit(struct oss_writer *w, const struct oss_upload *u, unsigned number, const uint8_t *md5,
		    struct oss_part *ret);
/* Parts after marker, at most max (<= 1000), in order. */
int oss_parts_list(struct oss *o, const struct oss_bucket *b, const char *upload_id, unsigned marker, unsigned max,
		   struct oss_part **ret, size_t *ret_n, bool *ret_more);
/* Requested parts, ascending. 0 with *ret_e set (the new entry); -ENOENT: no such upload;
 * -ENXIO with *ret_bad: a part missing or of another ETag; -ERANGE with *ret_bad: a part
 * but the last under OSS_PART_MIN; -EEXIST: forbid_overwrite and the key exists. */
int oss_upload_complete(struct oss *o, const struct oss_bucket *b, struct oss_upload *u, const unsigned *numbers,
			char (*etags)[33], size_t n, bool forbid_overwrite, struct oss_entry *ret_e, size_t *ret_bad);
int oss_upload_abort(struct oss *o, const struct oss_bucket *b, const struct oss_upload *u); /* -ENOENT */

struct oss_upload_listing {
	struct oss_upload *uploads;
	size_t n;
	char **prefixes;
	size_t n_prefixes;
	bool truncated;
	char next_key[1040];
	char next_id[OSS_UPLOAD_ID_LEN + 1];
};
int oss_uploads_list(struct oss *o, const struct oss_bucket *b, const char *prefix, const char *delimiter,
		     const char *key_marker, const char *id_marker, unsigned max, struct oss_upload_listing *ret);
void oss_upload_listing_clear(struct oss_upload_listing *l);

/* Remove the stripes of queued versions due by now; returns how many were removed. */
int oss_gc_run(struct oss *o, time_t now);

#endif
