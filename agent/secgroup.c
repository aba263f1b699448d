#include "secgroup.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"
#include "controller_call.h"
#include "instance_names.h"
#include "json.h"
#include "log.h"
#include "nf_secgroup.h"
#include "spec.h"
#include "store.h"
#include "util.h"

#define jget ecs_json_get
#define jstr(o, key) ecs_json_str(o, key, NULL)

/* A NIC whose groups are all unknown yet: ingress dropped, egress spoof-checked. */
#define ISOLATED_GROUP "ecs-isolated"

struct agent_secgroups {
	pthread_mutex_t lock;	      /* one apply at a time; guards everything below */
	struct json_object *view;     /* the controller's last answer (NULL: none yet) */
	long long generation;	      /* the view's, once applied */
	time_t applied_at;
	bool applied_once;	      /* since start: the first apply is a whole-host one */
	char *taps_key;		      /* the NICs of the last apply, sorted, one a line */
	char *sets_text;	      /* nf_render_sets of the last apply */
	struct json_object *rendered; /* tap -> its chains' text as last applied */
	struct json_object *status;   /* GET /v1/security's nics */
	pthread_mutex_t pull_lock;    /* one pull at a time */
};

static char *view_path(struct agent *a)
{
	return ecs_strdup_printf("%s/security.json", a->cfg.data_dir);
}

int agent_secgroup_init(struct agent *a)
{
	struct agent_secgroups *s = calloc(1, sizeof(*s));
	_cleanup_free_ char *path = view_path(a), *text = NULL;
	size_t len = 0;
	const char *perr;

	if (!s || !path) {
		free(s);
		return -ENOMEM;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->pull_lock, NULL);
	s->rendered = json_object_new_object();
	s->status = json_object_new_array();
	if (ecs_read_file(path, 64 * 1024 * 1024, &text, &len) == 0 && ecs_json_parse(text, len, &s->view, &perr) < 0) {
		log_warn("security view unreadable, waiting for the controller's", "path=%s error=\"%s\"", path, perr);
		s->view = NULL;
	}
	s->generation = ecs_json_int(s->view, "generation", 0);
	a->secgroups = s;
	return 0;
}

void agent_secgroup_free(struct agent *a)
{
	struct agent_secgroups *s = a->secgroups;

	if (!s)
		return;
	json_object_put(s->view);
	json_object_put(s->rendered);
	json_object_put(s->status);
	free(s->taps_key);
	free(s->sets_text);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->pull_lock);
	free(s);
	a->secgroups = NULL;
}

/* ---- the model: the view and the host's instances in libecsnf's terms ---- */

struct model {
	struct nf_host host;
	struct nf_group *groups;
	struct nf_nic *nics;
	char **taps;			 /* owned */
	const char ***nic_groups;	 /* per NIC, owned arrays of borrowed ids */
	struct nf_rule **rules;		 /* per group, owned */
	const char ***members;		 /* per group, owned arrays of borrowed addresses */
	struct json_object *instances;	 /* the store's documents (holds the strings) */
	struct json_object *status;	 /* for GET /v1/security */
	size_t n_alloc_nics, n_alloc_groups;
};

static void model_clear(struct model *m)
{
	for (size_t i = 0; i < m->n_alloc_nics; i++) {
		free(m->taps[i]);
		free(m->nic_groups[i]);
	}
	for (size_t i = 0; i < m->n_alloc_groups; i++) {
		free(m->rules[i]);
		free(m->members[i]);
	}
	free(m->groups);
	free(m->nics);
	free(m->taps);
	free(m->nic_groups);
	free(m->rules);
	free(m->members);
	json_object_put(m->instances);
	json_object_put(m->status);
	memset(m, 0, sizeof(*m));
}

static struct json_object *view_group(struct json_object *view, const char *id)
{
	struct json_object *groups = jget(view, "groups");

	for (size_t i = 0; groups && i < json_object_array_length(groups); i++) {
		struct json_object *g = json_object_array_get_idx(groups, i);

		if (streq(strempty(jstr(g, "group_id")), id))
			return g;
	}
	return NULL;
}

static int parse_rule(struct json_object *o, struct nf_rule *r)
{
	static const char *const protos[] = { "all", "tcp", "udp", "icmp", "gre" };
	const char *dir = strempty(jstr(o, "direction")), *proto = strempty(jstr(o, "ip_protocol"));
	const char *range = strempty(jstr(o, "port_range")), *policy = strempty(jstr(o, "policy"));
	const char *cidr = jstr(o, "cidr"), *peer = jstr(o, "peer_group_id");
	int from, to;
	bool known = false;

	*r = (struct nf_rule){ 0 };
	if (!streq(dir, "ingress") && !streq(dir, "egress"))
		return -EINVAL;
	r->direction = streq(dir, "ingress") ? NF_INGRESS : NF_EGRESS;
	for (size_t i = 0; i < ARRAY_SIZE(protos); i++)
		if (strcaseeq(proto, protos[i])) {
			r->proto = (enum nf_proto)i;
			known = true;
		}
	if (!known || sscanf(range, "%d/%d", &from, &to) != 2)
		return -EINVAL;
	r->port_from = from;
	r->port_to = to;
	r->cidr = cidr && *cidr ? cidr : NULL;
	r->peer_group_id = peer && *peer ? peer : NULL;
	if (!streq(policy, "accept") && !streq(policy, "drop"))
		return -EINVAL;
	r->policy = streq(policy, "accept") ? NF_ACCEPT : NF_DROP;
	r->priority = (int)ecs_json_int(o, "priority", 1);
	return 0;
}

static int add_group(struct model *m, struct json_object *g)
{
	size_t i = m->host.n_groups;
	struct json_object *rules = jget(g, "rules"), *members = jget(g, "members");
	size_t nr = rules ? json_object_array_length(rules) : 0, nm = members ? json_object_array_length(members) : 0;

	m->rules[i] = calloc(nr ? nr : 1, sizeof(**m->rules));
	m->members[i] = calloc(nm ? nm : 1, sizeof(**m->members));
	m->n_alloc_groups = i + 1;
	if (!m->rules[i] || !m->members[i])
		return -ENOMEM;
	for (size_t k = 0; k < nr; k++)
		if (parse_rule(json_object_array_get_idx(rules, k), &m->rules[i][k]) < 0)
			return -EINVAL;
	for (size_t k = 0; k < nm; k++)
		m->members[i][k] = json_object_get_string(json_object_array_get_idx(members, k));
	m->groups[i] = (struct nf_group){ .group_id = g ? jstr(g, "group_id") : ISOLATED_GROUP,
					  .rules = m->rules[i],
					  .n_rules = nr,
					  .members = m->members[i],
					  .n_members = nm };
	m->host.n_groups++;
	return 0;
}

/* The groups an instance is in: the view's word, else its spec's; *ret_ids NULL when
 * neither names any (not even an empty list). The array is the caller's; its strings are
 * the view's or the spec's. *ret_missing: some named group is not in the view (pull it). */
static int instance_groups(struct json_object *view, const char *id, const struct agent_instance_spec *spec,
			   const char ***ret_ids, size_t *ret_n, bool *ret_missing)
{
	struct json_object *list = jget(jget(view, "instances"), id);
	size_t n = list ? json_object_array_length(list) : spec->n_security_groups;
	const char **ids;

	*ret_ids = NULL;
	*ret_n = 0;
	if (!list && !spec->has_security_groups)
		return 0;
	ids = calloc(n + 1, sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		ids[i] = list ? json_object_get_string(json_object_array_get_idx(list, i)) : spec->security_group_ids[i];
		if (!view_group(view, ids[i]))
			*ret_missing = true;
	}
	*ret_ids = ids;
	*ret_n = n;
	return 0;
}

static int model_build(struct agent *a, struct json_object *view, struct model *m, bool *ret_missing)
{
	struct json_object *groups = jget(view, "groups");
	size_t n_groups = groups ? json_object_array_length(groups) : 0, n_nics = 0;
	bool isolated = false;
	int r;

	*m = (struct model){ .host.prefix = a->cfg.chain_prefix, .status = json_object_new_array() };
	r = agent_store_list(a->store, "instance", &m->instances);
	if (r < 0)
		return r;
	json_object_object_foreach(m->instances, id0, doc0)
	{
		(void)id0;
		(void)doc0;
		n_nics += AGENT_MAX_NICS;
	}
	m->groups = calloc(n_groups + 1, sizeof(*m->groups));
	m->rules = calloc(n_groups + 1, sizeof(*m->rules));
	m->members = calloc(n_groups + 1, sizeof(*m->members));
	m->nics = calloc(n_nics + 1, sizeof(*m->nics));
	m->taps = calloc(n_nics + 1, sizeof(*m->taps));
	m->nic_groups = calloc(n_nics + 1, sizeof(*m->nic_groups));
	if (!m->groups || !m->rules || !m->members || !m->nics || !m->taps || !m->nic_groups)
		return -ENOMEM;
	for (size_t i = 0; i < n_groups; i++) {
		r = add_group(m, json_object_array_get_idx(groups, i));
		if (r < 0)
			return r;
	}
	json_object_object_foreach(m->instances, id, doc)
	{
		/* The spec's strings point into m->instances, which the model keeps. */
		_cleanup_spec_ struct agent_instance_spec *spec = NULL;
		_cleanup_free_ const char **list = NULL;
		struct agent_err ignored = { 0 };
		size_t k = 0, n_list = 0;

		if (ecs_json_bool(doc, "deleting") || agent_instance_spec_of_doc(doc, &spec, &ignored) < 0)
			continue;
		if (instance_groups(view, id, spec, &list, &n_list, ret_missing) < 0)
			return -ENOMEM;
		if (!list)
			continue; /* no groups at all: not filtered (a standalone agent's) */
		for (size_t n = 0; n < spec->n_nics; n++) {
			size_t i = m->host.n_nics;
			const struct agent_spec_nic *nic = &spec->nics[n];
			struct json_object *st, *ids;

			m->taps[i] = agent_instance_tap_name(a, id, (unsigned)n);
			m->nic_groups[i] = calloc(n_list + 1, sizeof(char *));
			m->n_alloc_nics = i + 1;
			if (!m->taps[i] || !m->nic_groups[i])
				return -ENOMEM;
			k = 0;
			for (size_t g = 0; g < n_list; g++) {
				if (view_group(view, list[g]))
					m->nic_groups[i][k++] = list[g];
			}
			if (k == 0) {
				m->nic_groups[i][k++] = ISOLATED_GROUP;
				isolated = true;
			}
			m->nics[i] = (struct nf_nic){ .tap = m->taps[i], .mac = nic->mac, .ip = nic->ip,
						      .group_ids = m->nic_groups[i], .n_groups = k };
			m->host.n_nics++;
			st = json_object_new_object();
			ecs_jb_str(st, "instance_id", id);
			ecs_jb_str(st, "tap", m->taps[i]);
			ecs_jb_str(st, "ip", nic->ip);
			ecs_jb_str(st, "mac", nic->mac);
			ids = json_object_new_array();
			for (size_t g = 0; g < k; g++)
				json_object_array_add(ids, json_object_new_string(m->nic_groups[i][g]));
			json_object_object_add(st, "group_ids", ids);
			json_object_array_add(m->status, st);
		}
	}
	if (isolated) {
		r = add_group(m, NULL);
		if (r < 0)
			return r;
	}
	m->host.groups = m->groups;
	m->host.nics = m->nics;
	return 0;
}

static int tap_cmp(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* The NICs of a model, sorted, one a line: a change means the dispatch chains change. */
static char *taps_key(const struct model *m)
{
	_cleanup_free_ const char **t = calloc(m->host.n_nics + 1, sizeof(*t));
	char *text = NULL;
	size_t size = 0;
	FILE *f;

	if (!t)
		return NULL;
	for (size_t i = 0; i < m->host.n_nics; i++)
		t[i] = m->nics[i].tap;
	qsort(t, m->host.n_nics, sizeof(*t), tap_cmp);
	f = open_memstream(&text, &size);
	if (!f)
		return NULL;
	for (size_t i = 0; i < m->host.n_nics; i++)
		fprintf(f, "%s\n", t[i]);
	fclose(f);
	return text;
}

/* Compare what the kernel holds with the rendering. */
static bool kernel_matches(const struct model *m)
{
	_cleanup_free_ char *held = NULL, *want = NULL;
	int fwd = 0, inp = 0;

	if (nf_read_state(m->host.prefix, &held, &fwd, &inp) < 0 || nf_render_expected(&m->host, &want) < 0)
		return false;
	return fwd == 1 && inp == 1 && streq(held, want);
}

static int apply_locked(struct agent *a, struct json_object *view, bool verify)
{
	struct agent_secgroups *s = a->secgroups;
	struct model m;
	_cleanup_free_ char *key = NULL, *sets = NULL, *error = NULL;
	_cleanup_free_ const char **changed = NULL;
	struct json_object *rendered = json_object_new_object();
	size_t n_changed = 0;
	bool missing = false, full;
	int r;

	r = model_build(a, view, &m, &missing);
	if (r < 0)
		goto out;
	if (m.host.n_nics == 0 && !s->taps_key) {
		/* Nothing to enforce and nothing enforced by this agent yet: make no chains (but
		 * count the view as applied, or every heartbeat would pull it again). */
		s->applied_once = true;
		r = 0;
		goto out;
	}
	r = nf_host_validate(&m.host, &error);
	if (r < 0) {
		log_error("security groups not applied: the view is invalid", "error=\"%s\"", strempty(error));
		goto out;
	}
	key = taps_key(&m);
	r = nf_render_sets(&m.host, &sets);
	changed = calloc(m.host.n_nics + 1, sizeof(*changed));
	if (!key || r < 0 || !changed) {
		r = r < 0 ? r : -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < m.host.n_nics; i++) {
		const char *tap = m.nics[i].tap;
		char *text = NULL;

		r = nf_render_filter(&m.host, &tap, 1, false, 0, 0, NULL, 0, &text);
		if (r < 0)
			goto out;
		if (!streq(strempty(ecs_json_str(s->rendered, tap, NULL)), text))
			changed[n_changed++] = tap;
		json_object_object_add(rendered, tap, json_object_new_string(text));
		free(text);
	}
	full = !s->applied_once || !streq(strempty(s->taps_key), key);
	if (full)
		r = m.host.n_nics ? nf_apply_host(&m.host) : nf_remove_all(m.host.prefix);
	else if (n_changed || !streq(strempty(s->sets_text), sets))
		r = nf_apply_nics(&m.host, changed, n_changed);
	if (r == 0 && verify && m.host.n_nics && !kernel_matches(&m)) {
		log_warn("security group rules differ from the kernel's, applying all again", NULL);
		r = nf_apply_host(&m.host);
	}
	if (r < 0) {
		log_error("security groups not applied", "nics=%zu error=%s", m.host.n_nics, strerror(-r));
		/* Next time, all again. */
		s->applied_once = false;
		goto out;
	}
	if (full || n_changed)
		log_info("security groups applied", "nics=%zu changed=%zu whole_host=%s generation=%lld", m.host.n_nics,
			 full ? m.host.n_nics : n_changed, full ? "yes" : "no", (long long)ecs_json_int(view, "generation", 0));
	s->applied_once = true;
	s->applied_at = time(NULL);
	free(s->taps_key);
	s->taps_key = TAKE_PTR(key);
	free(s->sets_text);
	s->sets_text = TAKE_PTR(sets);
	json_object_put(s->rendered);
	s->rendered = TAKE_PTR(rendered);
	json_object_put(s->status);
	s->status = TAKE_PTR(m.status);
out:
	json_object_put(rendered);
	model_clear(&m);
	if (missing && r == 0)
		r = -EAGAIN; /* applied, with some NIC isolated until its groups arrive */
	return r;
}

int agent_secgroup_apply(struct agent *a, bool verify)
{
	struct agent_secgroups *s = a->secgroups;
	int r;

	if (!s)
		return 0;
	pthread_mutex_lock(&s->lock);
	r = apply_locked(a, s->view, verify);
	pthread_mutex_unlock(&s->lock);
	return r == -EAGAIN ? 0 : r;
}

/* The controller's answer, checked for shape (libecsnf checks the contents). */
static bool view_shape_ok(struct json_object *v)
{
	struct json_object *groups = jget(v, "groups"), *inst = jget(v, "instances");

	if (!json_object_is_type(v, json_type_object) || !json_object_is_type(jget(v, "generation"), json_type_int) ||
	    !json_object_is_type(groups, json_type_array) || !json_object_is_type(inst, json_type_object))
		return false;
	for (size_t i = 0; i < json_object_array_length(groups); i++) {
		struct json_object *g = json_object_array_get_idx(groups, i);

		if (!json_object_is_type(jget(g, "group_id"), json_type_string) ||
		    !json_object_is_type(jget(g, "rules"), json_type_array) ||
		    !json_object_is_type(jget(g, "members"), json_type_array))
			return false;
	}
	json_object_object_foreach(inst, id, list)
	{
		(void)id;
		if (!json_object_is_type(list, json_type_array))
			return false;
	}
	return true;
}

int agent_secgroup_sync(struct agent *a, long long *ret_generation)
{
	struct agent_secgroups *s = a->secgroups;
	struct json_object *view = NULL;
	long status = 0;
	long long gen;
	int r;

	if (!s || !*a->cfg.controller_url)
		return -ENOTCONN;
	pthread_mutex_lock(&s->pull_lock);
	r = agent_controller_call(a, "GET", "/agent/v1/security-groups", NULL, &status, &view);
	if (r == 0 && (status != 200 || !view_shape_ok(view))) {
		log_warn("security groups: the controller's view was refused", "status=%ld", status);
		r = -EPROTO;
	}
	if (r < 0) {
		json_object_put(view);
		pthread_mutex_unlock(&s->pull_lock);
		return r;
	}
	gen = ecs_json_int(view, "generation", 0);
	pthread_mutex_lock(&s->lock);
	r = apply_locked(a, view, false);
	if (r == 0 || r == -EAGAIN) {
		_cleanup_free_ char *path = view_path(a);
		const char *text = json_object_to_json_string_ext(view, JSON_C_TO_STRING_PLAIN);

		/* Kept for a restart without the controller; losing it costs only a pull. */
		if (path && ecs_write_file_atomic(path, text, strlen(text), 0600) < 0)
			log_warn("security view not saved", "path=%s", path);
		json_object_put(s->view);
		s->view = json_object_get(view);
		s->generation = gen;
		r = 0;
	}
	pthread_mutex_unlock(&s->lock);
	pthread_mutex_unlock(&s->pull_lock);
	json_object_put(view);
	if (r == 0 && ret_generation)
		*ret_generation = gen;
	return r;
}

void agent_secgroup_generation_seen(struct agent *a, long long generation)
{
	struct agent_secgroups *s = a->secgroups;
	long long have;

	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	have = s->view && s->applied_once ? s->generation : -1;
	pthread_mutex_unlock(&s->lock);
	if (have != generation)
		agent_secgroup_sync(a, NULL);
}

int agent_secgroup_prepare(struct agent *a, const struct agent_instance_spec *spec)
{
	struct agent_secgroups *s = a->secgroups;
	bool missing = false;

	if (!s || !spec->has_security_groups || !*a->cfg.controller_url)
		return 0;
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < spec->n_security_groups; i++)
		if (!view_group(s->view, spec->security_group_ids[i]))
			missing = true;
	pthread_mutex_unlock(&s->lock);
	return missing ? agent_secgroup_sync(a, NULL) : 0;
}

struct json_object *agent_secgroup_status(struct agent *a)
{
	struct agent_secgroups *s = a->secgroups;
	struct json_object *o = json_object_new_object();

	pthread_mutex_lock(&s->lock);
	ecs_jb_int(o, "generation", s->generation);
	ecs_jb_int(o, "applied_at", s->applied_at);
	json_object_object_add(o, "nics", json_object_get(s->status));
	pthread_mutex_unlock(&s->lock);
	return o;
}
