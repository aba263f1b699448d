/* store.h: the agent's desired state, kept in SQLite (WAL, synchronous=FULL) so that the
 * agent can restart, even after kill -9, while the controller is away.
 *
 * Objects are JSON documents keyed by (kind, id): "instance", "disk", "snapshot", "image".
 * A put is durable when it returns. The modules that own each kind define its document. */
#ifndef AGENT_STORE_H
#define AGENT_STORE_H

#include <json-c/json.h>
#include <stddef.h>

struct agent_store;

int agent_store_open(const char *path, struct agent_store **ret);
void agent_store_close(struct agent_store *s);

/* Insert or replace. */
int agent_store_put(struct agent_store *s, const char *kind, const char *id, struct json_object *doc);
/* -ENOENT when absent. *ret is a new reference. */
int agent_store_get(struct agent_store *s, const char *kind, const char *id, struct json_object **ret);
/* 0 also when absent. */
int agent_store_delete(struct agent_store *s, const char *kind, const char *id);
/* All documents of kind as a JSON object id -> doc (new reference). */
int agent_store_list(struct agent_store *s, const char *kind, struct json_object **ret);
/* How many objects of kind. */
int agent_store_count(struct agent_store *s, const char *kind, size_t *ret);

#endif
