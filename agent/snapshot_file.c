#include "snapshot_file.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "blob.h"
#include "json.h"
#include "store.h"
#include "util.h"

/* Documents are the agent's own: absent fields read as "". */
#define jstr(o, key) ecs_json_str(o, key, "")

char *agent_snapshot_path(struct agent *a, const char *id)
{
	return ecs_strdup_printf("%s/%s.qcow2", a->snapshots_dir, id);
}

char *agent_snapshot_blob_key(const char *id, const char *ext)
{
	return ecs_strdup_printf("snapshots/%s.%s", id, ext);
}

int agent_snapshot_doc(struct agent *a, const char *id, struct json_object **ret_doc)
{
	_cleanup_free_ char *path = agent_snapshot_path(a, id), *kj = agent_snapshot_blob_key(id, "json");
	_cleanup_free_ char *jpath = NULL, *text = NULL;
	struct json_object *doc = NULL;
	const char *perr;
	size_t len;
	int r;

	if (!path || !kj)
		return -ENOMEM;
	r = agent_store_get(a->store, "snapshot", id, &doc);
	if (r == -ENOENT) {
		/* Taken on another host: its document comes from the blob store. */
		jpath = ecs_strdup_printf("%s.json", path);
		if (!jpath)
			return -ENOMEM;
		r = agent_blob_get_file(a->blob, kj, jpath);
		if (r == 0)
			r = ecs_read_file(jpath, 1 << 20, &text, &len);
		unlink(jpath);
		if (r < 0)
			return r;
		r = ecs_json_parse(text, len, &doc, &perr);
		if (r < 0)
			return r;
		agent_store_put(a->store, "snapshot", id, doc);
	} else if (r < 0) {
		return r;
	}
	if (!streq(jstr(doc, "status"), "accomplished")) {
		json_object_put(doc);
		return -ENOENT;
	}
	*ret_doc = doc;
	return 0;
}

bool agent_snapshot_in_rbd(struct json_object *doc)
{
	return streq(jstr(doc, "storage"), "rbd");
}

int agent_snapshot_fetch(struct agent *a, const char *id, char **ret_path, struct json_object **ret_doc)
{
	_cleanup_free_ char *path = agent_snapshot_path(a, id), *kq = agent_snapshot_blob_key(id, "qcow2");
	struct json_object *doc = NULL;
	int r;

	if (!path || !kq)
		return -ENOMEM;
	r = agent_snapshot_doc(a, id, &doc);
	if (r < 0)
		return r;
	/* A snapshot inside RADOS has no file (agent_storage_snapshot_*). */
	if (agent_snapshot_in_rbd(doc)) {
		json_object_put(doc);
		return -ENOENT;
	}
	if (access(path, F_OK) < 0) {
		r = agent_blob_get_file(a->blob, kq, path);
		if (r < 0) {
			json_object_put(doc);
			return r;
		}
	}
	*ret_path = TAKE_PTR(path);
	if (ret_doc)
		*ret_doc = doc;
	else
		json_object_put(doc);
	return 0;
}
