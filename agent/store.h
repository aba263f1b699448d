/* store.h: the agent's desired state, kept in SQLite (WAL, synchronous=FULL) so that the
 * agent can restart, even after kill -9, while the controller is away.
 *
 * Objects are JSON documents keyed by (kind, id). A put is durable when it returns. Every
 * kind stored, keyed by, and the module that owns (and documents) it:
 *   "instance"  instance id   instance.c  (instance.h; its "spec" is decoded by spec.h)
 *   "disk"      disk id       volume.c    (volume.h)
 *   "snapshot"  snapshot id   snapshot.c  (snapshot.h; fetched ones by snapshot_file.c)
 *   "image"     image id      image.c     (image.h: what is cached)
 *   "lb"        LB id         slb.c       (slb.h: a load balancer as applied)
 *   "eip"       public IP     slb.c       (slb.h: a public IP's mapping)
 *   "lbhealth"  LB id         slb.c       (slb.h: the backends last seen abnormal)
 * A new kind is added to this list. */
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
