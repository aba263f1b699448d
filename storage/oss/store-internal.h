/* store-internal.h: what store.c, store_object.c and store_list.c share: object names,
 * the shard of a key, single omap reads and writes, entries to and from JSON. */
#ifndef OSS_STORE_INTERNAL_H
#define OSS_STORE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

#endif
