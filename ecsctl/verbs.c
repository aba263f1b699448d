#include "verbs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "util.h"
#include "wait.h"

int ecsctl_flag_int(struct ecsctl *ctx, const struct ecsctl_args *a, const char *flag, long long min,
		    long long max, long long def, long long *ret)
{
	const char *s = ecsctl_args_get(a, flag);

	if (!s) {
		*ret = def;
		return 0;
	}
	if (ecs_parse_int64(s, min, max, ret) < 0)
		return ecsctl_usage_error(ctx, "--%s takes a whole number in %lld..%lld, not \"%s\"", flag, min, max,
					  s);
	return 0;
}

int ecsctl_flag_timeout(struct ecsctl *ctx, const struct ecsctl_args *a, long *ret)
{
	long long t;
	int r = ecsctl_flag_int(ctx, a, "timeout", 0, 7 * 24 * 3600, ECSCTL_WAIT_TIMEOUT_S, &t);

	if (r < 0)
		return r;
	*ret = (long)t;
	return 0;
}

int ecsctl_describe_all(struct ecsctl *ctx, const char *action, const struct ecs_kvlist *params,
			const char *outer, const char *inner, unsigned page_size, struct json_object **ret)
{
	struct ecs_kvlist p = ECS_KVLIST_INIT;
	struct json_object *all = json_object_new_array();
	char size[16], number[16];
	int r = 0;

	if (!all)
		return -ENOMEM;
	snprintf(size, sizeof(size), "%u", page_size);
	for (size_t i = 0; params && i < params->n; i++)
		if ((r = ecs_kvlist_add(&p, params->items[i].key, params->items[i].value)) < 0)
			goto fail;
	for (unsigned page = 1;; page++) {
		struct json_object *reply = NULL, *list;
		int64_t total;
		size_t n;

		snprintf(number, sizeof(number), "%u", page);
		if ((r = ecs_kvlist_set(&p, "PageNumber", number)) < 0 ||
		    (r = ecs_kvlist_set(&p, "PageSize", size)) < 0)
			goto fail;
		r = ecsctl_call(ctx, action, &p, &reply);
		if (r < 0)
			goto fail;
		list = ecsctl_reply_list(reply, outer, inner);
		if (!list) {
			json_object_put(reply);
			r = ecsctl_fail(ctx, -EBADMSG, "the reply to %s has no %s.%s list", action, outer, inner);
			goto fail;
		}
		n = json_object_array_length(list);
		total = ecs_json_int(reply, "TotalCount", -1);
		for (size_t j = 0; j < n; j++)
			json_object_array_add(all, json_object_get(json_object_array_get_idx(list, j)));
		json_object_put(reply);
		if (json_object_array_length(all) > ECSCTL_LIST_MAX) {
			r = ecsctl_fail(ctx, -E2BIG, "%s lists more than %d items", action, ECSCTL_LIST_MAX);
			goto fail;
		}
		/* The last page: short, empty, or everything counted. */
		if (n < page_size || (total >= 0 && json_object_array_length(all) >= (size_t)total))
			break;
	}
	ecs_kvlist_clear(&p);
	*ret = all;
	return 0;
fail:
	ecs_kvlist_clear(&p);
	json_object_put(all);
	return r;
}

int ecsctl_print_list(struct ecsctl *ctx, struct json_object *items, const char *outer, const char *inner,
		      const struct ecsctl_column *cols, size_t n_cols, const char *id_key)
{
	struct json_object *o;

	switch (ctx->output) {
	case ECSCTL_OUTPUT_JSON:
		o = json_object_new_object();
		if (!o)
			return -ENOMEM;
		ecs_jb_int(o, "TotalCount", (int64_t)json_object_array_length(items));
		json_object_object_add(ecs_jb_obj(o, outer), inner, json_object_get(items));
		ecsctl_print_json(ctx->out, o);
		json_object_put(o);
		return 0;
	case ECSCTL_OUTPUT_TEXT:
		return ecsctl_print_ids(ctx->out, items, id_key);
	default:
		return ecsctl_print_table(ctx->out, cols, n_cols, items);
	}
}

int ecsctl_print_created(struct ecsctl *ctx, struct json_object *reply, const char *path)
{
	_cleanup_free_ char *id = NULL;

	if (ctx->output == ECSCTL_OUTPUT_JSON) {
		ecsctl_print_json(ctx->out, reply);
		return 0;
	}
	id = ecsctl_field_text(reply, path);
	if (!id)
		return -ENOMEM;
	ecsctl_print_safe(ctx->out, id);
	fputc('\n', ctx->out);
	return 0;
}

void ecsctl_print_done(struct ecsctl *ctx, struct json_object *reply)
{
	if (ctx->output == ECSCTL_OUTPUT_JSON)
		ecsctl_print_json(ctx->out, reply);
}

int ecsctl_call_done(struct ecsctl *ctx, const char *action, struct ecs_kvlist *params)
{
	struct json_object *reply = NULL;
	int r = ecsctl_call(ctx, action, params, &reply);

	if (r >= 0)
		ecsctl_print_done(ctx, reply);
	json_object_put(reply);
	ecs_kvlist_clear(params);
	return r;
}

int ecsctl_param_from_flag(struct ecs_kvlist *params, const struct ecsctl_args *a, const char *flag,
			   const char *param)
{
	const char *v = ecsctl_args_get(a, flag);

	return v ? ecs_kvlist_add(params, param, v) : 0;
}

int ecsctl_params_from_flags(struct ecs_kvlist *params, const struct ecsctl_args *a, const char *const *pairs)
{
	int r;

	for (; pairs && pairs[0]; pairs += 2)
		if ((r = ecsctl_param_from_flag(params, a, pairs[0], pairs[1])) < 0)
			return r;
	return 0;
}

int ecsctl_list(struct ecsctl *ctx, const struct ecsctl_args *a, const struct ecsctl_listing *l,
		struct ecs_kvlist *params)
{
	struct ecs_kvlist own = ECS_KVLIST_INIT, *p = params ? params : &own;
	struct json_object *items = NULL;
	int r = ecsctl_params_from_flags(p, a, l->flag_params);

	if (r >= 0)
		r = ecsctl_describe_all(ctx, l->action, p, l->outer, l->inner, l->page_size, &items);
	if (r >= 0)
		r = ecsctl_print_list(ctx, items, l->outer, l->inner, l->cols, l->n_cols, l->id_key);
	json_object_put(items);
	ecs_kvlist_clear(p);
	return r;
}

int ecsctl_create(struct ecsctl *ctx, const struct ecsctl_args *a, const struct ecsctl_creation *c,
		  struct ecs_kvlist *params, long timeout_s)
{
	struct ecs_kvlist own = ECS_KVLIST_INIT, *p = params ? params : &own;
	struct json_object *reply = NULL;
	const char *id;
	int r = ecsctl_params_from_flags(p, a, c->flag_params);

	if (r >= 0)
		r = ecsctl_call(ctx, c->action, p, &reply);
	ecs_kvlist_clear(p);
	if (r < 0)
		goto out;
	r = ecsctl_print_created(ctx, reply, c->id_path);
	fflush(ctx->out);
	if (r < 0 || !c->watch || !ecsctl_args_bool(a, "wait"))
		goto out;
	id = ecs_json_str(reply, c->id_path, NULL);
	if (!id)
		r = ecsctl_fail(ctx, -EBADMSG, "the reply to %s has no %s", c->action, c->id_path);
	else
		r = ecsctl_wait_for(ctx, c->watch, &id, 1, c->status, timeout_s);
out:
	json_object_put(reply);
	return r;
}

int ecsctl_each_id(struct ecsctl *ctx, const struct ecsctl_args *a, const struct ecsctl_each *e)
{
	bool wait = e->watch && ecsctl_args_bool(a, "wait");
	long timeout = 0;
	int r;

	if (wait && (r = ecsctl_flag_timeout(ctx, a, &timeout)) < 0)
		return r;
	for (size_t i = 0; i < a->n_pos; i++) {
		struct ecs_kvlist p = ECS_KVLIST_INIT;

		r = ecs_kvlist_add(&p, e->id_param, a->pos[i]);
		if (r >= 0 && e->force_param && ecsctl_args_bool(a, "force"))
			r = ecs_kvlist_add(&p, e->force_param, "true");
		if (r >= 0)
			r = ecsctl_call_done(ctx, e->action, &p);
		ecs_kvlist_clear(&p);
		if (r < 0)
			return r;
	}
	fflush(ctx->out);
	return wait ? ecsctl_wait_for(ctx, e->watch, a->pos, a->n_pos, e->status, timeout) : 0;
}

int ecsctl_verb_run(struct ecsctl *ctx, const struct ecsctl_verb *v, const struct ecsctl_args *a)
{
	long timeout = 0;
	int r;

	if (v->run)
		return v->run(ctx, a);
	if (v->list)
		return ecsctl_list(ctx, a, v->list, NULL);
	if (v->each)
		return ecsctl_each_id(ctx, a, v->each);
	if (v->create->watch && (r = ecsctl_flag_timeout(ctx, a, &timeout)) < 0)
		return r;
	return ecsctl_create(ctx, a, v->create, NULL, timeout);
}

const char *ecsctl_verb_actions(const struct ecsctl_verb *v, char *buf, size_t size)
{
	if (v->actions)
		return v->actions;
	if (v->list)
		snprintf(buf, size, "%s (every page)", v->list->action);
	else if (v->each)
		snprintf(buf, size, "%s", v->each->action);
	else if (v->create && v->create->watch)
		snprintf(buf, size, "%s; %s with --wait", v->create->action, v->create->watch->action);
	else if (v->create)
		snprintf(buf, size, "%s", v->create->action);
	else
		return NULL;
	return buf;
}
