/* keys.h: AccessKey pairs, asked of the controller (GET /storage/v1/keys/AK, signed with
 * the host key) and kept for ttl_s seconds (an unknown key for 5 s), so the pair an
 * account uses for ECS works here too, and a deleted key stops working within ttl_s. */
#ifndef OSS_KEYS_H
#define OSS_KEYS_H

#define OSS_KEYS_CACHE_MAX 4096

struct oss_key {
	char account_id[64];
	char secret[128];
};

struct oss_keys;

int oss_keys_new(const char *controller_url, const char *host_key, unsigned ttl_s, struct oss_keys **ret);
void oss_keys_free(struct oss_keys *k);
/* 0 with *ret; -ENOENT for a key the controller does not know; -EIO when it cannot be asked. */
int oss_keys_get(struct oss_keys *k, const char *access_key_id, struct oss_key *ret);

#endif
