/* spec.h: the instance spec, decoded once where it arrives (the create body, a modify, a
 * stored instance document) into a struct the rest of the agent reads: domain XML, config
 * drive, metadata, security groups and snapshots never look at JSON keys.
 *
 * The JSON (the agent API's create body; unknown fields refused):
 *   instance_id, hostname, vcpus, memory_mib, image_id,
 *   system_disk {disk_id, size_gib}, data_disks [{disk_id, size_gib, snapshot_id?}],
 *   nics [{mac, ip, prefix_len, gateway?, dns?}], key_pair_name?, security_group_ids?,
 *   public_keys?, password_hash?, user_data? (base64), start? (default true)
 * Every field is validated and bounded by agent_instance_spec_decode; the decoded struct
 * keeps a reference to the JSON, and its strings point into it (stored documents stay JSON
 * on disk and are decoded when loaded). */
#ifndef AGENT_SPEC_H
#define AGENT_SPEC_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "nf_secgroup.h"

#define AGENT_MAX_DATA_DISKS 16
#define AGENT_MAX_NICS 8
#define AGENT_MAX_USER_DATA 32768
#define AGENT_MAX_DISK_GIB 2048
#define AGENT_SPEC_MAX_KEYS 16
#define AGENT_SPEC_MAX_KEY_LEN 8192
#define AGENT_SPEC_MAX_DNS 4

struct agent_spec_disk {
	const char *disk_id;
	int size_gib;
	const char *snapshot_id; /* data disks; NULL: none */
};

struct agent_spec_nic {
	const char *mac, *ip;
	int prefix_len;
	const char *gateway; /* NULL: none */
	const char *dns[AGENT_SPEC_MAX_DNS];
	size_t n_dns;
};

struct agent_instance_spec {
	const char *instance_id, *hostname, *image_id;
	int vcpus, memory_mib;
	struct agent_spec_disk system_disk;
	struct agent_spec_disk data_disks[AGENT_MAX_DATA_DISKS];
	size_t n_data_disks;
	struct agent_spec_nic nics[AGENT_MAX_NICS]; /* at least one */
	size_t n_nics;
	/* Absent (standalone: not filtered) is not the same as empty (isolated). */
	bool has_security_groups;
	const char *security_group_ids[NF_GROUPS_PER_NIC_MAX];
	size_t n_security_groups;
	const char *key_pair_name;   /* NULL: none */
	const char *public_keys[AGENT_SPEC_MAX_KEYS];
	size_t n_public_keys;
	const char *password_hash;   /* crypt(3); NULL: none */
	uint8_t *user_data;	     /* decoded; NULL when none */
	size_t user_data_len;
	bool start;
	struct json_object *json; /* the spec as received (a reference) */
};

/* Decode and check every field (400 MissingParameter / InvalidParameter in err). */
int agent_instance_spec_decode(struct json_object *json, struct agent_instance_spec **ret, struct agent_err *err);
/* The spec of a stored instance document ({"spec": {...}, ...}). */
int agent_instance_spec_of_doc(struct json_object *doc, struct agent_instance_spec **ret, struct agent_err *err);
void agent_instance_spec_free(struct agent_instance_spec *s);

static inline void agent_instance_spec_freep(struct agent_instance_spec **s)
{
	agent_instance_spec_free(*s);
}
#define _cleanup_spec_ __attribute__((cleanup(agent_instance_spec_freep)))

#endif
