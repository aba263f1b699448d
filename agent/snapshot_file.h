/* snapshot_file.h: where a snapshot's file lives (<data_dir>/snapshots/<id>.qcow2 here,
 * snapshots/<id>.qcow2 and .json in the blob store) and fetching it. Below snapshot.c and
 * volume.c: a disk made from a snapshot fetches it, and a snapshot is taken of a disk. */
#ifndef AGENT_SNAPSHOT_FILE_H
#define AGENT_SNAPSHOT_FILE_H

#include <json-c/json.h>
#include <stdbool.h>

struct agent;

/* Caller frees. ext: "qcow2" or "json". */
char *agent_snapshot_path(struct agent *a, const char *snapshot_id);
char *agent_snapshot_blob_key(const char *snapshot_id, const char *ext);
/* The document of an accomplished snapshot, from the blob store when it was taken on
 * another host; -ENOENT when there is none or it is not accomplished. */
int agent_snapshot_doc(struct agent *a, const char *snapshot_id, struct json_object **ret_doc);
/* Whether the snapshot is an RBD snapshot (its document's "storage" is "rbd"). */
bool agent_snapshot_in_rbd(struct json_object *doc);
/* The local file of an accomplished snapshot, fetched from the blob store when needed;
 * *ret_doc (optional) its document. */
int agent_snapshot_fetch(struct agent *a, const char *snapshot_id, char **ret_path, struct json_object **ret_doc);

#endif
