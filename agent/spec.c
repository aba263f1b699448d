#include "spec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "crypto.h"
#include "id.h"
#include "image.h"
#include "json.h"
#include "util.h"

static bool hostname_ok(const char *h)
{
	size_t n = strlen(h);

	if (n == 0 || n > 64 || h[0] == '-' || h[0] == '.')
		return false;
	return strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") == n;
}

/* The string items of an array, each checked by ok; false when one is not a string or not ok. */
static bool strings(struct json_object *arr, const char **out, size_t max, size_t *ret_n, bool (*ok)(const char *))
{
	size_t n = arr ? json_object_array_length(arr) : 0;

	for (size_t i = 0; i < n && i < max; i++) {
		struct json_object *v = json_object_array_get_idx(arr, i);

		if (!json_object_is_type(v, json_type_string) || !ok(json_object_get_string(v)))
			return false;
		out[i] = json_object_get_string(v);
	}
	*ret_n = n < max ? n : max;
	return true;
}

static void decode_disk(struct ecs_jreader *jr, struct json_object *o, const char *what, bool data,
			struct agent_spec_disk *d)
{
	struct ecs_jreader r;

	ecs_jr_init(&r, o);
	d->disk_id = ecs_jr_str(&r, "disk_id", ECS_JR_REQUIRED, 64, NULL);
	d->size_gib = (int)ecs_jr_int(&r, "size_gib", ECS_JR_REQUIRED, 1, AGENT_MAX_DISK_GIB, 0);
	d->snapshot_id = data ? ecs_jr_str(&r, "snapshot_id", 0, 64, NULL) : NULL;
	if (ecs_jr_finish(&r, true) < 0) {
		ecs_jr_fail(jr, r.rc, what, "%s: %s", what, r.message);
		return;
	}
	if (d->snapshot_id && !*d->snapshot_id)
		d->snapshot_id = NULL;
	if (!ecs_id_valid(ECS_ID_DISK, d->disk_id))
		ecs_jr_fail(jr, -EINVAL, what, "%s.disk_id: %s is not a disk id", what, d->disk_id);
	if (d->snapshot_id && !ecs_id_valid(ECS_ID_SNAPSHOT, d->snapshot_id))
		ecs_jr_fail(jr, -EINVAL, what, "%s.snapshot_id: %s is not a snapshot id", what, d->snapshot_id);
}

static void decode_nic(struct ecs_jreader *jr, struct json_object *o, const char *what, struct agent_spec_nic *n)
{
	struct ecs_jreader r;
	struct json_object *dns;

	ecs_jr_init(&r, o);
	n->mac = ecs_jr_str(&r, "mac", ECS_JR_REQUIRED, 17, NULL);
	n->ip = ecs_jr_str(&r, "ip", ECS_JR_REQUIRED, 15, NULL);
	n->prefix_len = (int)ecs_jr_int(&r, "prefix_len", ECS_JR_REQUIRED, 1, 32, 0);
	n->gateway = ecs_jr_str(&r, "gateway", 0, 15, NULL);
	dns = ecs_jr_array(&r, "dns", 0, AGENT_SPEC_MAX_DNS);
	if (ecs_jr_finish(&r, true) < 0) {
		ecs_jr_fail(jr, r.rc, what, "%s: %s", what, r.message);
		return;
	}
	if (!ecs_mac_unicast(n->mac))
		ecs_jr_fail(jr, -EINVAL, what, "%s.mac: %s is not a unicast MAC address", what, n->mac);
	if (!ecs_ipv4_valid(n->ip))
		ecs_jr_fail(jr, -EINVAL, what, "%s.ip: %s is not an IPv4 address", what, n->ip);
	if (n->gateway && !ecs_ipv4_valid(n->gateway))
		ecs_jr_fail(jr, -EINVAL, what, "%s.gateway: %s is not an IPv4 address", what, n->gateway);
	if (!strings(dns, n->dns, AGENT_SPEC_MAX_DNS, &n->n_dns, ecs_ipv4_valid))
		ecs_jr_fail(jr, -EINVAL, what, "%s.dns: every item must be an IPv4 address", what);
}

static bool group_ok(const char *g)
{
	return ecs_id_valid(ECS_ID_SECURITY_GROUP, g);
}

static bool key_ok(const char *k)
{
	size_t n = strlen(k);

	return n > 0 && n <= AGENT_SPEC_MAX_KEY_LEN && !strpbrk(k, "\r\n");
}

static void decode_fields(struct ecs_jreader *jr, struct agent_instance_spec *s)
{
	struct json_object *sys, *data, *nics, *keys, *groups;
	const char *ud;
	char what[48];

	s->instance_id = ecs_jr_str(jr, "instance_id", ECS_JR_REQUIRED, 64, NULL);
	s->hostname = ecs_jr_str(jr, "hostname", ECS_JR_REQUIRED, 64, NULL);
	s->vcpus = (int)ecs_jr_int(jr, "vcpus", ECS_JR_REQUIRED, 1, 64, 0);
	s->memory_mib = (int)ecs_jr_int(jr, "memory_mib", ECS_JR_REQUIRED, 64, 262144, 0);
	s->image_id = ecs_jr_str(jr, "image_id", ECS_JR_REQUIRED, 128, NULL);
	sys = ecs_jr_object(jr, "system_disk", ECS_JR_REQUIRED);
	data = ecs_jr_array(jr, "data_disks", 0, AGENT_MAX_DATA_DISKS);
	nics = ecs_jr_array(jr, "nics", ECS_JR_REQUIRED, AGENT_MAX_NICS);
	s->key_pair_name = ecs_jr_str(jr, "key_pair_name", 0, 128, NULL);
	groups = ecs_jr_array(jr, "security_group_ids", 0, NF_GROUPS_PER_NIC_MAX);
	keys = ecs_jr_array(jr, "public_keys", 0, AGENT_SPEC_MAX_KEYS);
	s->password_hash = ecs_jr_str(jr, "password_hash", 0, 256, NULL);
	ud = ecs_jr_str(jr, "user_data", 0, AGENT_MAX_USER_DATA * 4 / 3 + 4, NULL);
	s->start = ecs_jr_bool(jr, "start", 0, true);
	if (ecs_jr_finish(jr, true) < 0)
		return;
	if (!ecs_id_valid(ECS_ID_INSTANCE, s->instance_id))
		ecs_jr_fail(jr, -EINVAL, "instance_id", "instance_id: %s is not an instance id", s->instance_id);
	if (!hostname_ok(s->hostname))
		ecs_jr_fail(jr, -EINVAL, "hostname", "hostname: 1-64 letters, digits, '.' and '-'");
	if (!agent_image_id_valid(s->image_id))
		ecs_jr_fail(jr, -EINVAL, "image_id", "image_id: %s is not an image id", s->image_id);
	decode_disk(jr, sys, "system_disk", false, &s->system_disk);
	s->n_data_disks = data ? json_object_array_length(data) : 0;
	for (size_t i = 0; i < s->n_data_disks; i++) {
		snprintf(what, sizeof(what), "data_disks[%zu]", i);
		decode_disk(jr, json_object_array_get_idx(data, i), what, true, &s->data_disks[i]);
	}
	s->n_nics = json_object_array_length(nics);
	if (s->n_nics < 1)
		ecs_jr_fail(jr, -EINVAL, "nics", "nics: at least one NIC");
	for (size_t i = 0; i < s->n_nics; i++) {
		snprintf(what, sizeof(what), "nics[%zu]", i);
		decode_nic(jr, json_object_array_get_idx(nics, i), what, &s->nics[i]);
	}
	s->has_security_groups = groups != NULL;
	if (!strings(groups, s->security_group_ids, NF_GROUPS_PER_NIC_MAX, &s->n_security_groups, group_ok))
		ecs_jr_fail(jr, -EINVAL, "security_group_ids", "security_group_ids: every item must be a security group id");
	if (!strings(keys, s->public_keys, AGENT_SPEC_MAX_KEYS, &s->n_public_keys, key_ok))
		ecs_jr_fail(jr, -EINVAL, "public_keys", "public_keys: one-line OpenSSH keys, each ≤ %d",
			    AGENT_SPEC_MAX_KEY_LEN);
	if (s->password_hash && (s->password_hash[0] != '$' || strpbrk(s->password_hash, "\r\n\"")))
		ecs_jr_fail(jr, -EINVAL, "password_hash", "password_hash: a crypt(3) hash such as $6$...");
	if (ud && *ud) {
		if (ecs_base64_decode(ud, strlen(ud), &s->user_data, &s->user_data_len) < 0)
			ecs_jr_fail(jr, -EINVAL, "user_data", "user_data: not valid base64");
		else if (s->user_data_len > AGENT_MAX_USER_DATA)
			ecs_jr_fail(jr, -EINVAL, "user_data", "user_data: more than %d bytes", AGENT_MAX_USER_DATA);
	}
}

int agent_instance_spec_decode(struct json_object *json, struct agent_instance_spec **ret, struct agent_err *err)
{
	struct agent_instance_spec *s = calloc(1, sizeof(*s));
	struct ecs_jreader jr;

	if (!s)
		return agent_fail(err, -ENOMEM, 500, "InternalError", "out of memory");
	ecs_jr_init(&jr, json);
	decode_fields(&jr, s);
	if (jr.rc) {
		agent_instance_spec_free(s);
		return agent_fail(err, jr.rc, 400, jr.rc == -ENOENT ? "MissingParameter" : "InvalidParameter", "%s",
				  jr.message);
	}
	s->json = json_object_get(json);
	*ret = s;
	return 0;
}

int agent_instance_spec_of_doc(struct json_object *doc, struct agent_instance_spec **ret, struct agent_err *err)
{
	struct json_object *spec = NULL;

	if (!json_object_object_get_ex(doc, "spec", &spec))
		return agent_fail(err, -EINVAL, 500, "InternalError", "an instance document without a spec");
	return agent_instance_spec_decode(spec, ret, err);
}

void agent_instance_spec_free(struct agent_instance_spec *s)
{
	if (!s)
		return;
	json_object_put(s->json);
	free(s->user_data);
	free(s);
}
