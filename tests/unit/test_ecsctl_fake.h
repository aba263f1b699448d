/* test_ecsctl_fake.h: a fake ECS endpoint for ecsctl's tests, on lib/http_server.
 *
 * Every request must carry the common parameters and a signature that ecs_rpc_verify
 * accepts with FAKE_SECRET (else 400 SignatureDoesNotMatch, counted in fake.bad); the
 * headers x-acs-action/x-acs-version must match. Each is logged as one line
 * "Action K=V K=V…" with the common parameters left out, in the order sent. It is answered
 * by, in order: a reply set for the action with fake_reply(); a small simulator of
 * instances, disks, snapshots and images (Describe* filter by ids and page); else
 * {"RequestId"}. Header-only: each test is one binary. */
#ifndef TEST_ECSCTL_FAKE_H
#define TEST_ECSCTL_FAKE_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "ecsctl.h"
#include "http_server.h"
#include "json.h"
#include "kv.h"
#include "log.h"
#include "run.h"
#include "sign.h"
#include "url.h"
#include "util.h"

#define FAKE_KEY_ID "AKfake"
#define FAKE_SECRET "fake-secret"
#define FAKE_MAX_REPLIES 16

struct fake_reply {
	char *action;
	int status;
	char *body;
	long delay_ms;
	int times; /* answers left; -1: for ever */
};

struct fake {
	struct ecs_http_server *srv;
	char endpoint[64];
	pthread_mutex_t lock;
	char *log;
	size_t log_size;
	FILE *logf;
	unsigned bad;		 /* requests that failed the checks */
	unsigned requests;
	struct ecs_kvlist nonces;
	char last_method[8];
	struct ecs_kvlist last_params; /* every parameter of the last request */
	struct fake_reply replies[FAKE_MAX_REPLIES];
	size_t n_replies;
	/* The simulator. */
	struct json_object *instances, *disks, *snapshots, *images;
	unsigned next_id;
};

static struct fake fake;

static const char *const fake_common[] = { "AccessKeyId",      "Action",	   "Format",	       "RegionId",
					   "SignatureMethod",  "SignatureNonce",   "SignatureVersion", "Timestamp",
					   "Version",	       "Signature" };

static inline bool fake_is_common(const char *k)
{
	for (size_t i = 0; i < ARRAY_SIZE(fake_common); i++)
		if (streq(k, fake_common[i]))
			return true;
	return false;
}

static inline void fake_error(struct ecs_http_response *resp, int status, const char *code, const char *msg)
{
	struct json_object *o = json_object_new_object();

	ecs_jb_str(o, "RequestId", "FAKE-REQUEST-ID");
	ecs_jb_str(o, "HostId", "127.0.0.1");
	ecs_jb_str(o, "Code", code);
	ecs_jb_str(o, "Message", msg);
	ecs_http_reply_json(resp, status, o);
	json_object_put(o);
}

/* ids from '["a","b"]' or "a,b"; NULL when absent. */
static inline struct json_object *fake_ids(const char *v)
{
	struct json_object *arr = NULL;
	const char *err;

	if (!v)
		return NULL;
	if (v[0] == '[') {
		if (ecs_json_parse(v, strlen(v), &arr, &err) < 0)
			return json_object_new_array();
		return arr;
	}
	arr = json_object_new_array();
	for (const char *p = v; *p;) {
		const char *c = strchr(p, ',');
		size_t n = c ? (size_t)(c - p) : strlen(p);

		json_object_array_add(arr, json_object_new_string_len(p, (int)n));
		p += n + (c ? 1 : 0);
	}
	return arr;
}

static inline bool fake_in(struct json_object *ids, const char *id)
{
	for (size_t i = 0; ids && i < json_object_array_length(ids); i++)
		if (streq(json_object_get_string(json_object_array_get_idx(ids, i)), id))
			return true;
	return false;
}

/* A Describe* over one of the simulator's arrays: ids, one equality filter, paging. */
static inline void fake_describe(struct ecs_http_response *resp, const struct ecs_kvlist *p, struct json_object *all,
			  const char *ids_param, const char *id_key, const char *filter_param, const char *filter_key,
			  const char *outer, const char *inner)
{
	struct json_object *ids = fake_ids(ecs_kvlist_get(p, ids_param));
	const char *filter = filter_param ? ecs_kvlist_get(p, filter_param) : NULL;
	struct json_object *o = json_object_new_object(), *list = ecs_jb_list(o, outer, inner);
	long long number = 1, size = 10;
	size_t total = 0;

	if (ecs_kvlist_get(p, "PageNumber"))
		ecs_parse_int64(ecs_kvlist_get(p, "PageNumber"), 1, 100000, &number);
	if (ecs_kvlist_get(p, "PageSize"))
		ecs_parse_int64(ecs_kvlist_get(p, "PageSize"), 1, 100, &size);
	for (size_t i = 0; i < json_object_array_length(all); i++) {
		struct json_object *row = json_object_array_get_idx(all, i);

		if (ids && !fake_in(ids, ecs_json_str(row, id_key, "")))
			continue;
		if (filter && !streq(ecs_json_str(row, filter_key, ""), filter))
			continue;
		if (total >= (size_t)((number - 1) * size) && total < (size_t)(number * size))
			json_object_array_add(list, json_object_get(row));
		total++;
	}
	ecs_jb_str(o, "RequestId", "FAKE-REQUEST-ID");
	ecs_jb_int(o, "TotalCount", (int64_t)total);
	ecs_jb_int(o, "PageNumber", number);
	ecs_jb_int(o, "PageSize", size);
	ecs_http_reply_json(resp, 200, o);
	json_object_put(o);
	json_object_put(ids);
}

static inline struct json_object *fake_find(struct json_object *all, const char *key, const char *id, size_t *ret_idx)
{
	for (size_t i = 0; all && i < json_object_array_length(all); i++) {
		struct json_object *row = json_object_array_get_idx(all, i);

		if (streq(ecs_json_str(row, key, ""), id)) {
			if (ret_idx)
				*ret_idx = i;
			return row;
		}
	}
	return NULL;
}

static inline struct json_object *fake_add_instance(const char *id, const char *status)
{
	struct json_object *o = json_object_new_object();
	char ip[32];

	snprintf(ip, sizeof(ip), "10.0.0.%zu", json_object_array_length(fake.instances) + 2);
	ecs_jb_str(o, "InstanceId", id);
	ecs_jb_str(o, "InstanceName", "web");
	ecs_jb_str(o, "Status", status);
	ecs_jb_str(o, "InstanceType", "ecs.t1.small");
	ecs_jb_str(o, "ImageId", "tiny");
	json_object_array_add(ecs_jb_list(o, "InnerIpAddress", "IpAddress"), json_object_new_string(ip));
	ecs_jb_str(o, "HostId", "host-1");
	ecs_jb_str(o, "ZoneId", "cn-local-a");
	ecs_jb_str(o, "KeyPairName", "k");
	ecs_jb_str(o, "CreationTime", "2026-11-23T02:29Z");
	json_object_array_add(fake.instances, o);
	return o;
}

static inline void fake_add_snapshot(const char *id, const char *disk, const char *status, const char *time,
			      const char *usage)
{
	struct json_object *o = json_object_new_object();

	ecs_jb_str(o, "SnapshotId", id);
	ecs_jb_str(o, "SnapshotName", "");
	ecs_jb_str(o, "SourceDiskId", disk);
	ecs_jb_int(o, "SourceDiskSize", 20);
	ecs_jb_str(o, "Status", status);
	ecs_jb_str(o, "Progress", streq(status, "accomplished") ? "100%" : "50%");
	ecs_jb_str(o, "CreationTime", time);
	ecs_jb_str(o, "Usage", usage);
	json_object_array_add(fake.snapshots, o);
}

static inline void fake_set_field(struct json_object *all, const char *key, const char *id, const char *field,
			   const char *value)
{
	struct json_object *row = fake_find(all, key, id, NULL);

	if (row)
		ecs_jb_str(row, field, value);
}

static inline void fake_simulate(const char *action, const struct ecs_kvlist *p, struct ecs_http_response *resp)
{
	struct json_object *o = json_object_new_object();
	char id[32];
	size_t idx;

	ecs_jb_str(o, "RequestId", "FAKE-REQUEST-ID");
	if (streq(action, "RunInstances")) {
		long long n = 1;
		struct json_object *set = ecs_jb_list(o, "InstanceIdSets", "InstanceIdSet");

		if (ecs_kvlist_get(p, "Amount"))
			ecs_parse_int64(ecs_kvlist_get(p, "Amount"), 1, 100, &n);
		for (long long i = 0; i < n; i++) {
			snprintf(id, sizeof(id), "i-fake%u", ++fake.next_id);
			fake_add_instance(id, "Running");
			json_object_array_add(set, json_object_new_string(id));
		}
	} else if (streq(action, "DescribeInstances")) {
		fake_describe(resp, p, fake.instances, "InstanceIds", "InstanceId", "Status", "Status", "Instances",
			      "Instance");
		goto out;
	} else if (streq(action, "StartInstance") || streq(action, "RebootInstance")) {
		fake_set_field(fake.instances, "InstanceId", ecs_kvlist_get(p, "InstanceId"), "Status", "Running");
	} else if (streq(action, "StopInstance")) {
		fake_set_field(fake.instances, "InstanceId", ecs_kvlist_get(p, "InstanceId"), "Status", "Stopped");
	} else if (streq(action, "DeleteInstance")) {
		if (fake_find(fake.instances, "InstanceId", ecs_kvlist_get(p, "InstanceId"), &idx))
			json_object_array_del_idx(fake.instances, idx, 1);
	} else if (streq(action, "DescribeZones")) {
		struct json_object *z = json_object_new_object();

		ecs_jb_str(z, "ZoneId", "cn-local-a");
		json_object_array_add(ecs_jb_list(o, "Zones", "Zone"), z);
	} else if (streq(action, "CreateDisk")) {
		struct json_object *d = json_object_new_object();

		snprintf(id, sizeof(id), "d-fake%u", ++fake.next_id);
		ecs_jb_str(d, "DiskId", id);
		ecs_jb_str(d, "Status", "Available");
		ecs_jb_int(d, "Size", 20);
		json_object_array_add(fake.disks, d);
		ecs_jb_str(o, "DiskId", id);
	} else if (streq(action, "DescribeDisks")) {
		fake_describe(resp, p, fake.disks, "DiskIds", "DiskId", "InstanceId", "InstanceId", "Disks", "Disk");
		goto out;
	} else if (streq(action, "AttachDisk")) {
		fake_set_field(fake.disks, "DiskId", ecs_kvlist_get(p, "DiskId"), "Status", "In_use");
	} else if (streq(action, "DetachDisk")) {
		fake_set_field(fake.disks, "DiskId", ecs_kvlist_get(p, "DiskId"), "Status", "Available");
	} else if (streq(action, "CreateSnapshot")) {
		snprintf(id, sizeof(id), "s-fake%u", ++fake.next_id);
		fake_add_snapshot(id, ecs_kvlist_get(p, "DiskId"), "accomplished", "2026-11-23T03:00:00Z", "none");
		ecs_jb_str(o, "SnapshotId", id);
	} else if (streq(action, "DescribeSnapshots")) {
		fake_describe(resp, p, fake.snapshots, "SnapshotIds", "SnapshotId", "DiskId", "SourceDiskId",
			      "Snapshots", "Snapshot");
		goto out;
	} else if (streq(action, "DeleteSnapshot")) {
		if (fake_find(fake.snapshots, "SnapshotId", ecs_kvlist_get(p, "SnapshotId"), &idx))
			json_object_array_del_idx(fake.snapshots, idx, 1);
	} else if (streq(action, "CreateImage") || streq(action, "ImportImage")) {
		struct json_object *m = json_object_new_object();

		snprintf(id, sizeof(id), "m-fake%u", ++fake.next_id);
		ecs_jb_str(m, "ImageId", id);
		ecs_jb_str(m, "Status", "Available");
		json_object_array_add(fake.images, m);
		ecs_jb_str(o, "ImageId", id);
	} else if (streq(action, "DescribeImages")) {
		fake_describe(resp, p, fake.images, "ImageId", "ImageId", NULL, NULL, "Images", "Image");
		goto out;
	} else if (streq(action, "CreateKeyPair")) {
		ecs_jb_str(o, "KeyPairName", ecs_kvlist_get(p, "KeyPairName"));
		ecs_jb_str(o, "KeyPairFingerPrint", "ab:cd");
		ecs_jb_str(o, "PrivateKeyBody",
			   "-----BEGIN OPENSSH PRIVATE KEY-----\nfake\n-----END OPENSSH PRIVATE KEY-----");
	} else if (streq(action, "ImportKeyPair")) {
		ecs_jb_str(o, "KeyPairName", ecs_kvlist_get(p, "KeyPairName"));
		ecs_jb_str(o, "KeyPairFingerPrint", "ab:cd");
	} else if (streq(action, "DescribeKeyPairs")) {
		ecs_jb_list(o, "KeyPairs", "KeyPair");
		ecs_jb_int(o, "TotalCount", 0);
	} else if (streq(action, "DescribeAutoSnapshotPolicyEx")) {
		ecs_jb_list(o, "AutoSnapshotPolicies", "AutoSnapshotPolicy");
		ecs_jb_int(o, "TotalCount", 0);
	} else if (streq(action, "CreateAutoSnapshotPolicy")) {
		ecs_jb_str(o, "AutoSnapshotPolicyId", "sp-fake");
	} else if (streq(action, "CreateLoadBalancer")) {
		ecs_jb_str(o, "LoadBalancerId", "lb-fake");
		ecs_jb_str(o, "Address", "10.240.0.9");
	} else if (streq(action, "DescribeLoadBalancers")) {
		ecs_jb_list(o, "LoadBalancers", "LoadBalancer");
		ecs_jb_int(o, "TotalCount", 0);
	} else if (streq(action, "DescribeHealthStatus")) {
		struct json_object *b = json_object_new_object();

		ecs_jb_int(b, "ListenerPort", 80);
		ecs_jb_str(b, "ServerId", "i-1");
		ecs_jb_str(b, "ServerHealthStatus", "normal");
		json_object_array_add(ecs_jb_list(o, "BackendServers", "BackendServer"), b);
	} else if (streq(action, "AllocatePublicIpAddress")) {
		ecs_jb_str(o, "IpAddress", "192.0.2.1");
	}
	ecs_http_reply_json(resp, 200, o);
out:
	json_object_put(o);
}

static inline void fake_handler(const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	struct ecs_kvlist p = ECS_KVLIST_INIT;
	const char *action, *ha = NULL, *hv = NULL;
	char *sts = NULL;
	struct fake_reply *rep = NULL;
	long delay = 0;

	for (size_t i = 0; i < req->query->n; i++)
		ecs_kvlist_add(&p, req->query->items[i].key, req->query->items[i].value);
	if (req->body_len)
		ecs_form_parse(req->body, req->body_len, 1000, &p);
	for (size_t i = 0; i < req->headers->n; i++) {
		if (strcaseeq(req->headers->items[i].key, "x-acs-action"))
			ha = req->headers->items[i].value;
		if (strcaseeq(req->headers->items[i].key, "x-acs-version"))
			hv = req->headers->items[i].value;
	}
	action = ecs_kvlist_get(&p, "Action");

	pthread_mutex_lock(&fake.lock);
	fake.requests++;
	snprintf(fake.last_method, sizeof(fake.last_method), "%s", req->method);
	ecs_kvlist_clear(&fake.last_params);
	for (size_t i = 0; i < p.n; i++)
		ecs_kvlist_add(&fake.last_params, p.items[i].key, p.items[i].value);
	if (ecs_rpc_verify(req->method, &p, FAKE_SECRET, &sts) < 0) {
		fake.bad++;
		pthread_mutex_unlock(&fake.lock);
		fake_error(resp, 400, "SignatureDoesNotMatch",
			   "Specified signature is not matched with our calculation. server string to sign is:x");
		free(sts);
		ecs_kvlist_clear(&p);
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(fake_common); i++)
		if (!ecs_kvlist_get(&p, fake_common[i]))
			fake.bad++;
	if (!streq(ecs_kvlist_get(&p, "AccessKeyId"), FAKE_KEY_ID) || !streq(ha, action) ||
	    !streq(hv, ecs_kvlist_get(&p, "Version")))
		fake.bad++;
	/* Each action under its API's version: SLB's 2014-05-15, ECS's 2014-05-26. */
	if (action && !streq(ecs_kvlist_get(&p, "Version"), ecsctl_action_version(action)))
		fake.bad++;
	if (ecs_kvlist_get_case(&fake.nonces, ecs_kvlist_get(&p, "SignatureNonce")))
		fake.bad++;
	ecs_kvlist_add(&fake.nonces, strempty(ecs_kvlist_get(&p, "SignatureNonce")), "");
	fprintf(fake.logf, "%s", strempty(action));
	for (size_t i = 0; i < p.n; i++)
		if (!fake_is_common(p.items[i].key))
			fprintf(fake.logf, " %s=%s", p.items[i].key, p.items[i].value);
	fputc('\n', fake.logf);
	fflush(fake.logf);
	for (size_t i = 0; i < fake.n_replies; i++) {
		if (streq(fake.replies[i].action, action) && fake.replies[i].times != 0) {
			rep = &fake.replies[i];
			if (rep->times > 0)
				rep->times--;
			break;
		}
	}
	if (rep) {
		delay = rep->delay_ms;
		ecs_http_reply(resp, rep->status, "application/json", rep->body, strlen(rep->body));
	} else {
		fake_simulate(strempty(action), &p, resp);
	}
	pthread_mutex_unlock(&fake.lock);
	if (delay)
		usleep((useconds_t)delay * 1000);
	ecs_kvlist_clear(&p);
}

/* Answer action with status and body (times: how often; -1 for ever), after delay_ms. */
static inline void fake_set_reply(const char *action, int status, const char *body, long delay_ms, int times)
{
	struct fake_reply *r = &fake.replies[fake.n_replies++];

	r->action = strdup(action);
	r->status = status;
	r->body = strdup(body);
	r->delay_ms = delay_ms;
	r->times = times;
}

static inline void fake_reset(void)
{
	pthread_mutex_lock(&fake.lock);
	for (size_t i = 0; i < fake.n_replies; i++) {
		free(fake.replies[i].action);
		free(fake.replies[i].body);
	}
	fake.n_replies = 0;
	fake.bad = 0;
	fake.requests = 0;
	fake.next_id = 0;
	ecs_kvlist_clear(&fake.nonces);
	ecs_kvlist_clear(&fake.last_params);
	if (fake.logf)
		fclose(fake.logf);
	free(fake.log);
	fake.log = NULL;
	fake.logf = open_memstream(&fake.log, &fake.log_size);
	json_object_put(fake.instances);
	json_object_put(fake.disks);
	json_object_put(fake.snapshots);
	json_object_put(fake.images);
	fake.instances = json_object_new_array();
	fake.disks = json_object_new_array();
	fake.snapshots = json_object_new_array();
	fake.images = json_object_new_array();
	pthread_mutex_unlock(&fake.lock);
}

/* The requests logged so far (a copy). */
static inline char *fake_log(void)
{
	char *s;

	pthread_mutex_lock(&fake.lock);
	fflush(fake.logf);
	s = strdup(fake.log ? fake.log : "");
	pthread_mutex_unlock(&fake.lock);
	return s;
}

static inline int fake_start(void)
{
	static const struct ecs_http_route routes[] = { { NULL, "/", false, fake_handler } };
	struct ecs_http_server_config cfg = { .name = "fake-ecs", .threads = 2 };
	int r;

	ecs_log_set_level(ECS_LOG_WARN);
	pthread_mutex_init(&fake.lock, NULL);
	fake_reset();
	r = ecs_http_server_start(&cfg, routes, ARRAY_SIZE(routes), &fake.srv);
	if (r < 0)
		return r;
	snprintf(fake.endpoint, sizeof(fake.endpoint), "http://127.0.0.1:%u/", ecs_http_server_port(fake.srv));
	return 0;
}

static inline void fake_stop(void)
{
	ecs_http_server_stop(fake.srv);
	fake.srv = NULL;
	fake_reset();
	fclose(fake.logf);
	fake.logf = NULL;
	free(fake.log);
	fake.log = NULL;
	json_object_put(fake.instances);
	json_object_put(fake.disks);
	json_object_put(fake.snapshots);
	json_object_put(fake.images);
	fake.instances = fake.disks = fake.snapshots = fake.images = NULL;
	pthread_mutex_destroy(&fake.lock);
}

/* Running ecsctl in-process: argv from a string split at spaces ('…' groups words). */
struct run_result {
	int status;
	char *out;
	char *err;
};

static inline int split_words(const char *line, char **argv, int max)
{
	static char buf[4096];
	char *w = buf;
	int n = 0;

	argv[n++] = (char *)"ecsctl";
	snprintf(buf, sizeof(buf), "%s", line);
	while (*w && n < max - 1) {
		char *start;

		while (*w == ' ')
			w++;
		if (!*w)
			break;
		if (*w == '\'') {
			start = ++w;
			while (*w && *w != '\'')
				w++;
		} else {
			start = w;
			while (*w && *w != ' ')
				w++;
		}
		if (*w)
			*w++ = '\0';
		argv[n++] = start;
	}
	argv[n] = NULL;
	return n;
}

/* Run one command line; tty says whether stdout and stderr count as terminals. */
static inline struct run_result run_ecsctl(const char *line, bool tty)
{
	struct run_result res = { 0 };
	size_t olen, elen;
	FILE *out = open_memstream(&res.out, &olen), *err = open_memstream(&res.err, &elen);
	struct ecsctl ctx;
	char *argv[64];
	int argc = split_words(line, argv, ARRAY_SIZE(argv));

	ecsctl_init(&ctx, out, err);
	ctx.out_tty = ctx.err_tty = tty;
	ctx.poll_initial_ms = 20;
	ctx.poll_max_ms = 50;
	res.status = ecsctl_main(&ctx, argc, argv);
	ecsctl_done(&ctx);
	fclose(out);
	fclose(err);
	return res;
}

static inline void run_result_clear(struct run_result *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

/* Run a command line (no tty): it exits with status and, unless err_has is NULL, says
 * err_has on stderr. */
static inline void expect_run(const char *line, int status, const char *err_has)
{
	struct run_result res = run_ecsctl(line, false);

	if (res.status != status)
		fail_msg("ecsctl %s: exit %d, want %d; stderr: %s", line, res.status, status, res.err);
	if (err_has && !strstr(res.err, err_has))
		fail_msg("ecsctl %s: stderr lacks \"%s\": %s", line, err_has, res.err);
	run_result_clear(&res);
}

/* Point ecsctl at the fake through the environment, with HOME a fresh directory. */
static char fake_home[64];

static inline void fake_env(void)
{
	snprintf(fake_home, sizeof(fake_home), "/tmp/ecsctl-test-XXXXXX");
	if (!mkdtemp(fake_home))
		abort();
	setenv("HOME", fake_home, 1);
	setenv("ECSCTL_ENDPOINT", fake.endpoint, 1);
	setenv("ECSCTL_ACCESS_KEY_ID", FAKE_KEY_ID, 1);
	setenv("ECSCTL_ACCESS_KEY_SECRET", FAKE_SECRET, 1);
	unsetenv("ECSCTL_CONFIG");
	unsetenv("ECSCTL_PROFILE");
	unsetenv("ECSCTL_REGION");
	unsetenv("ECSCTL_ZONE");
	unsetenv("ECSCTL_REQUEST_TIMEOUT");
}

/* Write text to the file name in fake_home; its path in path. */
static inline void fake_write_home(const char *name, const char *text, char *path, size_t size)
{
	FILE *f;

	snprintf(path, size, "%s/%s", fake_home, name);
	f = fopen(path, "w");
	if (!f)
		abort();
	fputs(text, f);
	fclose(f);
}

static inline void fake_env_done(void)
{
	ecs_remove_tree(fake_home);
}

/* The group set-up and tear-down of most ecsctl tests: the fake running, ecsctl pointed at it. */
static inline int fake_group_setup(void **state)
{
	(void)state;
	if (fake_start() < 0)
		return -1;
	fake_env();
	return 0;
}

static inline int fake_group_teardown(void **state)
{
	(void)state;
	fake_env_done();
	fake_stop();
	return 0;
}

#endif
