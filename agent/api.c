#include "api.h"

#include <errno.h>
#include <libvirt/libvirt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "controller_link.h"
#include "crypto.h"
#include "hostauth.h"
#include "http_server.h"
#include "image.h"
#include "image_oss.h"
#include "instance.h"
#include "json.h"
#include "log.h"
#include "secgroup.h"
#include "slb.h"
#include "metrics.h"
#include "migrate.h"
#include "scrape.h"
#include "snapshot.h"
#include "storage.h"
#include "util.h"
#include "virt.h"
#include "volume.h"
#include "vnc.h"

#define API_MAX_BODY (256 * 1024)
#define API_MAX_SEGMENTS 4
#define CONSOLE_MAX (64 * 1024)

struct call {
	struct agent *a;
	const struct ecs_http_request *req;
	struct ecs_http_response *resp;
	struct json_object *body; /* parsed JSON body or NULL */
	const char *seg[API_MAX_SEGMENTS];
	size_t n_seg;
	char path_copy[512];
};

static void reply_error(const struct ecs_http_request *req, struct ecs_http_response *resp, int status,
			const char *code, const char *message)
{
	ecs_http_reply_error(resp, status, code, message, req->request_id);
}

static void reply_err(struct call *c, int r, const struct agent_err *err)
{
	/* A failure of the agent's own (not of the caller's request) is in its log too: the
	 * controller may move the work elsewhere and keep no trace of why. */
	if (!err->status || err->status >= 500)
		log_warn("request failed", "method=%s path=%s status=%d code=%s error=\"%s\"", c->req->method, c->req->path,
			 err->status ? err->status : 500, err->status ? err->code : "InternalError",
			 err->status ? err->message : strerror(-r));
	if (err->status)
		reply_error(c->req, c->resp, err->status, err->code, err->message);
	else
		reply_error(c->req, c->resp, 500, "InternalError", strerror(-r));
}

static void reply_ok(struct call *c, int status, struct json_object *o)
{
	if (!o)
		o = json_object_new_object();
	ecs_http_reply_json(c->resp, status, o);
	json_object_put(o);
}

/* Server-raised errors (no route, body too large) in the API's own shape. */
static void api_error(const struct ecs_http_request *req, struct ecs_http_response *resp, enum ecs_http_error err,
		      int status, const char *message)
{
	reply_error(req, resp, status, ecs_http_error_code(err), message);
}

/* A body of a POST/PUT is a JSON object (empty means {}). */
static int parse_body(struct call *c)
{
	const char *perr;

	if (c->req->body_len == 0) {
		c->body = json_object_new_object();
		return 0;
	}
	if (ecs_json_parse(c->req->body, c->req->body_len, &c->body, &perr) < 0) {
		char msg[160];

		snprintf(msg, sizeof(msg), "the body is not valid JSON: %s", perr);
		reply_error(c->req, c->resp, 400, "MalformedJSON", msg);
		return -EINVAL;
	}
	if (!json_object_is_type(c->body, json_type_object)) {
		reply_error(c->req, c->resp, 400, "MalformedJSON", "the body must be a JSON object");
		return -EINVAL;
	}
	return 0;
}

static bool body_bool(struct call *c, const char *key, bool def)
{
	struct json_object *v;

	if (!c->body || !json_object_object_get_ex(c->body, key, &v))
		return def;
	return json_object_get_boolean(v);
}

/* Read an action's body strictly: only the named fields. */
static int action_body(struct call *c, const char *const *fields, size_t n)
{
	json_object_object_foreach(c->body, k, v)
	{
		bool known = false;

		(void)v;
		for (size_t i = 0; i < n && !known; i++)
			known = streq(fields[i], k);
		if (!known) {
			char msg[160];

			snprintf(msg, sizeof(msg), "unknown field %s", k);
			reply_error(c->req, c->resp, 400, "InvalidParameter", msg);
			return -EINVAL;
		}
	}
	return 0;
}

static bool method(struct call *c, const char *m)
{
	return streq(c->req->method, m);
}

/* ---- host ---- */

static void route_host(struct call *c)
{
	if (!method(c, "GET"))
		return reply_error(c->req, c->resp, 405, "MethodNotAllowed", "GET only");
	reply_ok(c, 200, agent_host_facts(c->a));
}

/* ---- instances ---- */

static void route_instances(struct call *c)
{
	struct agent_err err = { 0 };
	struct json_object *out = NULL;
	const char *id = c->n_seg > 1 ? c->seg[1] : NULL, *action = c->n_seg > 2 ? c->seg[2] : NULL;
	long long seq;
	int r;

	if (!id) {
		if (!method(c, "GET"))
			return reply_error(c->req, c->resp, 405, "MethodNotAllowed", "GET only");
		r = agent_instance_list(c->a, &out);
		if (r < 0)
			return reply_err(c, r, &err);
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "instances", out);
		return reply_ok(c, 200, o);
	}
	if (!action) {
		if (method(c, "GET")) {
			r = agent_instance_describe(c->a, id, &out, &err);
		} else if (method(c, "PUT")) {
			struct json_object *given;

			if (json_object_object_get_ex(c->body, "instance_id", &given) &&
			    !streq(json_object_get_string(given), id))
				return reply_error(c->req, c->resp, 400, "InvalidParameter",
						   "instance_id in the body differs from the path");
			ecs_jb_str(c->body, "instance_id", id);
			r = agent_instance_create(c->a, c->body, &out, &err);
		} else if (method(c, "DELETE")) {
			r = agent_instance_delete(c->a, id, &err);
		} else if (method(c, "PATCH")) {
			r = agent_instance_modify(c->a, id, c->body, &err);
			if (r == 0)
				r = agent_instance_describe(c->a, id, &out, &err);
		} else {
			return reply_error(c->req, c->resp, 405, "MethodNotAllowed", "GET, PUT, PATCH or DELETE");
		}
		if (r < 0)
			return reply_err(c, r, &err);
		if (out && !method(c, "GET"))
			ecs_jb_int(out, "state_seq", agent_state_seq_next(c->a));
		return reply_ok(c, 200, out);
	}
	if (streq(action, "vnc") && c->n_seg == 3)
		return agent_vnc_handle(c->a, id, c->req, c->resp);
	if (streq(action, "console") || streq(action, "metrics")) {
		if (!method(c, "GET"))
			return reply_error(c->req, c->resp, 405, "MethodNotAllowed", "GET only");
		if (streq(action, "console")) {
			_cleanup_free_ char *text = NULL, *b64 = NULL;
			size_t len = 0;

			r = agent_instance_console(c->a, id, CONSOLE_MAX, &text, &len, &err);
			if (r < 0)
				return reply_err(c, r, &err);
			b64 = ecs_base64_encode(text, len);
			out = json_object_new_object();
			ecs_jb_str(out, "instance_id", id);
			ecs_jb_str(out, "console_output", b64);
			return reply_ok(c, 200, out);
		}
		long long start = 0, end = 0, period = 60;
		const char *s = ecs_kvlist_get(c->req->query, "start"), *e = ecs_kvlist_get(c->req->query, "end"),
			   *p = ecs_kvlist_get(c->req->query, "period");

		if (!s || !e || ecs_parse_int64(s, 0, INT64_MAX / 2, &start) < 0 ||
		    ecs_parse_int64(e, 0, INT64_MAX / 2, &end) < 0 || (p && ecs_parse_int64(p, 1, 86400, &period) < 0))
			return reply_error(c->req, c->resp, 400, "InvalidParameter",
					   "start and end (unix seconds) and period (60, 600, 3600) are required");
		r = agent_instance_describe(c->a, id, &out, &err);
		if (r < 0)
			return reply_err(c, r, &err);
		json_object_put(out);
		out = NULL;
		r = c->a->metrics ? agent_metrics_query(c->a->metrics, id, (time_t)start, (time_t)end, (int)period, &out)
				  : -ENODEV;
		if (r == -EINVAL)
			return reply_error(c->req, c->resp, 400, "InvalidParameter", "period must be 60, 600 or 3600");
		if (r == -E2BIG)
			return reply_error(c->req, c->resp, 400, "InvalidParameter", "more than 400 points asked");
		if (r < 0)
			return reply_error(c->req, c->resp, 500, "InternalError", "metrics are not available");
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "points", out);
		return reply_ok(c, 200, o);
	}
	if (!method(c, "POST"))
		return reply_error(c->req, c->resp, 405, "MethodNotAllowed", "POST only");
	if (str_has_prefix(action, "migrate-")) { /* migrate.h */
		r = agent_migrate_action(c->a, id, action + strlen("migrate-"), c->body, &out, &err);
		if (r < 0)
			return reply_err(c, r, &err);
		ecs_jb_int(out, "state_seq", agent_state_seq_next(c->a));
		return reply_ok(c, 200, out);
	}
	if (streq(action, "start")) {
		if (action_body(c, NULL, 0) < 0)
			return;
		r = agent_instance_start(c->a, id, &err);
	} else if (streq(action, "stop")) {
		static const char *const f[] = { "force", "timeout_s" };
		struct json_object *t;
		int timeout = 0;

		if (action_body(c, f, ARRAY_SIZE(f)) < 0)
			return;
		if (json_object_object_get_ex(c->body, "timeout_s", &t)) {
			if (!json_object_is_type(t, json_type_int) || json_object_get_int(t) < 1 ||
			    json_object_get_int(t) > 3600)
				return reply_error(c->req, c->resp, 400, "InvalidParameter", "timeout_s must be in 1..3600");
			timeout = json_object_get_int(t);
		}
		r = agent_instance_stop(c->a, id, body_bool(c, "force", false), timeout, &err);
	} else if (streq(action, "reboot")) {
		static const char *const f[] = { "force" };

		if (action_body(c, f, ARRAY_SIZE(f)) < 0)
			return;
		r = agent_instance_reboot(c->a, id, body_bool(c, "force", false), &err);
	} else if (streq(action, "reinit")) {
		static const char *const f[] = { "image_id" };
		struct json_object *img;

		if (action_body(c, f, ARRAY_SIZE(f)) < 0)
			return;
		r = agent_instance_reinit(c->a, id,
					  json_object_object_get_ex(c->body, "image_id", &img) ? json_object_get_string(img)
											       : NULL,
					  &err);
	} else {
		return reply_error(c->req, c->resp, 404, "InvalidAction.NotFound", "no such instance action");
	}
	if (r < 0)
		return reply_err(c, r, &err);
	/* Stepped once the action is done, before the answer describes it (agent.h). */
	seq = agent_state_seq_next(c->a);
	r = agent_instance_describe(c->a, id, &out, &err);
	if (r < 0)
		return reply_err(c, r, &err);
	ecs_jb_int(out, "state_seq", seq);
	reply_ok(c, 200, out);
}

/* ---- disks ---- */

static void route_disks(struct call *c)
{
	struct agent_err err = { 0 };
	struct json_object *out = NULL, *v;
	const char *id = c->n_seg > 1 ? c->seg[1] : NULL, *action = c->n_seg > 2 ? c->seg[2] : NULL;
	int r;

	if (!id) {
		if (!method(c, "GET"))
			return reply_error(c->req, c->resp, 405, "MethodNotAllowed", "GET only");
		r = agent_volume_list(c->a, &out);
		if (r < 0)
			return reply_err(c, r, &err);
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "disks", out);
		return reply_ok(c, 200, o);
	}
	if (!action) {
		if (method(c, "GET")) {
			r = agent_volume_describe(c->a, id, &out, &err);
		} else if (method(c, "PUT")) {
			if (json_object_object_get_ex(c->body, "disk_id", &v) && !streq(json_object_get_string(v), id))
				return reply_error(c->req, c->resp, 400, "InvalidParameter",
						   "disk_id in the body differs from the path");
			ecs_jb_str(c->body, "disk_id", id);
			r = agent_volume_create(c->a, c->body, &out, &err);
		} else if (method(c, "DELETE")) {
			r = agent_volume_delete(c->a, id, &err);
		} else {
			return reply_error(c->req, c->resp, 405, "MethodNotAllowed", "GET, PUT or DELETE");
		}
		if (r < 0)
			return reply_err(c, r, &err);
		return reply_ok(c, 200, out);
	}
	if (!method(c, "POST"))
		return reply_error(c->req, c->resp, 405, "MethodNotAllowed", "POST only");
	if (streq(action, "attach")) {
		static const char *const f[] = { "instance_id", "delete_with_instance" };

		if (action_body(c, f, ARRAY_SIZE(f)) < 0)
			return;
		if (!json_object_object_get_ex(c->body, "instance_id", &v) || !json_object_is_type(v, json_type_string))
			return reply_error(c->req, c->resp, 400, "MissingParameter", "instance_id is mandatory");
		r = agent_volume_attach(c->a, id, json_object_get_string(v), body_bool(c, "delete_with_instance", false),
					NULL, &err);
	} else if (streq(action, "detach")) {
		if (action_body(c, NULL, 0) < 0)
			return;
		r = agent_volume_detach(c->a, id, &err);
	} else if (streq(action, "resize")) {
		static const char *const f[] = { "size_gib" };

		if (action_body(c, f, ARRAY_SIZE(f)) < 0)
			return;
		if (!json_object_object_get_ex(c->body, "size_gib", &v) || !json_object_is_type(v, json_type_int))
			return reply_error(c->req, c->resp, 400, "MissingParameter", "size_gib (an integer) is mandatory");
		r = agent_volume_resize(c->a, id, json_object_get_int64(v), &err);
	} else if (streq(action, "reset")) {
		static const char *const f[] = { "snapshot_id" };

		if (action_body(c, f, ARRAY_SIZE(f)) < 0)
			return;
		if (!json_object_object_get_ex(c->body, "snapshot_id", &v) || !json_object_is_type(v, json_type_string))
			return reply_error(c->req, c->resp, 400, "MissingParameter", "snapshot_id is mandatory");
		r = agent_volume_reset(c->a, id, json_object_get_string(v), &err);
	} else {
		return reply_error(c->req, c->resp, 404, "InvalidAction.NotFound", "no such disk action");
	}
	if (r < 0)
		return reply_err(c, r, &err);
	r = agent_volume_describe(c->a, id, &out, &err);
	if (r < 0)
		return reply_err(c, r, &err);
	reply_ok(c, 200, out);
}

/* ---- snapshots ---- */

static void route_snapshots(struct call *c)
{
	struct agent_err err = { 0 };
	struct json_object *out = NULL, *v;
	const char *id = c->n_seg > 1 ? c->seg[1] : NULL;
	int r;

	if (c->n_seg > 2)
		return reply_error(c->req, c->resp, 404, "InvalidAction.NotFound", "no such snapshot action");
	if (!id) {
		if (!method(c, "GET"))
			return reply_error(c->req, c->resp, 405, "MethodNotAllowed", "GET only");
		r = agent_snapshot_list(c->a, &out);
		if (r < 0)
			return reply_err(c, r, &err);
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "snapshots", out);
		return reply_ok(c, 200, o);
	}
	if (method(c, "GET")) {
		r = agent_snapshot_describe(c->a, id, &out, &err);
	} else if (method(c, "PUT")) {
		if (json_object_object_get_ex(c->body, "snapshot_id", &v) && !streq(json_object_get_string(v), id))
			return reply_error(c->req, c->resp, 400, "InvalidParameter",
					   "snapshot_id in the body differs from the path");
		ecs_jb_str(c->body, "snapshot_id", id);
		r = agent_snapshot_create(c->a, c->body, &out, &err);
	} else if (method(c, "DELETE")) {
		r = agent_snapshot_delete(c->a, id, &err);
	} else {
		return reply_error(c->req, c->resp, 405, "MethodNotAllowed", "GET, PUT or DELETE");
	}
	if (r < 0)
		return reply_err(c, r, &err);
	reply_ok(c, 200, out);
}

/* ---- images ---- */

/* An import from, or export to, the object store that did not succeed: its answer. */
static void reply_oss(struct call *c, int r, bool export)
{
	if (r == -ENOENT)
		return reply_error(c->req, c->resp, 404, export ? "InvalidOSSBucket.NotFound" : "InvalidOSSObject.NotFound",
				   export ? "the bucket does not exist" : "the object (or its bucket) does not exist");
	if (r == -EACCES)
		return reply_error(c->req, c->resp, 403, export ? "Forbidden.OSSBucket" : "Forbidden.OSSObject",
				   "the account may not access it");
	if (r == -EFBIG)
		return reply_error(c->req, c->resp, 400, export ? "InvalidImage.TooLargeToExport" : "InvalidOSSObject.SizeExceeded",
				   export ? "the object store refuses an object this large" : "the object is larger than allowed");
	if (r == -E2BIG)
		return reply_error(c->req, c->resp, 400, "InvalidImage.SizeExceeded", "the disk's virtual size is over 2 TiB");
	if (r == -EPERM)
		return reply_error(c->req, c->resp, 400, "InvalidImage.BackingFile",
				   "a qcow2 with a backing file or an external data file is refused");
	if (r == -EINVAL)
		return reply_error(c->req, c->resp, 400, "InvalidImage", "the object is no disk image (empty, or a corrupt qcow2)");
	reply_error(c->req, c->resp, 502, "OSSUnavailable", "cannot reach the object store");
}

static void route_image_export(struct call *c, const char *id)
{
	static const char *const f[] = { "oss_url", "format" };
	const char *url, *format;
	int r;

	if (!method(c, "POST"))
		return reply_error(c->req, c->resp, 405, "MethodNotAllowed", "POST only");
	if (action_body(c, f, ARRAY_SIZE(f)) < 0)
		return;
	url = ecs_json_str(c->body, "oss_url", NULL);
	format = ecs_json_str(c->body, "format", "qcow2");
	if (!url || (!streq(format, "raw") && !streq(format, "qcow2")))
		return reply_error(c->req, c->resp, 400, "InvalidParameter", "oss_url and format (raw or qcow2)");
	r = agent_image_export_oss(c->a, id, url, streq(format, "raw"));
	if (r == -ENOENT && agent_image_ensure(c->a, id, NULL) < 0)
		return reply_error(c->req, c->resp, 404, "InvalidImageId.NotFound", "no such image anywhere");
	if (r < 0)
		return reply_oss(c, r, true);
	reply_ok(c, 200, NULL);
}

static void route_images(struct call *c)
{
	struct agent_err err = { 0 };
	struct json_object *out = NULL, *v;
	const char *id = c->n_seg > 1 ? c->seg[1] : NULL;
	int r;

	if (c->n_seg > 3 || (c->n_seg == 3 && !streq(c->seg[2], "export")))
		return reply_error(c->req, c->resp, 404, "InvalidAction.NotFound", "no such image action");
	if (!id) {
		if (!method(c, "GET"))
			return reply_error(c->req, c->resp, 405, "MethodNotAllowed", "GET only");
		r = agent_image_list(c->a, &out);
		if (r < 0)
			return reply_err(c, r, &err);
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "images", out);
		return reply_ok(c, 200, o);
	}
	if (!agent_image_id_valid(id))
		return reply_error(c->req, c->resp, 400, "InvalidImageId.Malformed", "not an image id");
	if (c->n_seg == 3)
		return route_image_export(c, id);
	if (method(c, "GET")) {
		struct json_object *m = NULL;

		r = agent_image_ensure(c->a, id, &m);
		if (r == -ENOENT)
			return reply_error(c->req, c->resp, 404, "InvalidImageId.NotFound", "no such image");
		if (r < 0)
			return reply_error(c->req, c->resp, 500, "InternalError", "cannot read the image");
		out = json_object_new_object();
		ecs_jb_str(out, "image_id", id);
		json_object_object_add(out, "manifest", m);
		return reply_ok(c, 200, out);
	}
	if (method(c, "DELETE")) {
		const char *purge = ecs_kvlist_get(c->req->query, "purge");

		/* A purge takes the RBD copy (img-<id>) first: Ceph refuses while any host's
		 * disk is a clone of it. */
		r = purge && streq(purge, "true") ? agent_storage_image_remove(c->a, id) : 0;
		if (r == 0)
			r = agent_image_delete(c->a, id, purge && streq(purge, "true"));
		if (r == -EBUSY)
			return reply_error(c->req, c->resp, 403, "ImageInUse", "a disk on this host uses the image");
		if (r < 0)
			return reply_error(c->req, c->resp, 500, "InternalError", "cannot delete the image");
		return reply_ok(c, 200, NULL);
	}
	if (!method(c, "PUT"))
		return reply_error(c->req, c->resp, 405, "MethodNotAllowed", "GET, PUT or DELETE");
	static const char *const f[] = { "source_dir", "snapshot_id", "name", "oss_url", "max_bytes" };
	if (action_body(c, f, ARRAY_SIZE(f)) < 0)
		return;
	if (json_object_object_get_ex(c->body, "oss_url", &v)) {
		long long max = ecs_json_int(c->body, "max_bytes", 0);

		if (!json_object_is_type(v, json_type_string) || max <= 0)
			return reply_error(c->req, c->resp, 400, "InvalidParameter", "oss_url and max_bytes > 0");
		r = agent_image_import_oss(c->a, id, json_object_get_string(v), (unsigned long long)max);
		if (r < 0)
			return reply_oss(c, r, false);
	} else if (json_object_object_get_ex(c->body, "snapshot_id", &v)) {
		struct json_object *name = NULL;

		json_object_object_get_ex(c->body, "name", &name);
		r = agent_snapshot_to_image(c->a, json_object_get_string(v), id, name ? json_object_get_string(name) : NULL,
					    &err);
		if (r < 0)
			return reply_err(c, r, &err);
	} else if (json_object_object_get_ex(c->body, "source_dir", &v)) {
		if (!json_object_is_type(v, json_type_string))
			return reply_error(c->req, c->resp, 400, "InvalidParameter", "source_dir must be a string");
		r = agent_image_import_path(c->a, id, json_object_get_string(v));
		/* Missing or not allowed: one answer, which tells nothing about paths outside. */
		if (r == -ENOENT)
			return reply_error(c->req, c->resp, 404, "InvalidImportPath.NotFound",
					   "source_dir is no image folder inside this host's import folders");
		if (r == -EBADMSG)
			return reply_error(c->req, c->resp, 400, "InvalidImage.Checksum", "a file does not match its sha256");
		if (r < 0)
			return reply_error(c->req, c->resp, 400, "InvalidImage", "the image cannot be imported");
	} else {
		r = agent_image_ensure(c->a, id, NULL);
		if (r < 0)
			return reply_error(c->req, c->resp, 404, "InvalidImageId.NotFound", "no such image anywhere");
	}
	struct json_object *m = NULL;
	if (agent_image_ensure(c->a, id, &m) < 0)
		return reply_error(c->req, c->resp, 500, "InternalError", "cannot read the image");
	out = json_object_new_object();
	ecs_jb_str(out, "image_id", id);
	json_object_object_add(out, "manifest", m);
	reply_ok(c, 200, out);
}

/* ---- security groups ---- */

static void route_security(struct call *c)
{
	long long gen = 0;
	int r;

	if (c->n_seg == 1) {
		if (!method(c, "GET"))
			return reply_error(c->req, c->resp, 405, "MethodNotAllowed", "GET only");
		return reply_ok(c, 200, agent_secgroup_status(c->a));
	}
	if (c->n_seg != 2 || !streq(c->seg[1], "sync"))
		return reply_error(c->req, c->resp, 404, "NotFound", "no such resource");
	if (!method(c, "POST"))
		return reply_error(c->req, c->resp, 405, "MethodNotAllowed", "POST only");
	if (action_body(c, NULL, 0) < 0)
		return;
	r = agent_secgroup_sync(c->a, &gen);
	if (r == -ENOTCONN)
		return reply_error(c->req, c->resp, 409, "InvalidOperation", "this agent has no controller");
	if (r < 0)
		return reply_error(c->req, c->resp, 503, "ServiceUnavailable", "the security groups could not be applied");
	{
		struct json_object *o = json_object_new_object();

		ecs_jb_int(o, "generation", gen);
		reply_ok(c, 200, o);
	}
}

/* ---- load balancers and public IPs (agent/slb.h) ---- */

static void route_slb(struct call *c)
{
	struct agent_err err = { 0 };
	struct json_object *out = NULL;
	int r;

	if (c->n_seg > 2)
		return reply_error(c->req, c->resp, 404, "NotFound", "no such resource");
	r = agent_slb_call(c->a, c->req->method, c->seg[0], c->n_seg > 1 ? c->seg[1] : NULL, c->body, &out, &err);
	if (r < 0)
		return reply_err(c, r, &err);
	reply_ok(c, 200, out);
}

/* ---- dispatch ---- */

static void handle(const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	struct agent *a = req->userdata;
	struct call c = { .a = a, .req = req, .resp = resp };
	const char *why = NULL;
	char *p, *save = NULL;

	/* Every call is signed with the host key; nothing is read before that holds. */
	if (ecs_hostauth_verify(a->host_key, a->cfg.host_id, a->nonces, req->method, req->path, req->query, req->headers, req->body,
				req->body_len, time(NULL), &why) < 0) {
		log_warn("agent API: request refused", "remote=%s reason=\"%s\"", req->remote_addr, why);
		return reply_error(req, resp, 401, "Unauthorized", why);
	}
	if (ecs_strlcpy(c.path_copy, req->path + strlen("/v1/"), sizeof(c.path_copy)) < 0)
		return reply_error(req, resp, 414, "InvalidParameter", "path too long");
	for (p = strtok_r(c.path_copy, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
		if (c.n_seg == API_MAX_SEGMENTS)
			return reply_error(req, resp, 404, "NotFound", "no such resource");
		c.seg[c.n_seg++] = p;
	}
	if (c.n_seg == 0)
		return reply_error(req, resp, 404, "NotFound", "no such resource");
	if ((method(&c, "POST") || method(&c, "PUT") || method(&c, "PATCH")) && parse_body(&c) < 0)
		return;
	if (streq(c.seg[0], "host") && c.n_seg == 1)
		route_host(&c);
	else if (streq(c.seg[0], "instances"))
		route_instances(&c);
	else if (streq(c.seg[0], "disks"))
		route_disks(&c);
	else if (streq(c.seg[0], "snapshots"))
		route_snapshots(&c);
	else if (streq(c.seg[0], "images"))
		route_images(&c);
	else if (streq(c.seg[0], "security"))
		route_security(&c);
	else if (streq(c.seg[0], "load-balancers") || streq(c.seg[0], "public-ips"))
		route_slb(&c);
	else
		reply_error(req, resp, 404, "NotFound", "no such resource");
	json_object_put(c.body);
}

int agent_api_start(struct agent *a)
{
	static const struct ecs_http_route routes[] = {
		{ NULL, "/v1/", true, handle },
		{ "GET", "/metrics", false, agent_scrape_handle },
		{ "HEAD", "/metrics", false, agent_scrape_handle },
	};
	struct ecs_http_server_config cfg = {
		.name = "agent-api",
		.address = a->cfg.listen_address,
		.port = a->cfg.port,
		/* A stop waits for the guest: one thread a connection keeps others flowing. */
		.thread_per_connection = true,
		.max_connections = 256,
		.max_body = API_MAX_BODY,
		.access_log = true,
		.error_fn = api_error,
		.userdata = a,
	};

	return ecs_http_server_start(&cfg, routes, ARRAY_SIZE(routes), &a->api);
}

void agent_api_stop(struct agent *a)
{
	ecs_http_server_stop(a->api);
	a->api = NULL;
}
