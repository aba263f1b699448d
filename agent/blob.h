/* blob.h: where snapshots and images live beyond one host. One interface, backends behind
 * it: a local (or shared) directory now; OSS when the object store exists.
 *
 * Keys are relative paths of [A-Za-z0-9._-] segments separated by '/', no "..", at most
 * 255 characters. A put is atomic (readers never see half a blob) and durable. */
#ifndef AGENT_BLOB_H
#define AGENT_BLOB_H

#include <stdbool.h>

struct agent_blob;

int agent_blob_open_dir(const char *dir, struct agent_blob **ret);
void agent_blob_close(struct agent_blob *b);

bool agent_blob_key_valid(const char *key);
/* Copy the file at path into the store under key. */
int agent_blob_put_file(struct agent_blob *b, const char *key, const char *path);
/* Copy the blob out to path (atomically). -ENOENT when absent. */
int agent_blob_get_file(struct agent_blob *b, const char *key, const char *path);
int agent_blob_exists(struct agent_blob *b, const char *key, bool *ret);
/* 0 also when absent. */
int agent_blob_delete(struct agent_blob *b, const char *key);
/* Every blob whose key is prefix or starts with prefix + "/"; 0 also when none. */
int agent_blob_delete_prefix(struct agent_blob *b, const char *prefix);

/* Copy src (or the open file in) to dst atomically (temp + fsync + rename); exposed for the
 * image cache. */
int agent_copy_file(const char *src, const char *dst);
int agent_copy_fd(int in, const char *dst);

#endif
