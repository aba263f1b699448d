#include "wait.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "ecsctl.h"
#include "json.h"
#include "timeutil.h"
#include "util.h"

static const char *const instance_failed[] = { NULL };
static const char *const disk_failed[] = { NULL };
static const char *const snapshot_failed[] = { "failed", NULL };
static const char *const image_failed[] = { "CreateFailed", "UnAvailable", NULL };

const struct ecsctl_watch ecsctl_watch_instance = {
	.kind = "instance", .action = "DescribeInstances", .ids_param = "InstanceIds",
	.outer = "Instances", .inner = "Instance", .id_key = "InstanceId", .status_key = "Status",
	.failed = instance_failed,
};

const struct ecsctl_watch ecsctl_watch_disk = {
	.kind = "disk", .action = "DescribeDisks", .ids_param = "DiskIds",
	.outer = "Disks", .inner = "Disk", .id_key = "DiskId", .status_key = "Status",
	.failed = disk_failed,
};

const struct ecsctl_watch ecsctl_watch_snapshot = {
	.kind = "snapshot", .action = "DescribeSnapshots", .ids_param = "SnapshotIds",
	.outer = "Snapshots", .inner = "Snapshot", .id_key = "SnapshotId", .status_key = "Status",
	.failed = snapshot_failed,
};

/* DescribeImages lists only Available images unless asked for every status. */
const struct ecsctl_watch ecsctl_watch_image = {
	.kind = "image", .action = "DescribeImages", .ids_param = "ImageId", .ids_comma = true,
	.outer = "Images", .inner = "Image", .id_key = "ImageId", .status_key = "Status",
	.extra_param = "Status", .extra_value = "Creating,Waiting,Available,UnAvailable,CreateFailed,Deprecated",
	.failed = image_failed,
};

static char *ids_value(const struct ecsctl_watch *w, const char *const *ids, size_t n)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *m;

	if (!w->ids_comma)
		return ecsctl_json_string_array(ids, n);
	m = open_memstream(&buf, &size);
	if (!m)
		return NULL;
	for (size_t i = 0; i < n; i++)
		fprintf(m, "%s%s", i ? "," : "", ids[i]);
	if (fclose(m) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static struct json_object *find_row(struct json_object *list, const char *key, const char *id)
{
	size_t n = list ? json_object_array_length(list) : 0;

	for (size_t i = 0; i < n; i++) {
		struct json_object *row = json_object_array_get_idx(list, i);

		if (streq(ecs_json_str(row, key, NULL), id))
			return row;
	}
	return NULL;
}

static bool is_failed(const struct ecsctl_watch *w, const char *status)
{
	for (const char *const *f = w->failed; f && *f; f++)
		if (strcaseeq(*f, status))
			return true;
	return false;
}

/* One look: 1 when every id is there, 0 not yet (now says where they are), or an error. */
static int look(struct ecsctl *ctx, const struct ecsctl_watch *w, const char *const *ids, size_t n,
		const char *status, char *now, size_t size)
{
	struct ecs_kvlist p = ECS_KVLIST_INIT;
	struct ecsctl_api_error err;
	struct json_object *reply = NULL, *list;
	_cleanup_free_ char *value = ids_value(w, ids, n);
	const char *last = NULL;
	size_t done = 0;
	int r;

	if (!value)
		return -ENOMEM;
	if ((r = ecs_kvlist_add(&p, w->ids_param, value)) < 0 || (r = ecs_kvlist_add(&p, "PageSize", "100")) < 0 ||
	    (w->extra_param && (r = ecs_kvlist_add(&p, w->extra_param, w->extra_value)) < 0))
		goto out;
	r = ecsctl_call_quiet(ctx, w->action, &p, &reply, &err);
	if (r == -EREMOTEIO && !status && str_has_suffix(err.code, ".NotFound")) {
		r = 1; /* asked about ids none of which exist: gone */
		goto out;
	}
	if (r < 0) {
		ecsctl_print_api_error(ctx, &err);
		goto out;
	}
	list = ecsctl_reply_list(reply, w->outer, w->inner);
	if (!list) {
		r = ecsctl_fail(ctx, -EBADMSG, "the reply to %s has no %s.%s list", w->action, w->outer, w->inner);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *row = find_row(list, w->id_key, ids[i]);
		const char *st = row ? ecs_json_str(row, w->status_key, "") : NULL;

		if (!status) {
			done += !row;
			last = row ? st : "gone";
			continue;
		}
		if (!row) {
			r = ecsctl_fail(ctx, -ENOENT, "%s %s is not listed by %s", w->kind, ids[i], w->action);
			goto out;
		}
		if (strcaseeq(st, status)) {
			done++;
			continue;
		}
		if (is_failed(w, st)) {
			r = ecsctl_fail(ctx, -EIO, "%s %s is %s", w->kind, ids[i], st);
			goto out;
		}
		last = st;
	}
	if (n == 1)
		snprintf(now, size, "%s %s: %s", w->kind, ids[0], strempty(last));
	else
		snprintf(now, size, "%zu %ss: %zu/%zu %s", n, w->kind, done, n, status ? status : "gone");
	r = done == n;
out:
	json_object_put(reply);
	ecs_kvlist_clear(&p);
	return r;
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int ecsctl_wait_for(struct ecsctl *ctx, const struct ecsctl_watch *w, const char *const *ids, size_t n,
		    const char *status, long timeout_s)
{
	struct ecsctl_progress progress = { .f = ctx->err, .enabled = ctx->err_tty };
	int64_t start = ecs_now_mono_ms(), deadline = start + (int64_t)timeout_s * 1000;
	int64_t interval = ctx->poll_initial_ms > 0 ? ctx->poll_initial_ms : 1000;
	int64_t max = ctx->poll_max_ms > 0 ? ctx->poll_max_ms : 5000;
	char now[256] = "";
	int r;

	if (n == 0)
		return 0;
	if (n > ECSCTL_ARGS_MAX)
		return ecsctl_fail(ctx, -E2BIG, "cannot wait for more than %d %ss at once", ECSCTL_ARGS_MAX, w->kind);
	for (;;) {
		int64_t t;

		r = look(ctx, w, ids, n, status, now, sizeof(now));
		if (r != 0)
			break;
		t = ecs_now_mono_ms();
		if (t >= deadline) {
			r = -ETIME;
			break;
		}
		ecsctl_progress_update(&progress, "waiting for %s (%s) %llds", now, status ? status : "gone",
				       (long long)((t - start) / 1000));
		sleep_ms(interval < deadline - t ? interval : deadline - t);
		interval = interval * 3 / 2 < max ? interval * 3 / 2 : max;
	}
	ecsctl_progress_done(&progress);
	if (r == -ETIME)
		return ecsctl_fail(ctx, r, "timed out after %ld s waiting for %s to be %s", timeout_s, now,
				   status ? status : "gone");
	return r < 0 ? r : 0;
}
