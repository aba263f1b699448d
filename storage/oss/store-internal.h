/* store-internal.h: what store.c, store_object.c and store_list.c share: object names,
 * the shard of a key, single omap reads and writes, entries to and from JSON. */
#ifndef OSS_STORE_INTERNAL_H
#define OSS_STORE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>

#include "store.h"

#define OSS_GC_OID "oss.gc"

void oss_oid_shard(char *buf, size_t size, const char *bucket_id, unsigned shard);
void oss_oid_stripe(char *buf, size_t size, const char *bucket_id, const char *version, uint64_t n);
unsigned oss_key_shard(const char *key);
int oss_omap_get(struct oss *o, const char *oid, const char *key, char **ret, size_t *ret_len);
int oss_omap_put(struct oss *o, const char *oid, const char *key, const char *val, bool create);
/* A string member of j, "" when missing or not a string. */
const char *oss_jstr(struct json_object *j, const char *k);
/* j as plain JSON text (caller frees); takes j. */
char *oss_json_take_text(struct json_object *j);
/* An index entry's JSON (caller frees) and back (key set by the caller). */
char *oss_entry_json(const struct oss_entry *e);
int oss_entry_parse(const char *json, size_t len, struct oss_entry *ret);

void oss_oid_manifest(char *buf, size_t size, const char *bucket_id, const char *version);

/* The GC queue: a key per version, "<due>.<bucket id>.<version>", its value {"k": key}. */
int oss_gc_queue(struct oss *o, const char *bucket_id, const char *key, const char *version, time_t due);
/* An appendable object's replaced manifest: only it goes, the parts it names live on. */
int oss_gc_queue_manifest_only(struct oss *o, const char *bucket_id, const char *key, const char *version);
/* Write a manifest naming parts (version and size each). */
int oss_manifest_write(struct oss *o, const char *bucket_id, const char *version, const struct oss_part_ref *parts,
		       size_t n);

/* Make e (key, version, … all set) the key's index entry, atomically against concurrent
 * writers; the version it replaces is queued for GC. -EEXIST when forbid_overwrite and
 * the key has an entry. */
int oss_index_put(struct oss *o, const struct oss_bucket *b, const struct oss_entry *e, bool forbid_overwrite);

struct oss_writer {
	struct oss *o;
	struct oss_bucket b;
	char key[1024];
	char version[17];
	char pending[160]; /* its GC queue key until the commit */
	uint64_t size;	   /* bytes accepted */
	uint64_t flushed;  /* bytes in RADOS */
	char *buf;
	size_t len;
	EVP_MD_CTX *md5;
	uint64_t crc64; /* of the bytes accepted */
	int error;
};
/* Flush what is buffered and finish the MD5 (16 bytes into digest); -EBADMSG when it is not
 * expect_md5 (NULL: the client sent none). */
int oss_writer_finish(struct oss_writer *w, const uint8_t *expect_md5, uint8_t digest[16]);
/* The version is named by an entry now: drop its pending GC key; free the writer. */
void oss_writer_done(struct oss_writer *w);
/* oss_writer_finish, then what w wrote into e: its key, version, ETag (the MD5 in hex),
 * size, CRC-64 and the time now. */
int oss_writer_seal(struct oss_writer *w, const uint8_t *md5, struct oss_entry *e);
/* The writer's end after a step that returned r: oss_writer_done when r >= 0, else
 * oss_writer_abort. Returns r. */
int oss_writer_end(struct oss_writer *w, int r);

#endif
